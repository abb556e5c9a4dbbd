"""TTS scripts: the carrier's text rules on the form, edits reaching flows, the espeak preview."""

import hashlib
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from callflows.assets import scripts as script_services
from callflows.flows import publishing
from callflows.models import CallFlow, TtsScript
from callflows.tests.factories import make_script, published_compiled
from dins.tests.factories import SubscriptionFactory
from portal.models import AuditEvent
from portal.scoping import scopes_disabled, tenant_scope

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")


def say_flow(script) -> dict:
    return {
        "rules": [],
        "default": {"type": "voicemail", "greeting": {"type": "say", "script": str(script.code)}},
    }


def give_flow(subscription, document):
    with tenant_scope(subscription.tenant):
        return CallFlow.objects.create(
            tenant=subscription.tenant, subscription=subscription, document=document
        )


def create(client, text, *, name="Welcome", language="en"):
    return client.post(reverse("script_create"), {"name": name, "language": language, "text": text})


def scripts(tenant) -> list[TtsScript]:
    with tenant_scope(tenant):
        return list(TtsScript.objects.all())


@pytest.fixture
def invalidated(monkeypatch):
    """Tokens of the numbers whose flows were published again (in the change's transaction)."""
    tokens: list[str] = []
    publish = publishing.flow_publish

    def recording(*, subscription):
        tokens.append(subscription.action_token)
        return publish(subscription=subscription)

    monkeypatch.setattr(publishing, "flow_publish", recording)
    return tokens


# --- Text rules -----------------------------------------------------------------------------


def test_it_stores_the_text_as_the_carrier_will_read_it(client, personas):
    client.force_login(personas.staff_a)

    response = create(client, "  Thank you for calling.\r\nWe are closed.\n")

    assert response.status_code == 302
    [script] = scripts(personas.tenant_a)
    assert script.text == "Thank you for calling. We are closed."
    with tenant_scope(personas.tenant_a):
        event = AuditEvent.objects.get()
    assert event.action == "ttsscript.create"
    assert event.after["text"] == "Thank you for calling. We are closed."


@pytest.mark.parametrize(
    "text",
    ['Welcome to "Alpha" Clinic \\ 24/7 😀', "お電話ありがとうございます。「アルファ」です。"],
)
def test_it_accepts_quotes_backslashes_and_emoji(client, personas, text):
    client.force_login(personas.staff_a)

    assert create(client, text, language="ja").status_code == 302

    assert scripts(personas.tenant_a)[0].text == text


@pytest.mark.parametrize(
    "text,message",
    [
        ("Hello\x07there", "invisible control character (U+0007) at position 6"),
        ("x" * 501, "The text has 501 characters; the carrier reads at most 500."),
        (" \n\t ", "Write the text callers should hear."),
    ],
)
def test_it_refuses_text_the_carrier_cannot_read(client, personas, text, message):
    client.force_login(personas.staff_a)

    response = create(client, text, name="Kept name")

    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'value="Kept name"' in response.content.decode()
    assert scripts(personas.tenant_a) == []
    with scopes_disabled():
        assert not AuditEvent.objects.exists()


def test_it_accepts_500_characters_after_line_breaks_become_spaces(client, personas):
    client.force_login(personas.staff_a)

    assert create(client, "a" * 250 + "\r\n" + "b" * 249).status_code == 302

    assert len(scripts(personas.tenant_a)[0].text) == 500


# --- Edit and delete ------------------------------------------------------------------------


def test_it_reaches_the_compiled_flow_when_the_text_changes(
    client, personas, invalidated, django_capture_on_commit_callbacks
):
    script = make_script(personas.tenant_a, language="en", text="Old text.")
    number = SubscriptionFactory(tenant=personas.tenant_a)
    give_flow(number, say_flow(script))
    other = SubscriptionFactory(tenant=personas.tenant_a)
    give_flow(other, {"rules": [], "default": {"type": "voicemail", "greeting": None}})
    client.force_login(personas.staff_a)

    invalidated.clear()  # what setting up published
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("script_edit", args=[script.code]),
            {"name": "Welcome", "language": "en", "text": 'New "text".'},
        )

    assert response.status_code == 302
    assert invalidated == [number.action_token]
    compiled = published_compiled(number.action_token)
    assert compiled["default"] == 'voicemail say en "New \\"text\\"."'
    with tenant_scope(personas.tenant_a):
        event = AuditEvent.objects.get(action="ttsscript.update")
    assert (event.before["text"], event.after["text"]) == ("Old text.", 'New "text".')


def test_it_keeps_what_was_typed_when_an_edit_is_refused(client, personas):
    script = make_script(personas.tenant_a, text="Saved text.")
    client.force_login(personas.staff_a)

    response = client.post(
        reverse("script_edit", args=[script.code]),
        {"name": "Renamed", "language": "ja", "text": "x" * 600},
    )

    assert response.status_code == 400
    assert 'value="Renamed"' in response.content.decode()
    script.refresh_from_db()
    assert (script.name, script.text) == ("Welcome", "Saved text.")


def test_it_refuses_to_delete_a_script_in_use_and_names_the_number(client, personas):
    script = make_script(personas.tenant_a)
    give_flow(SubscriptionFactory(tenant=personas.tenant_a, din="815044440000"), say_flow(script))
    client.force_login(personas.staff_a)

    response = client.post(reverse("script_delete", args=[script.code]), follow=True)

    assert "the call flow of 050-4444-0000 uses it" in response.content.decode()
    assert scripts(personas.tenant_a) == [script]


def test_it_deletes_an_unused_script(client, personas):
    script = make_script(personas.tenant_a)
    client.force_login(personas.staff_a)

    response = client.post(reverse("script_delete", args=[script.code]), follow=True)

    assert "“Welcome” deleted." in response.content.decode()
    assert scripts(personas.tenant_a) == []
    with tenant_scope(personas.tenant_a):
        assert AuditEvent.objects.get().action == "ttsscript.delete"


def test_it_lets_a_viewer_read_a_script_but_not_change_it(client, personas):
    script = make_script(personas.tenant_a, text="Saved text.")
    client.force_login(personas.viewer_a)

    page = client.get(reverse("script_edit", args=[script.code]))
    refused = client.post(
        reverse("script_edit", args=[script.code]),
        {"name": "X", "language": "en", "text": "Hijacked"},
    )

    assert page.status_code == 200 and "Saved text." in page.content.decode()
    assert "<textarea" not in page.content.decode()
    assert refused.status_code == 403
    script.refresh_from_db()
    assert script.text == "Saved text."


# --- Preview --------------------------------------------------------------------------------


def wav_sizes(data: bytes) -> tuple[int, int]:
    """(RIFF size, data chunk size) of a WAV file with one fmt chunk."""
    (fmt_size,) = struct.unpack_from("<I", data, 16)
    data_offset = 20 + fmt_size
    assert data[data_offset : data_offset + 4] == b"data"
    return struct.unpack_from("<I", data, 4)[0], struct.unpack_from("<I", data, data_offset + 4)[0]


@needs_espeak
@pytest.mark.parametrize("language,text", [("ja", "お電話ありがとうございます。"), ("en", "-v Hi")])
def test_it_renders_caches_and_serves_a_preview(client, personas, monkeypatch, language, text):
    script = make_script(personas.tenant_a, language=language, text=text)
    digest = hashlib.sha256(f"{language}{text}".encode()).hexdigest()
    cached = Path(settings.MEDIA_ROOT) / "tts-cache" / f"{digest}.wav"
    cached.unlink(missing_ok=True)
    client.force_login(personas.viewer_a)

    response = client.get(reverse("script_listen", args=[script.code]))

    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    data = b"".join(response.streaming_content)
    assert data[:4] == b"RIFF" and len(data) > 1000
    assert wav_sizes(data) == (len(data) - 8, len(data) - 44)  # true sizes, not espeak's ~2 GB
    assert cached.read_bytes() == data

    # then a second listen is served from the cache, without running espeak-ng
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("espeak-ng ran again"))
    again = client.get(reverse("script_listen", args=[script.code]), headers={"range": "bytes=0-3"})
    assert again.status_code == 206
    assert b"".join(again.streaming_content) == b"RIFF"


def test_it_plays_a_preview_only_to_members_of_its_tenant(client, personas):
    script = make_script(personas.tenant_a)
    url = reverse("script_listen", args=[script.code])

    assert client.get(url).status_code == 302
    client.force_login(personas.owner_b)
    assert client.get(url).status_code == 404


def test_it_says_preview_unavailable_without_espeak(client, personas, monkeypatch):
    script = make_script(personas.tenant_a, text="Never rendered before 4f1c.")
    monkeypatch.setattr(script_services.shutil, "which", lambda name: None)
    client.force_login(personas.staff_a)

    listen = client.get(reverse("script_listen", args=[script.code]))
    page = client.get(reverse("script_list")).content.decode()

    assert listen.status_code == 503
    assert "Preview unavailable" in listen.content.decode()
    assert "Preview unavailable" in page
    assert reverse("script_listen", args=[script.code]) not in page


def test_it_says_preview_unavailable_when_espeak_hangs(client, personas, monkeypatch):
    script = make_script(personas.tenant_a, text="Never rendered before 9a7e.")
    monkeypatch.setattr(script_services.shutil, "which", lambda name: "/usr/bin/espeak-ng")

    def hang(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], kwargs["timeout"])

    monkeypatch.setattr(script_services.subprocess, "run", hang)
    client.force_login(personas.staff_a)

    listen = client.get(reverse("script_listen", args=[script.code]))

    assert listen.status_code == 503
    assert "took longer than 10 seconds" in listen.content.decode()


@needs_espeak
def test_it_drops_a_cached_preview_nobody_speaks_any_more(
    client, personas, django_capture_on_commit_callbacks
):
    script = make_script(personas.tenant_a, language="en", text="Soon replaced 77.")
    make_script(personas.tenant_b, language="en", text="Shared words 78.")
    shared = make_script(personas.tenant_a, language="en", text="Shared words 78.")
    client.force_login(personas.staff_a)
    for each in (script, shared):
        assert client.get(reverse("script_listen", args=[each.code])).status_code == 200
    replaced = script_services.script_preview_path(language="en", text="Soon replaced 77.")
    kept = script_services.script_preview_path(language="en", text="Shared words 78.")

    with django_capture_on_commit_callbacks(execute=True):
        for name, each in (("Welcome", script), ("Welcome too", shared)):
            client.post(
                reverse("script_edit", args=[each.code]),
                {"name": name, "language": "en", "text": "Something new 79."},
            )

    assert not replaced.exists()
    assert kept.exists()  # tenant B's script still speaks these words
