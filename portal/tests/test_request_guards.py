"""What every request to the portal's pages meets before a view: NUL bytes refused, private
pages not cached (the edge's answers: callflows/tests/test_edge_answers.py)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from callflows.models import AudioUpload
from callflows.tests.factories import SAMPLES, make_audio
from dins.tests.factories import SubscriptionFactory
from portal.models import AuditEvent, Tenant
from portal.scoping import scopes_disabled

NUL_MESSAGE = "The request contained a NUL character"


@pytest.mark.parametrize(
    "method,path,data",
    [
        ("get", "/calls/?rule=a%00b", None),
        ("get", "/calls/?a%00b=1", None),
        ("get", "/members/%00/", None),
        ("post", "/settings/", {"name": "Acme\x00", "timezone": "Asia/Tokyo", "language": "en"}),
        ("post", "/numbers/subscribe/", {"din_uid": "JP\x00", "mode": "keep"}),
    ],
)
def test_it_refuses_a_nul_byte_anywhere_once_for_every_view(client, personas, method, path, data):
    client.force_login(personas.owner_a)
    with scopes_disabled():
        events_before = AuditEvent.objects.count()

    response = getattr(client, method)(path, data) if data else getattr(client, method)(path)

    assert response.status_code == 400
    assert NUL_MESSAGE in response.content.decode()
    with scopes_disabled():
        assert AuditEvent.objects.count() == events_before
    assert Tenant.objects.get(pk=personas.tenant_a.pk).name == "Alpha Clinic"


def test_a_nul_byte_in_an_uploaded_files_name_is_not_stored(client, personas):
    # Django's upload parser drops it from the name; the file itself is judged on its bytes.
    client.force_login(personas.staff_a)
    data = (SAMPLES / "tone-8khz.mp3").read_bytes()
    upload = SimpleUploadedFile("to\x00ne.mp3", data, content_type="audio/mpeg")
    response = client.post(reverse("audio_upload"), {"label": "Tone", "file": upload})
    assert response.status_code == 302
    with scopes_disabled():
        assert "\x00" not in AudioUpload.objects.get().original_name


def test_signed_in_pages_are_not_stored_by_browsers_or_proxies(client, personas):
    client.force_login(personas.viewer_a)
    for name in ("dashboard", "call_log", "members", "audit_log", "call_log_export"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert "no-store" in response["Cache-Control"], name


def test_the_player_keeps_its_own_caching(client, personas):
    audio = make_audio(personas.tenant_a)
    client.force_login(personas.viewer_a)
    response = client.get(reverse("audio_listen", args=[audio.code]))
    assert response["Cache-Control"] == "private, max-age=3600"


def test_it_refuses_a_nul_byte_in_the_flow_note_and_keeps_the_flow(client, personas):
    from callflows.models import CallFlow

    number = SubscriptionFactory(tenant=personas.tenant_a)
    client.force_login(personas.staff_a)
    data = {
        "rules-TOTAL_FORMS": "0",
        "rules-INITIAL_FORMS": "0",
        "default-action": "voicemail",
        "note": "closed\x00",
    }
    url = reverse("flow_edit", args=[number.code])

    refused = client.post(url, data)
    saved = client.post(url, {**data, "note": "closed"})

    assert refused.status_code == 400 and NUL_MESSAGE in refused.content.decode()
    assert saved.status_code == 302
    with scopes_disabled():
        assert CallFlow.objects.get().versions.get().note == "closed"
