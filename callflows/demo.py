"""Realistic call flows for the demo numbers, so every demo action URL answers from the start.

Callers who withhold their number hear a polite refusal; public holidays and closed dates take
a voicemail after a holiday notice; business hours (Mon-Fri 9:00-18:00) transfer to the front
desk; outside hours, a recorded greeting then voicemail. The Japanese demo company is a dental
clinic, so its flow adds what a clinic needs: a VIP list put straight through, a lunch break,
Saturday mornings, and the New Year holidays as closed dates, all named in Japanese.
Idempotent per number.
"""

import datetime
from dataclasses import dataclass
from pathlib import Path

from django.core.files.base import ContentFile
from django.utils import timezone

from callflows.flows.documents import Action, Condition, FlowDocument
from callflows.flows.services import flow_save
from callflows.models import AudioFile, CallerList, CallFlow, ClosedDate, TtsScript
from dins.models import Subscription
from portal.models import Membership, Role, Tenant, User
from portal.names import name_key

DEMO_MP3 = Path(__file__).resolve().parent / "demo_assets" / "greeting-ja.mp3"
FRONT_DESK = "+81362345678"  # a Tokyo (03) number in the demo company's own words
VIP_CALLERS = ["+819012345678", "+818011112222"]
MON_FRI = [0, 1, 2, 3, 4]

ANONYMOUS = (
    "ja",
    "恐れ入りますが、番号を非通知にしたお電話はお受けできません。"
    "番号を通知しておかけ直しください。",
)


@dataclass(frozen=True)
class _Names:
    """The demo's asset names and texts in one company language."""

    audio: str
    scripts: dict[str, tuple[str, tuple[str, str]]]  # key → (name, (language, text))


NAMES = {
    "en": _Names(
        audio="Demo greeting",
        scripts={
            "holiday": (
                "Demo holiday",
                ("ja", "本日は休業日です。発信音の後にお名前とご用件をお話しください。"),
            ),
            "anonymous": ("Demo anonymous", ANONYMOUS),
            "after_hours": (
                "Demo after hours",
                ("en", "Thank you for calling. We are closed now; please leave a message."),
            ),
        },
    ),
    "ja": _Names(
        audio="時間外の録音案内",
        scripts={
            "holiday": (
                "休業日のご案内",
                ("ja", "本日は休診日です。発信音の後にお名前とご用件をお話しください。"),
            ),
            "anonymous": ("非通知のお断り", ANONYMOUS),
            "after_hours": (
                "昼休みのご案内",
                (
                    "ja",
                    "ただいま昼休み中です。午後は1時から受け付けます。"
                    "発信音の後にメッセージをどうぞ。",
                ),
            ),
        },
    ),
}


def _assets(tenant: Tenant, owner: User) -> tuple[AudioFile, dict[str, TtsScript]]:
    names = NAMES["ja" if tenant.language == "ja" else "en"]
    audio = AudioFile.objects.filter(label=names.audio).first()
    if audio is None:
        data = DEMO_MP3.read_bytes()
        audio = AudioFile(
            tenant=tenant,
            label=names.audio,
            name_key=name_key(names.audio),
            original_name=DEMO_MP3.name,
            size_bytes=len(data),
            duration_seconds=2.0,
            uploaded_by=owner,
        )
        audio.file.save(f"{audio.public_id}.mp3", ContentFile(data), save=False)
        audio.save()
    scripts = {}
    for key, (name, (language, text)) in names.scripts.items():
        scripts[key], _created = TtsScript.objects.get_or_create(
            name=name,
            defaults={
                "language": language,
                "text": text,
                "tenant": tenant,
                "name_key": name_key(name),
            },
        )
    return audio, scripts


def _say(script: TtsScript) -> Action:
    return {"type": "say", "script": str(script.code)}


def _hours(days: list[int], start: str, end: str) -> Condition:
    return {"type": "hours", "weekdays": days, "start": start, "end": end}


def _clinic_document(
    tenant: Tenant, audio: AudioFile, scripts: dict[str, TtsScript]
) -> FlowDocument:
    """The dental clinic's flow: VIPs first, then holidays, the lunch break, opening hours."""
    vip, _created = CallerList.objects.get_or_create(
        name="VIP", defaults={"numbers": VIP_CALLERS, "tenant": tenant, "name_key": name_key("VIP")}
    )
    today = timezone.localdate()
    if not ClosedDate.objects.exists():
        ClosedDate.objects.create(
            tenant=tenant,
            date=datetime.date(today.year, 12, 29),
            end_date=datetime.date(today.year + 1, 1, 3),
            note="年末年始",
        )
    front_desk: Action = {"type": "transfer", "number": FRONT_DESK}
    return {
        "rules": [
            {"label": "非通知", "when": {"type": "anonymous"}, "then": _say(scripts["anonymous"])},
            {
                "label": "VIP",
                "when": {"type": "caller_list", "list": str(vip.code)},
                "then": front_desk,
            },
            {
                "label": "祝日・休診日",
                "when": {"type": "holiday"},
                "then": {"type": "voicemail", "greeting": _say(scripts["holiday"])},
            },
            {
                "label": "昼休み",
                "when": _hours(MON_FRI, "12:00", "13:00"),
                "then": {"type": "voicemail", "greeting": _say(scripts["after_hours"])},
            },
            {"label": "診療時間", "when": _hours(MON_FRI, "09:00", "18:00"), "then": front_desk},
            {"label": "土曜午前", "when": _hours([5], "09:00", "12:00"), "then": front_desk},
        ],
        "default": {
            "type": "voicemail",
            "greeting": {"type": "playback", "audio": str(audio.code)},
        },
    }


def _office_document(audio: AudioFile, scripts: dict[str, TtsScript]) -> FlowDocument:
    return {
        "rules": [
            {"label": "非通知", "when": {"type": "anonymous"}, "then": _say(scripts["anonymous"])},
            {
                "label": "祝日・休業日",
                "when": {"type": "holiday"},
                "then": {"type": "voicemail", "greeting": _say(scripts["holiday"])},
            },
            {
                "label": "営業時間",
                "when": _hours(MON_FRI, "09:00", "18:00"),
                "then": {"type": "transfer", "number": FRONT_DESK},
            },
        ],
        "default": {
            "type": "voicemail",
            "greeting": {"type": "playback", "audio": str(audio.code)},
        },
    }


def demo_flows_seed(*, tenant, owner) -> int:
    """Give each of the active tenant's numbers without a flow the demo flow."""
    audio, scripts = _assets(tenant, owner)
    if tenant.language == "ja":
        document = _clinic_document(tenant, audio, scripts)
    else:
        document = _office_document(audio, scripts)
    seeded = 0
    for subscription in Subscription.objects.exclude(
        pk__in=CallFlow.objects.values_list("subscription_id", flat=True)
    ):
        flow_save(subscription=subscription, document=document, by=owner, note="demo")
        seeded += 1
    return seeded


def demo_flows_seed_for_owner() -> int:
    """The active demo tenant's flows, made by its owner (none without an owner)."""
    owner = Membership.objects.filter(role=Role.OWNER).select_related("user", "tenant").first()
    if owner is None:
        return 0
    return demo_flows_seed(tenant=owner.tenant, owner=owner.user)
