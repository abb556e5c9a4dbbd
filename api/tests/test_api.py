"""What a program using the API observes: the same answers, rules and audit log as the pages."""

import datetime
import json

import jsonschema
import pytest
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from api.models import ApiKey
from api.v1 import api
from callflows.models import CallLog, OutboundCall
from dins.models import SubscriptionStatus
from dins.tests.factories import SubscriptionFactory
from portal.models import Alert, AuditEvent
from portal.scoping import scopes_disabled, tenant_scope
from portal.tests.companies import japanese_clinic

# The document as published (through JSON, as clients read it).
SCHEMA = json.loads(json.dumps(api.get_openapi_schema(), cls=DjangoJSONEncoder))


def _validate(path: str, method: str, response):
    """The answer against the OpenAPI document's schema for its status (contract test)."""
    operation = SCHEMA["paths"][path][method]
    declared = operation["responses"][str(response.status_code)]
    schema = declared["content"]["application/json"]["schema"]
    document = {"components": SCHEMA["components"], **schema}
    jsonschema.validate(response.json(), document)


@pytest.fixture
def company(personas, time_machine):
    time_machine.move_to(datetime.datetime(2026, 12, 1, 10, 0, tzinfo=datetime.UTC))
    return japanese_clinic(personas)


def test_every_read_answers_what_the_openapi_document_says(api_as, company):
    reader = api_as("viewer")
    number, alert, call = company["subscription"], company["alert"], company["outboundcall"]
    reads = {
        "/api/v1/numbers": "/api/v1/numbers",
        "/api/v1/numbers/{subscription_code}": f"/api/v1/numbers/{number.code}",
        "/api/v1/numbers/{subscription_code}/flow": f"/api/v1/numbers/{number.code}/flow",
        "/api/v1/numbers/{subscription_code}/flow/preview": (
            f"/api/v1/numbers/{number.code}/flow/preview?at=2026-12-07T12:30&caller=090-1234-5678"
        ),
        "/api/v1/calls": "/api/v1/calls?limit=2",
        "/api/v1/alerts": "/api/v1/alerts",
        "/api/v1/assets": "/api/v1/assets",
        "/api/v1/assets/scripts": "/api/v1/assets/scripts",
        "/api/v1/outbound-calls/{outboundcall_code}": f"/api/v1/outbound-calls/{call.code}",
    }
    # asked of the carrier (test_api_resources.py), and CSV (not JSON): checked there
    elsewhere = {"/api/v1/numbers/offers", "/api/v1/calls/csv"}
    assert set(reads) | elsewhere == {p for p, m in SCHEMA["paths"].items() if "get" in m}
    for path, url in reads.items():
        response = reader.get(url)
        assert response.status_code == 200, (url, response.content)
        _validate(path, "get", response)
    # errors are in the document too, in one shape
    response = reader.get(f"/api/v1/numbers/{number.code}/flow/preview?at=yesterday")
    assert response.status_code == 422
    _validate("/api/v1/numbers/{subscription_code}/flow/preview", "get", response)
    assert response.json()["errors"][0]["field"] == "at"
    assert alert.code


def test_the_preview_answers_as_the_page_does(api_as, company, client, personas):
    number = company["subscription"]
    response = api_as("viewer").get(
        f"/api/v1/numbers/{number.code}/flow/preview?at=2026-12-07T12:30&caller=090-1234-5678"
    )
    assert response.status_code == 200
    # Monday 12:30 in Tokyo: the lunch break rule takes a voicemail
    assert response.json()["rule"] == "昼休み"
    assert response.json()["command"].startswith("voicemail")
    client.force_login(personas.viewer_a)
    page = client.get(
        f"/numbers/{number.code}/flow/preview/?at=2026-12-07T12:30&caller=090-1234-5678"
    )
    assert "昼休み" in page.content.decode()


def test_the_override_is_set_and_ended_under_the_keys_name(api_as, company, personas):
    staff = api_as("staff")
    number = company["subscription"]

    response = staff.put(f"/api/v1/numbers/{number.code}/override", {})
    assert response.status_code == 200, response.content
    assert response.json()["active"] is True
    # the one-tap switch: until the next opening (Wednesday 09:00 in Tokyo, from Tuesday)
    until = datetime.datetime.fromisoformat(response.json()["until"])
    assert until == datetime.datetime(2026, 12, 2, 9, 0, tzinfo=personas.tenant_a.zone)
    preview = staff.get(f"/api/v1/numbers/{number.code}/flow/preview?at=2026-12-01T20:00")
    assert preview.json()["source"] == "override"

    response = staff.delete(f"/api/v1/numbers/{number.code}/override")
    assert response.json()["active"] is False
    with scopes_disabled():
        events = list(AuditEvent.objects.filter(object_code=str(number.code)).order_by("id"))
    assert [e.action for e in events[-2:]] == ["callflow.override", "callflow.override_end"]
    assert all(e.actor_id is None and e.actor_label.startswith("apikey:") for e in events[-2:])
    assert events[-1].actor_label.endswith(":staff key")


def test_a_custom_override_is_checked_like_the_pages(api_as, company):
    number = company["subscription"]
    response = api_as("staff").put(
        f"/api/v1/numbers/{number.code}/override",
        {"until": "2026-12-01T23:00:00+09:00", "action": {"type": "transfer", "number": "x"}},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


def test_the_call_log_pages_by_cursor_without_gaps_or_repeats(api_as, company, personas):
    reader = api_as("viewer")
    with tenant_scope(personas.tenant_a):
        total = CallLog.objects.count()
    seen, cursor = [], ""
    while True:
        response = reader.get(f"/api/v1/calls?limit=2&cursor={cursor}")
        assert response.status_code == 200
        seen += [call["code"] for call in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == total == 6
    fallback = reader.get("/api/v1/calls?source=fallback").json()["items"]
    assert [call["source"] for call in fallback] == ["fallback"]
    assert reader.get("/api/v1/calls?cursor=garbage").status_code == 422
    assert reader.get("/api/v1/calls?source=nope").status_code == 422


def test_alerts_are_acknowledged_once(api_as, company, personas):
    staff = api_as("staff")
    alert = company["alert"]
    first = staff.post(f"/api/v1/alerts/{alert.code}/acknowledge")
    second = staff.post(f"/api/v1/alerts/{alert.code}/acknowledge")
    assert (first.json()["changed"], second.json()["changed"]) == (True, False)
    with scopes_disabled():
        assert Alert.objects.get(pk=alert.pk).acknowledged_at is not None
    codes = [a["code"] for a in staff.get("/api/v1/alerts").json()["items"]]
    assert str(alert.code) not in codes


def test_release_needs_the_number_typed_as_on_the_page(api_as, company, task_queue):
    admin = api_as("admin")
    number = company["subscription"]
    wrong = admin.post(f"/api/v1/numbers/{number.code}/release", {"typed_number": "050-0000"})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "typed_number"
    number.refresh_from_db()
    assert number.status == SubscriptionStatus.ACTIVE

    right = admin.post(f"/api/v1/numbers/{number.code}/release", {"typed_number": "050-1111-2222"})
    assert right.status_code == 202, right.content
    assert right.json()["status"] == "releasing"


def test_keep_turns_a_trial_into_a_subscription(api_as, company):
    trial = company["trial"]
    response = api_as("admin").post(f"/api/v1/numbers/{trial.code}/keep")
    assert response.status_code == 200
    assert response.json()["is_trial"] is False
    assert api_as("staff").post(f"/api/v1/numbers/{trial.code}/keep").status_code == 403


def test_an_outbound_call_is_placed_once_per_idempotency_key(api_as, company, personas):
    staff = api_as("staff")
    number = company["subscription"]
    body = {"recipient": "080-1234-5678", "message_kind": "text", "text": "Hi", "tts_lang": "en"}
    url = f"/api/v1/numbers/{number.code}/calls"
    first = staff.post(url, body, headers={"Idempotency-Key": "order-42"})
    again = staff.post(url, body, headers={"Idempotency-Key": "order-42"})
    other = staff.post(url, {**body, "text": "Bye"}, headers={"Idempotency-Key": "order-42"})
    missing = staff.post(url, body)
    assert (first.status_code, again.status_code) == (201, 200), first.content
    assert first.json()["code"] == again.json()["code"]
    assert first.json()["recipient"] == "+818012345678"
    assert other.json()["code"] == "idempotency_key_reused"
    assert missing.status_code == 422
    with tenant_scope(personas.tenant_a):
        assert OutboundCall.objects.filter(text_or_none()).count() == 1
    status = staff.get(f"/api/v1/outbound-calls/{first.json()['code']}")
    assert status.json()["status"] == "queued"


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"message_kind": "audio"}, "audio", "Choose an MP3 from the library."),
        ({"message_kind": "text", "text": ""}, "text", "Type the text to read."),
        ({"message_kind": "text", "recipient": "0990-123-456"}, "recipient", "premium-rate"),
    ],
)
def test_an_outbound_call_is_refused_on_the_field_the_service_names_and_the_key_stays_free(
    api_as, company, personas, body, field, message
):
    staff = api_as("staff")
    url = f"/api/v1/numbers/{company['subscription'].code}/calls"
    full = {"recipient": "080-1234-5678", "text": "Hi", "tts_lang": "en", **body}
    with tenant_scope(personas.tenant_a):
        calls_before = OutboundCall.objects.count()

    refused = staff.post(url, full, headers={"Idempotency-Key": f"refused-{field}"})

    assert refused.status_code == 422, refused.content
    [error] = refused.json()["errors"]
    assert error["field"] == field and message in error["message"]
    with tenant_scope(personas.tenant_a):
        assert OutboundCall.objects.count() == calls_before
    fixed = {"recipient": "080-1234-5678", "message_kind": "text", "text": "Hi", "tts_lang": "en"}
    again = staff.post(url, fixed, headers={"Idempotency-Key": f"refused-{field}"})
    assert again.status_code == 201  # a refused request keeps nothing under its key


def text_or_none():
    from django.db.models import Q

    return Q(tts_text="Hi")


def test_a_revoked_key_stops_at_once(api_as, personas):
    reader = api_as("viewer")
    assert reader.get("/api/v1/numbers").status_code == 200
    with scopes_disabled():
        ApiKey.objects.update(revoked_at=timezone.now())
    response = reader.get("/api/v1/numbers")
    assert (response.status_code, response.json()["code"]) == (401, "key_revoked")


def test_an_expired_or_made_up_key_is_refused(api_as, client):
    reader = api_as("viewer")
    with scopes_disabled():
        ApiKey.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert reader.get("/api/v1/numbers").json()["code"] == "key_expired"
    for token in ("dinp_0123456789_nope", "nonsense", reader.token + "x"):
        response = client.get("/api/v1/numbers", headers={"Authorization": f"Bearer {token}"})
        assert (response.status_code, response.json()["code"]) == (401, "invalid_key")


def test_each_key_is_rate_limited(api_as, settings, personas):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    cache.clear()
    first, second = api_as("viewer"), api_as("viewer")
    answers = [first.get("/api/v1/numbers").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = first.get("/api/v1/numbers")
    assert limited.json()["code"] == "rate_limited" and int(limited["Retry-After"]) <= 60
    assert second.get("/api/v1/numbers").status_code == 200  # another key has its own


def test_the_numbers_list_is_the_companys_only(api_as, personas):
    mine = SubscriptionFactory(tenant=personas.tenant_a)
    SubscriptionFactory(tenant=personas.tenant_b)
    items = api_as("viewer").get("/api/v1/numbers").json()["items"]
    assert [item["code"] for item in items] == [str(mine.code)]


def test_the_openapi_document_and_the_docs_are_published(client):
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    assert document.json()["paths"] == SCHEMA["paths"]
    assert document.json()["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"
    assert client.get("/api/v1/docs").status_code == 200
