"""Japanese as a first language: every page, rendered in Japanese, has no English left in it.

The catalogue can be 100 % translated and pages still show English: strings built in Python
without gettext, codes shown raw (rule names, carrier commands, audit actions), units. This
walks every page of the URLconf a member can open (as the isolation test does), with a company
whose own data is Japanese, and fails on any English word in what a person sees (text, and
the placeholder, title and aria-label attributes) that is not a product name.

Text that is English on purpose says so with ``lang="en"`` (the language switch, an English
TTS script, the carrier's own error message), and raw carrier commands sit in ``<code>``
behind a details toggle; both are left out.
"""

import datetime
import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from callflows.models import CallerList, CallFlow, CallLog, ClosedDate, FlowVersion
from callflows.services import flow_save
from callflows.tests.factories import make_audio
from dins.models import OutboundCall, Status
from dins.tests.factories import SubscriptionFactory
from portal.models import Alert, AlertKind, AuditEvent, Invitation, Membership, Role
from portal.scoping import tenant_scope
from portal.tests.test_isolation import _uuid_kwargs, tenant_routes

# Names of products, protocols, file formats and units, the same in both languages.
PRODUCT_WORDS = {"DIN", "Portal", "Xoxzo", "MP3", "URL", "CSV", "ID", "TTS", "IP", "E.164"}
PRODUCT_WORDS |= {"VIP", "KB", "MB", "GB", "WAV", "M4A"}
NOT_PAGES = {"healthz", "language_switch", "logout", "call_log_export"}
SKIPPED_ELEMENTS = {"script", "style", "code", "pre", "template", "title"}
VISIBLE_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")
# Things that are not words of a language: addresses, URLs, time zones, dates, file names.
NOT_LANGUAGE = re.compile(
    r"[\w.+-]+@[\w-]+(\.[\w-]+)+"  # e-mail addresses
    r"|https?://\S+"
    r"|\b[A-Za-z]+(?:/[A-Za-z_+-]+)+\b"  # time zones (Asia/Tokyo)
    r"|\b[A-Za-z0-9_-]+\.(?:mp3|wav|csv)\b"
)
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:['.][A-Za-z0-9]+)*")


class _Text(HTMLParser):
    """Visible text and visible attributes, minus lang="en" and code."""

    VOID = {"input", "br", "img", "meta", "link", "hr", "source", "col", "area", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, skipped)
        self.parts: list[str] = []

    def _skipped(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        skipped = (
            self._skipped()
            or tag in SKIPPED_ELEMENTS
            or (attrs.get("lang") or "").startswith("en")
            or tag == "head"
        )
        if not skipped:
            self.parts.extend(attrs[name] for name in VISIBLE_ATTRIBUTES if attrs.get(name))
            if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
                self.parts.append(attrs["value"])
        if tag not in self.VOID:
            self.stack.append((tag, skipped))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if not self._skipped():
            self.parts.append(data)


def english_words(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    text = NOT_LANGUAGE.sub(" ", " ".join(parser.parts))
    return sorted(
        {
            word
            for word in WORD.findall(text)
            if word not in PRODUCT_WORDS and sum(ch.isalpha() for ch in word) >= 2
        }
    )


@pytest.fixture
def company(personas, time_machine):
    """Tenant A as a Japanese clinic: numbers, a full flow, library, calls, alerts, history."""
    time_machine.move_to(datetime.datetime(2026, 12, 1, 10, 0, tzinfo=datetime.UTC))
    tenant = personas.tenant_a
    tenant.name = "さくら歯科"
    tenant.save()
    for user, name in [
        (personas.owner_a, "院長"),
        (personas.admin_a, "事務長"),
        (personas.staff_a, "受付"),
        (personas.viewer_a, "見学"),
        (personas.both, "兼務"),
    ]:
        user.first_name = name
        user.save()
    now = timezone.now()
    number = SubscriptionFactory(tenant=tenant, din="815011112222", label="受付")
    trial = SubscriptionFactory(
        tenant=tenant,
        din="815033334444",
        is_trial=True,
        carrier_accepted_at=now,
        trial_deadline=now + datetime.timedelta(hours=24),
        release_at=now + datetime.timedelta(hours=23, minutes=30),
    )
    released = SubscriptionFactory(
        tenant=tenant,
        din="815055556666",
        status=Status.RELEASED,
        is_trial=True,
        carrier_accepted_at=now - datetime.timedelta(hours=5),
        trial_deadline=now + datetime.timedelta(hours=19),
        release_at=now + datetime.timedelta(hours=18),
        released_at=now - datetime.timedelta(hours=1),
    )
    audio = make_audio(tenant, label="営業時間の挨拶")
    with tenant_scope(tenant):
        from callflows.models import TtsScript

        script = TtsScript.objects.create(
            tenant=tenant, name="時間外のご案内", language="ja", text="本日の受付は終了しました。"
        )
        vip = CallerList.objects.create(tenant=tenant, name="VIP", numbers=["+819012345678"])
        ClosedDate.objects.create(
            tenant=tenant,
            date=datetime.date(2026, 12, 29),
            end_date=datetime.date(2027, 1, 3),
            note="年末年始",
        )
        document = {
            "rules": [
                {
                    "label": "VIP",
                    "when": {"type": "caller_list", "list": str(vip.code)},
                    "then": {"type": "transfer", "number": "+81312345678"},
                },
                {
                    "label": "非通知",
                    "when": {"type": "anonymous"},
                    "then": {"type": "say", "script": str(script.code)},
                },
                {"label": "", "when": {"type": "holiday"}, "then": {"type": "voicemail"}},
                {
                    "label": "昼休み",
                    "when": {
                        "type": "hours",
                        "weekdays": [0, 1, 2, 3, 4],
                        "start": "12:00",
                        "end": "13:00",
                    },
                    "then": {
                        "type": "voicemail",
                        "greeting": {"type": "say", "script": str(script.code)},
                    },
                },
                {
                    "label": "診療時間",
                    "when": {
                        "type": "hours",
                        "weekdays": [0, 1, 2, 3, 4, 5],
                        "start": "09:00",
                        "end": "18:00",
                    },
                    "then": {"type": "playback", "audio": str(audio.code)},
                },
            ],
            "default": {"type": "voicemail", "greeting": None},
        }
        flow_save(subscription=number, document=document, by=personas.owner_a)
        flow_save(
            subscription=number,
            document={**document, "rules": document["rules"][1:]},
            by=personas.owner_a,
            note="VIPを外す",
        )
        flow = CallFlow.objects.get(subscription=number)
        for index, (rule, command, source, caller) in enumerate(
            [
                ("default", "voicemail", "flow", ""),
                ("override", 'say ja "休業中です"', "override", "819012345678"),
                ("fallback", "voicemail", "fallback", "819000001111"),
                ("#3", "voicemail", "flow", "819000002222"),
                ("VIP", "transfer +81312345678", "flow", "819012345678"),
                (
                    "診療時間",
                    f"playback http://testserver/media/audio/{audio.public_id}.mp3",
                    "stale",
                    "815000003333",
                ),
            ]
        ):
            CallLog.objects.create(
                tenant=tenant,
                subscription=number,
                at=now - datetime.timedelta(minutes=index),
                caller=caller,
                recipient=number.din,
                rule=rule,
                command=command,
                source=source,
                latency_us=1200,
                flow_version=flow.version,
            )
        OutboundCall.objects.create(
            tenant=tenant,
            subscription=number,
            recipient="+819012345678",
            caller_id_used=number.e164,
            caller_sent=number.e164,
            local_caller_id=True,
            message_kind=OutboundCall.MessageKind.SCRIPT,
            script=script,
            message_label=script.name,
            tts_text=script.text,
            tts_lang="ja",
            status=OutboundCall.Status.ANSWERED,
            estimated_minute_cost=Decimal("15"),
            duration=65,
            cost=Decimal("30"),
            placed_by=personas.owner_a,
        )
        for kind, subscription, context in [
            (AlertKind.TRIAL_REMINDER, trial, {"number": trial.e164, "minutes": 60}),
            (AlertKind.TRIAL_RELEASED, released, {"number": released.e164, "saved": "617.5"}),
            (AlertKind.ACTION_URL_FALLBACK, number, {"number": number.e164, "calls": 2}),
            (AlertKind.CARRIER_CREDENTIALS, None, {"operation": "subscribe"}),
        ]:
            Alert.objects.create(
                tenant=tenant,
                kind=kind,
                subscription=subscription,
                dedup_key=f"{kind}:{subscription.pk if subscription else '-'}",
                context=context,
            )
        AuditEvent.objects.create(
            tenant=tenant,
            actor=None,
            actor_label="system",
            action="subscription.activate",
            object_type="subscription",
            object_code=str(trial.code),
            object_repr=str(trial),
            after={"trial": True, "accepted_at": now.isoformat()},
        )
        Invitation.objects.create(
            tenant=tenant,
            email="uketsuke@example.com",
            role=Role.STAFF,
            token_hash="0" * 64,
            invited_by=personas.owner_a,
            expires_at=now + datetime.timedelta(days=7),
        )
    return {
        "subscription": number,
        "trial": trial,
        "audiofile": audio,
        "ttsscript": script,
        "callerlist": vip,
        "closeddate": _first(tenant, ClosedDate),
        "flowversion": _first(tenant, FlowVersion),
        "membership": _membership(tenant, personas.staff_a),
        "invitation": _first(tenant, Invitation),
        "alert": _first(tenant, Alert),
        "outboundcall": _first(tenant, OutboundCall),
    }


def _first(tenant, model):
    with tenant_scope(tenant):
        return model.objects.first()


def _membership(tenant, user):
    with tenant_scope(tenant):
        return Membership.objects.get(user=user)


def _pages(company) -> list[str]:
    urls = []
    for _route, pattern in tenant_routes():
        other_arguments = set(getattr(pattern.pattern, "converters", {})) - set(
            _uuid_kwargs(pattern)
        )
        if pattern.name in NOT_PAGES or other_arguments:
            continue
        kwargs = {name: company[name.removesuffix("_code")].code for name in _uuid_kwargs(pattern)}
        urls.append(reverse(pattern.name, kwargs=kwargs))
    number = company["subscription"]
    urls += [
        reverse("number_keep", args=[company["trial"].code]),
        reverse("number_detail", args=[company["trial"].code]),
        reverse("flow_preview", args=[number.code]) + "?at=2026-12-07T12:30&caller=090-1234-5678",
        reverse("flow_preview", args=[number.code]) + "?at=2026-12-07T12:30&caller=abc",
        reverse("call_log") + "?rule=default",
    ]
    return urls


def _japanese_client(client, settings, user):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    client.force_login(user)
    return client


@pytest.mark.parametrize("persona", ["owner_a", "viewer_a"])
def test_it_has_no_english_on_any_page_in_japanese(client, settings, personas, company, persona):
    _japanese_client(client, settings, getattr(personas, persona))
    found = {}
    for url in _pages(company):
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        words = english_words(response.content.decode())
        if words:
            found[url] = words
    assert found == {}, "English on Japanese pages:\n" + "\n".join(
        f"  {url}: {' '.join(words)}" for url, words in found.items()
    )


def test_it_has_no_english_on_the_signed_out_pages(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    for name in ("login", "password_reset", "password_reset_done", "password_reset_complete"):
        words = english_words(client.get(reverse(name)).content.decode())
        assert words == [], (name, words)


def test_it_finds_english_where_there_is_some():
    # positive control: the detector does see English, and ignores what it should
    html = (
        "<p>着信フロー default <code>playback http://x/a.mp3</code></p>"
        '<button lang="en">English</button><input placeholder="Search">'
        "<p>DIN Portal · MP3 · owner@example.com · Asia/Tokyo</p>"
    )
    assert english_words(html) == ["Search", "default"]


def _editor(subscription, **rule) -> dict:
    data = {
        "rules-TOTAL_FORMS": "1",
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "30",
        "default-action": "voicemail",
    }
    data.update({f"rules-0-{key}": value for key, value in rule.items()})
    return data


def test_it_answers_mistakes_and_editor_steps_in_japanese(client, settings, personas, company):
    _japanese_client(client, settings, personas.owner_a)
    number = company["subscription"]
    flow = reverse("flow_edit", args=[number.code])
    posts = [
        (
            flow,
            _editor(
                number, label="海外", when="always", action="transfer", number="+1 212 555 0100"
            ),
        ),
        (
            flow,
            _editor(number, label="自分", when="always", action="transfer", number="050-1111-2222"),
        ),
        (flow, _editor(number, label="誤り", when="always", action="transfer", number="でんわ")),
        (flow, _editor(number, label="途中", when="hours", action="")),
        (flow, {**_editor(number), "edit": "start:clinic"}),
        (flow, {**_editor(number), "edit": "add"}),
        (reverse("flow_draft", args=[number.code]), _editor(number, label="", when="", action="")),
        (
            reverse("outbound_call_new", args=[number.code]),
            {"recipient": "+81 090 1234 5678", "message_kind": "text", "tts_lang": "ja"},
        ),
        (reverse("number_release", args=[number.code]), {"typed_number": "050-1111-2222x"}),
        (reverse("closed_date_add"), {"date": "2026-12-30", "end_date": "2026-12-31"}),
    ]
    found = {}
    for url, data in posts:
        response = client.post(url, data)
        assert response.status_code in (200, 400, 429), (url, response.status_code)
        words = english_words(response.content.decode())
        if words:
            found[f"{url} {sorted(data.items())[:3]}"] = words
    assert found == {}, "English on Japanese pages:\n" + "\n".join(
        f"  {url}: {' '.join(words)}" for url, words in found.items()
    )


def test_it_tells_a_test_call_in_japanese(personas, company):
    from django.utils import translation

    from callflows.transcript_words import transcript_in_words

    transcript = {
        "caller": "+819012345678",
        "recipient": "+815011112222",
        "outcome": "voicemail",
        "steps": [
            {"kind": "request", "detail": "GET …", "ok": True},
            {"kind": "answer", "detail": "voicemail", "ok": True},
            {"kind": "greeting", "detail": "played", "ok": True, "audio_seconds": 2.0},
            {"kind": "recording", "detail": "left", "ok": True, "audio_seconds": 2.5},
        ],
        "billed_seconds": 60,
    }
    with translation.override("ja"), tenant_scope(personas.tenant_a):
        told = transcript_in_words(transcript)
    text = " ".join([told["title"], told["outcome"], *(line["text"] for line in told["lines"])])
    assert english_words(text) == []
    assert "090-1234-5678" in told["title"]


def test_it_has_every_message_of_the_catalogue_translated():
    import polib
    from django.conf import settings

    catalogue = polib.pofile(str(settings.BASE_DIR / "locale/ja/LC_MESSAGES/django.po"))
    assert [entry.msgid for entry in catalogue.untranslated_entries()] == []
    assert [entry.msgid for entry in catalogue.fuzzy_entries()] == []
