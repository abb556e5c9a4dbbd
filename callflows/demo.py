"""Realistic call flows for the demo numbers, so every demo action URL answers from the start.

Business hours (Mon-Fri 9:00-18:00) transfer to the front desk; public holidays and closed
dates take a voicemail with a Japanese greeting; callers who withhold their number hear a polite
refusal; outside hours, a recorded greeting then voicemail. Idempotent per number.
"""

from pathlib import Path

from django.core.files.base import ContentFile

from callflows.models import AudioFile, CallFlow, TtsScript
from callflows.services import flow_save
from dins.models import Subscription

DEMO_MP3 = Path(__file__).resolve().parent / "demo_assets" / "greeting-ja.mp3"
FRONT_DESK = "+81362345678"  # a Tokyo (03) number in the demo company's own words

SCRIPTS = {
    "holiday": ("ja", "本日は休業日です。発信音の後にお名前とご用件をお話しください。"),
    "anonymous": (
        "ja",
        "恐れ入りますが、番号を非通知にしたお電話はお受けできません。"
        "番号を通知しておかけ直しください。",
    ),
    "after_hours": ("en", "Thank you for calling. We are closed now; please leave a message."),
}


def _assets(tenant, owner):
    audio = AudioFile.objects.filter(label="Demo greeting").first()
    if audio is None:
        data = DEMO_MP3.read_bytes()
        audio = AudioFile(
            tenant=tenant,
            label="Demo greeting",
            original_name=DEMO_MP3.name,
            size_bytes=len(data),
            duration_seconds=2.0,
            uploaded_by=owner,
        )
        audio.file.save(f"{audio.public_id}.mp3", ContentFile(data), save=False)
        audio.save()
    scripts = {}
    for key, (language, text) in SCRIPTS.items():
        scripts[key], _created = TtsScript.objects.get_or_create(
            name=f"Demo {key.replace('_', ' ')}",
            defaults={"language": language, "text": text, "tenant": tenant},
        )
    return audio, scripts


def demo_flows_seed(*, tenant, owner) -> int:
    """Give each of the active tenant's numbers without a flow the demo flow."""
    audio, scripts = _assets(tenant, owner)
    document = {
        "rules": [
            {
                "label": "非通知",
                "when": {"type": "anonymous"},
                "then": {"type": "say", "script": str(scripts["anonymous"].code)},
            },
            {
                "label": "祝日・休業日",
                "when": {"type": "holiday"},
                "then": {
                    "type": "voicemail",
                    "greeting": {"type": "say", "script": str(scripts["holiday"].code)},
                },
            },
            {
                "label": "営業時間",
                "when": {
                    "type": "hours",
                    "weekdays": [0, 1, 2, 3, 4],
                    "start": "09:00",
                    "end": "18:00",
                },
                "then": {"type": "transfer", "number": FRONT_DESK},
            },
        ],
        "default": {
            "type": "voicemail",
            "greeting": {"type": "playback", "audio": str(audio.code)},
        },
    }
    seeded = 0
    for subscription in Subscription.objects.exclude(
        pk__in=CallFlow.objects.values_list("subscription_id", flat=True)
    ):
        flow_save(subscription=subscription, document=document, by=owner, note="demo")
        seeded += 1
    return seeded
