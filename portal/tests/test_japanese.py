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
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.urls import reverse

from portal.scoping import tenant_scope
from portal.tests.companies import japanese_clinic
from portal.tests.test_isolation import _uuid_kwargs, tenant_routes

# The proper nouns allowed on Japanese pages: names of products (DIN Portal, Xoxzo), protocols,
# file formats and units, written the same in both languages. Everything else is a word of
# English that a Japanese reader should not meet.
PRODUCT_WORDS = {"DIN", "Portal", "Xoxzo", "MP3", "URL", "CSV", "ID", "TTS", "IP", "UTC"}
PRODUCT_WORDS |= {"VIP", "KB", "MB", "GB", "WAV", "M4A", "API", "JSON", "WebM", "Ogg", "FLAC"}
PRODUCT_WORDS |= {"MP4", "AAC", "PDF", "ZIP", "dB", "MPEG", "ID3"}
NOT_PAGES = {"healthz", "language_switch", "logout", "call_log_export"}
SKIPPED_ELEMENTS = {"script", "style", "code", "pre", "template", "title"}
VISIBLE_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")
# Things that are not words of a language: addresses, URLs, time zones, dates, file names.
NOT_LANGUAGE = re.compile(
    r"[\w.+-]+@[\w-]+(\.[\w-]+)+"  # e-mail addresses
    r"|https?://\S+"
    r"|\b[\w-]+\.(?:mp3|wav|csv|m4a|webm|ogg|opus|flac|mp4)\b"  # file names people gave
    r"|(?<![\w])\.(?:mp3|wav|m4a|webm|ogg|opus|flac|mp4|aac)\b"  # file extensions
    r"|\bespeak-ng\b"  # the speech engine's name, where a page says it is missing
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
            if word not in PRODUCT_WORDS
            and (sum(ch.isalpha() for ch in word) >= 2 or re.fullmatch(r"[A-Za-z]\.\d+", word))
        }
    )


@pytest.fixture
def company(personas, time_machine):
    time_machine.move_to(datetime.datetime(2026, 12, 1, 10, 0, tzinfo=datetime.UTC))
    return japanese_clinic(personas)


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
        # every audit action is seeded: the log runs over several pages
        *(reverse("audit_log") + f"?page={page}" for page in (2, 3)),
        *company["extra_urls"],
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
        "<p>DIN Portal · MP3 · owner@example.com · ボイスメモ.m4a · Asia/Tokyo · E.164形式</p>"
    )
    assert english_words(html) == ["Asia", "E.164", "Search", "Tokyo", "default"]


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

    from callflows.flows.transcript_words import transcript_in_words

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


# --- Coverage: every audit action, alert kind and failure reason is on a page above ---------

SOURCES = [
    path
    for app in ("portal", "dins", "callflows", "api")
    for path in (settings.BASE_DIR / app).rglob("*.py")
    if "tests" not in path.parts and "migrations" not in path.parts
]


def _found(pattern: str) -> set[str]:
    return {match for path in SOURCES for match in re.findall(pattern, path.read_text())}


def test_every_audit_action_the_code_records_is_in_words_and_seeded():
    from portal.audit_words import ACTIONS
    from portal.tests.companies import AUDIT_SAMPLES

    recorded = _found(r'action="([a-z_]+\.[a-z_]+)"')
    # action="a" if x else "b"
    pairs = _found(r'action="([a-z_.]+)" if \w+ else "([a-z_.]+)"')
    recorded |= {action for pair in pairs for action in pair}
    recorded -= {"test.event"}  # testing/scaffolding.py's own
    seeded = {action.removesuffix(".retry") for action in AUDIT_SAMPLES}
    assert recorded <= set(ACTIONS), recorded - set(ACTIONS)
    assert set(ACTIONS) == seeded


def test_every_alert_kind_is_seeded():
    from portal.models import AlertKind
    from portal.tests.companies import ALERT_CONTEXTS

    assert set(ALERT_CONTEXTS) == set(AlertKind)


def test_every_failure_reason_of_a_recording_is_seeded(personas, company):
    from callflows.models import AudioUpload

    codes = _found(r'ConversionRefused\(\s*"([a-z_]+)"') | _found(r'_fail\(upload_id, "([a-z_]+)"')
    with tenant_scope(personas.tenant_a):
        seeded = set(
            AudioUpload.objects.filter(status="failed").values_list("failure_code", flat=True)
        )
    assert codes <= seeded, codes - seeded


def test_every_failure_of_an_outbound_call_and_a_test_call_is_seeded(personas, company):
    from callflows.models import OutboundCall
    from dins.carrier_words import CARRIER_PROBLEMS
    from dins.models import TestCall

    # call_fail( sites: queue, worker, refused, credentials, error, give-up, not found, and
    # the sweep's stale (2) and unconfirmed (2) reasons; plus one older free-text reason
    sites = sum(path.read_text().count("call_fail(") for path in SOURCES) - 1  # the def
    with tenant_scope(personas.tenant_a):
        reasons = set(
            OutboundCall.objects.filter(status="failed").values_list("failure_reason", flat=True)
        )
        tests = set(
            TestCall.objects.filter(status="failed").values_list("failure_reason", flat=True)
        )
    assert len(reasons) >= sites + 2  # the two branches of the sweep's two reasons
    assert {"queue_unreachable", "interrupted", *CARRIER_PROBLEMS} < tests
