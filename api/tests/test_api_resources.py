"""The API's number search and subscribe, flow replace and validate, uploads, TTS scripts,
the call log CSV: the pages' services and rules, answered in the API's shapes."""

import csv
import datetime
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.serializers.json import DjangoJSONEncoder

from api.tests.test_api import _validate
from callflows.models import AudioFile, CallFlow, FlowVersion, TtsScript
from callflows.tests.factories import SAMPLES
from dins.models import Subscription, SubscriptionStatus
from portal.models import AuditEvent, OutboxMessage
from portal.scoping import scopes_disabled, tenant_scope
from portal.tests.companies import japanese_clinic

VOICEMAIL = {"rules": [], "default": {"type": "voicemail"}}


@pytest.fixture
def company(personas, time_machine):
    time_machine.move_to(datetime.datetime(2026, 12, 1, 10, 0, tzinfo=datetime.UTC))
    return japanese_clinic(personas)


@pytest.fixture
def carrier_down(settings, monkeypatch):
    """The carrier at a closed port on loopback, asked once."""
    from dins import xoxzo

    settings.XOXZO_API_URL = "http://127.0.0.1:9/sandbox"
    monkeypatch.setattr(xoxzo, "MAX_ATTEMPTS", 1)
    xoxzo.close_client()
    yield
    xoxzo.close_client()


def _audit(tenant) -> list[str]:
    with tenant_scope(tenant):
        return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


# --- Search and subscribe (the sandbox carrier over real HTTP) -------------------------------


@pytest.mark.django_db(transaction=True)
def test_offers_are_searched_and_one_is_subscribed_through_the_outbox(
    api_as, personas, sandbox_url, task_queue
):
    admin = api_as("admin")
    response = admin.get("/api/v1/numbers/offers?kind=jp-050&limit=3")
    assert response.status_code == 200, response.content
    _validate("/api/v1/numbers/offers", "get", response)
    offers = response.json()
    assert len(offers["items"]) == 3 and offers["count"] >= 3
    assert all(o["e164"].startswith("+8150") for o in offers["items"])
    din_uid = offers["items"][0]["din_uid"]

    # a read-only key may search but not subscribe
    viewer = api_as("viewer")
    assert viewer.get("/api/v1/numbers/offers").status_code == 200
    refused = viewer.post("/api/v1/numbers", {"din_uid": din_uid, "mode": "trial"})
    assert refused.status_code == 403

    response = admin.post("/api/v1/numbers", {"din_uid": din_uid, "mode": "trial"})

    assert response.status_code == 202, response.content
    _validate("/api/v1/numbers", "post", response)
    assert response.json()["status"] == SubscriptionStatus.PENDING and response.json()["is_trial"]
    with scopes_disabled():
        subscription = Subscription.objects.get(code=response.json()["code"])
        queued = list(OutboxMessage.objects.values_list("task_name", "kwargs"))
    assert subscription.tenant == personas.tenant_a
    assert ("dins.subscribe", subscription.pk) in [
        (name, kwargs.get("subscription_id")) for name, kwargs in queued
    ]
    assert "subscription.request" in _audit(personas.tenant_a)
    # asking again answers the same row; the task buys it
    again = admin.post("/api/v1/numbers", {"din_uid": din_uid, "mode": "trial"})
    assert again.status_code == 202 and again.json()["code"] == str(subscription.code)
    task_queue.run_all()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE


@pytest.mark.django_db(transaction=True)
def test_an_offer_gone_is_a_conflict(api_as, sandbox_url):
    response = api_as("admin").post("/api/v1/numbers", {"din_uid": "no-such-din", "mode": "keep"})
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


def test_a_carrier_that_is_down_is_a_503_with_a_code(api_as, personas, carrier_down):
    response = api_as("admin").get("/api/v1/numbers/offers?digits=050")
    assert response.status_code == 503
    _validate("/api/v1/numbers/offers", "get", response)
    assert response.json()["code"] == "carrier_unavailable"

    response = api_as("admin").post("/api/v1/numbers", {"din_uid": "x", "mode": "trial"})
    assert response.status_code == 503
    assert response.json()["code"] == "carrier_unavailable"
    with scopes_disabled():
        assert not Subscription.objects.exists()


def test_the_search_refuses_what_the_page_refuses(api_as, personas):
    response = api_as("viewer").get("/api/v1/numbers/offers?digits=abc")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "digits"


# --- Call flows -------------------------------------------------------------------------------


def test_validate_lists_every_problem_and_saves_nothing(api_as, company, personas):
    number = company["subscription"]
    with tenant_scope(personas.tenant_a):
        version = CallFlow.objects.get(subscription=number).version
        versions = FlowVersion.objects.count()
    staff = api_as("staff")
    events = _audit(personas.tenant_a)
    document = {
        "rules": [
            {"when": {"type": "hours", "weekdays": [0], "start": "9", "end": "18:00"}, "then": {}},
        ],
        "default": {"type": "playback", "audio": "00000000-0000-0000-0000-000000000000"},
    }

    response = staff.post(f"/api/v1/numbers/{number.code}/flow/validate", {"document": document})

    assert response.status_code == 200, response.content
    _validate("/api/v1/numbers/{subscription_code}/flow/validate", "post", response)
    body = response.json()
    assert body["valid"] is False
    assert body["problems"][0]["where"] == "rules[0].when.start"
    with tenant_scope(personas.tenant_a):
        assert CallFlow.objects.get(subscription=number).version == version
        assert FlowVersion.objects.count() == versions
    assert _audit(personas.tenant_a) == events

    ok = api_as("staff").post(
        f"/api/v1/numbers/{number.code}/flow/validate", {"document": VOICEMAIL}
    )
    assert ok.json() == {"valid": True, "problems": []}


def test_a_missing_asset_is_found_by_validate(api_as, company):
    number = company["subscription"]
    document = {"rules": [], "default": {"type": "say", "script": "not-a-code"}}
    response = api_as("staff").post(
        f"/api/v1/numbers/{number.code}/flow/validate", {"document": document}
    )
    assert response.json()["valid"] is False
    assert response.json()["problems"][0]["where"] == "default"


def test_replace_saves_a_new_version_as_the_editor_does(api_as, company, personas):
    number = company["subscription"]
    script = company["ttsscript"]
    document = {
        "rules": [
            {
                "label": "Weekdays",
                "when": {
                    "type": "hours",
                    "weekdays": [0, 1, 2, 3, 4],
                    "start": "09:00",
                    "end": "18:00",
                },
                "then": {"type": "say", "script": str(script.code)},
            }
        ],
        "default": {"type": "voicemail"},
    }
    with tenant_scope(personas.tenant_a):
        version = CallFlow.objects.get(subscription=number).version

    response = api_as("staff").put(
        f"/api/v1/numbers/{number.code}/flow", {"document": document, "note": "API"}
    )

    assert response.status_code == 200, response.content
    _validate("/api/v1/numbers/{subscription_code}/flow", "put", response)
    assert response.json()["version"] == version + 1
    assert response.json()["document"] == document
    with tenant_scope(personas.tenant_a):
        saved = FlowVersion.objects.filter(flow__subscription=number).order_by("-number").first()
        assert saved.note == "API" and saved.document == document
    assert _audit(personas.tenant_a)[-1] == "callflow.save"


@pytest.mark.parametrize(
    "document,field",
    [
        ({"rules": [], "default": {"type": "transfer"}}, "document.default"),
        ({"rules": "x", "default": {"type": "voicemail"}}, "document.rules"),
        (
            {
                "rules": [{"when": {"type": "always"}, "then": {"type": "voicemail"}}] * 31,
                "default": {"type": "voicemail"},
            },
            "document.rules",
        ),
        (
            {
                "rules": [
                    {"label": "x" * 101, "when": {"type": "always"}, "then": {"type": "voicemail"}}
                ],
                "default": {"type": "voicemail"},
            },
            "document.rules[0].label",
        ),
        ({"rules": [], "default": {"type": "transfer", "number": 5}}, "document.default"),
        (
            {
                "rules": [
                    {
                        "when": {"type": "hours", "weekdays": ["x"], "start": 9, "end": None},
                        "then": {"type": "voicemail"},
                    }
                ],
                "default": {"type": "voicemail"},
            },
            "document.rules[0].when",
        ),
    ],
)
def test_replace_refuses_what_the_compiler_refuses_and_keeps_the_flow(
    api_as, company, personas, document, field
):
    number = company["subscription"]
    with tenant_scope(personas.tenant_a):
        before = CallFlow.objects.get(subscription=number).document

    response = api_as("staff").put(f"/api/v1/numbers/{number.code}/flow", {"document": document})

    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["field"] == field
    with tenant_scope(personas.tenant_a):
        assert CallFlow.objects.get(subscription=number).document == before


def test_replace_refuses_a_note_over_its_limit_as_the_page_does_and_cuts_nothing(
    api_as, company, personas
):
    number = company["subscription"]
    with tenant_scope(personas.tenant_a):
        flow = CallFlow.objects.get(subscription=number)
    body = {"document": flow.document, "note": "n" * 201}

    response = api_as("staff").put(f"/api/v1/numbers/{number.code}/flow", body)

    assert response.status_code == 422, response.content
    assert response.json()["errors"] == [
        {"field": "note", "message": "The note has 201 characters; at most 200 are allowed."}
    ]
    with tenant_scope(personas.tenant_a):
        assert CallFlow.objects.get(subscription=number).version == flow.version
    body["note"] = "  " + "n" * 200 + "  "  # the same limit after the spaces are trimmed
    assert api_as("staff").put(f"/api/v1/numbers/{number.code}/flow", body).status_code == 200


# --- Assets -----------------------------------------------------------------------------------


def _upload(api, name: str, data: bytes | None = None, label: str = "Greeting"):
    data = (SAMPLES / name).read_bytes() if data is None else data
    file = SimpleUploadedFile(name, data, content_type="audio/mpeg")
    return api.client.post(
        "/api/v1/assets/audio",
        {"label": label, "file": file},
        headers={"Authorization": f"Bearer {api.token}", "Accept-Language": "en"},
    )


def test_an_mp3_is_uploaded_as_on_the_page(api_as, personas):
    response = _upload(api_as("staff"), "greeting-en.mp3")
    assert response.status_code == 201, response.content
    _validate("/api/v1/assets/audio", "post", response)
    assert response.json()["label"] == "Greeting"
    assert response.json()["duration_seconds"] == pytest.approx(6.3, abs=0.2)
    assert _audit(personas.tenant_a)[-1] == "audio.create"


@pytest.mark.parametrize(
    "name,reason",
    [
        ("text.mp3", "This is a text file, not MP3 audio."),
        ("wav-renamed.mp3", "This is a WAV file renamed to .mp3; export it as MP3."),
    ],
)
def test_a_bad_mp3_is_refused_with_the_pages_message(api_as, personas, name, reason):
    response = _upload(api_as("staff"), name)
    assert response.status_code == 422
    _validate("/api/v1/assets/audio", "post", response)
    assert response.json()["errors"] == [{"field": "file", "message": reason}]
    with tenant_scope(personas.tenant_a):
        assert not AudioFile.objects.exists()


def test_an_mp3_over_the_limit_and_a_missing_file_are_field_errors(api_as, settings):
    settings.AUDIO_MAX_BYTES = 20_000
    response = _upload(api_as("staff"), "greeting-en.mp3")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "file"
    assert "at most" in response.json()["errors"][0]["message"]
    missing = api_as("staff").post("/api/v1/assets/audio", {})
    assert missing.status_code == 422
    assert {e["field"] for e in missing.json()["errors"]} == {"label", "file"}


def test_tts_scripts_are_listed_and_created(api_as, company, personas):
    staff = api_as("staff")
    response = staff.post(
        "/api/v1/assets/scripts", {"name": "Hours", "language": "en", "text": "Open\nnine to six."}
    )
    assert response.status_code == 201, response.content
    _validate("/api/v1/assets/scripts", "post", response)
    assert response.json()["text"] == "Open nine to six."  # as the page cleans it

    listed = api_as("viewer").get("/api/v1/assets/scripts")
    assert listed.status_code == 200
    _validate("/api/v1/assets/scripts", "get", listed)
    assert "Hours" in [s["name"] for s in listed.json()["items"]]

    refused = staff.post("/api/v1/assets/scripts", {"name": "X", "language": "fr", "text": "Hi"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "language"
    with tenant_scope(personas.tenant_a):
        assert not TtsScript.objects.filter(name="X").exists()


# --- Call log CSV -----------------------------------------------------------------------------


def test_the_call_log_csv_has_the_pages_columns(api_as, company, client, personas):
    response = api_as("viewer").get("/api/v1/calls/csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))

    client.force_login(personas.viewer_a)
    page = client.get("/calls/export.csv")
    page_rows = list(
        csv.reader(io.StringIO(b"".join(page.streaming_content).decode().lstrip("\ufeff")))
    )
    assert (
        rows[0]
        == page_rows[0]
        == [
            "Time",
            "Number",
            "Number ID",
            "Number label",
            "Caller",
            "Recipient",
            "Rule",
            "Answered by",
            "Command",
            "Latency (ms)",
            "Flow version",
            "Test call",
        ]
    )
    assert rows == page_rows and len(rows) > 1

    only = api_as("viewer").get("/api/v1/calls/csv?source=fallback")
    assert only.status_code == 200
    bad = api_as("viewer").get("/api/v1/calls/csv?since=1900-01-01")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "since"


def test_the_openapi_document_names_every_new_route(client):
    document = json.loads(
        json.dumps(client.get("/api/v1/openapi.json").json(), cls=DjangoJSONEncoder)
    )
    assert (
        "text/csv" in document["paths"]["/api/v1/calls/csv"]["get"]["responses"]["200"]["content"]
    )
    for path in ("/api/v1/numbers/offers", "/api/v1/assets/audio", "/api/v1/assets/scripts"):
        assert path in document["paths"]
