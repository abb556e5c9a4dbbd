"""Hostile request bodies: every body is one strict schema, strings are text, times are
zone-aware and in range, and every refusal (400, 413, 422, 500 too) is in the API's shape.

Each test here answered 200 or 500 before the API's bodies were made strict (issue 19)."""

import json

import pytest

from callflows.models import CallFlow, FlowVersion
from dins.tests.factories import SubscriptionFactory
from portal.models import AuditEvent
from portal.scoping import scopes_disabled, tenant_scope

VOICEMAIL = {"rules": [], "default": {"type": "voicemail"}}


def _rule(**changes) -> dict:
    rule = {"label": "Open", "when": {"type": "always"}, "then": {"type": "voicemail"}}
    rule.update(changes)
    return rule


@pytest.fixture
def number(personas):
    return SubscriptionFactory(tenant=personas.tenant_a)


def _stored(tenant) -> tuple[int, int]:
    with tenant_scope(tenant):
        return FlowVersion.objects.count(), AuditEvent.objects.count()


def _send(api, method: str, path: str, raw: str | bytes):
    return getattr(api.client, method)(
        path,
        data=raw,
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}"},
    )


def _fields(response) -> list[str]:
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "invalid" and body["detail"]
    return [error["field"] for error in body["errors"]]


@pytest.mark.parametrize(
    "document,field",
    [
        ({"rules": [_rule(label="x\udfffy")], "default": {"type": "voicemail"}}, "label"),
        ({"rules": [_rule(label="x\x00y")], "default": {"type": "voicemail"}}, "label"),
        ({"rules": [_rule(label="ring\x07")], "default": {"type": "voicemail"}}, "label"),
        ({**VOICEMAIL, "a\x00": 1}, "document.?"),
        ({**VOICEMAIL, "notes": "x" * 1000}, "document.notes"),
        ({"rules": [{**_rule(), "extra": 1}], "default": {"type": "voicemail"}}, "extra"),
        ({"rules": [], "default": {"type": "voicemail", "greeting": None, "x": 1}}, "default.x"),
        ({"default": {"type": "voicemail"}}, "document.rules"),
        (
            {
                "rules": [
                    _rule(when={"type": "hours", "weekdays": [0], "start": 9, "end": "18:00"})
                ],
                "default": {"type": "voicemail"},
            },
            "when.start",
        ),
        (
            {
                "rules": [
                    _rule(when={"type": "hours", "weekdays": [0], "start": "09:00", "end": [18]})
                ],
                "default": {"type": "voicemail"},
            },
            "when.end",
        ),
        (
            {
                "rules": [
                    _rule(
                        when={"type": "hours", "weekdays": [True], "start": "09:00", "end": "18:00"}
                    )
                ],
                "default": {"type": "voicemail"},
            },
            "rules[0].when",
        ),
        ({"rules": [], "default": {"type": "say", "script": "a\x00b"}}, "document.default"),
    ],
)
def test_a_flow_document_that_is_not_a_flow_is_refused_and_nothing_is_stored(
    api_as, personas, number, document, field
):
    staff = api_as("staff")
    before = _stored(personas.tenant_a)

    response = staff.put(f"/api/v1/numbers/{number.code}/flow", {"document": document})

    assert any(field in (found or "") for found in _fields(response)), response.json()
    assert _stored(personas.tenant_a) == before
    # the validate route finds the same problem, and saves nothing either
    checked = staff.post(f"/api/v1/numbers/{number.code}/flow/validate", {"document": document})
    assert checked.status_code == 200 and checked.json()["valid"] is False
    assert _stored(personas.tenant_a) == before


def test_a_bad_label_never_reaches_the_history_or_the_pages(api_as, client, personas, number):
    # given a staff key sending a label with a lone surrogate (saved on SQLite, 500 on
    # PostgreSQL before: then the flow page, history and preview answered 500)
    document = {"rules": [_rule(label="x\udfffy")], "default": {"type": "voicemail"}}
    api_as("staff").put(f"/api/v1/numbers/{number.code}/flow", {"document": document})

    # then the company's pages still answer
    client.force_login(personas.owner_a)
    for page in ("", "history/"):
        response = client.get(f"/numbers/{number.code}/flow/{page}")
        assert response.status_code == 200, page
    with scopes_disabled():
        assert not CallFlow.objects.filter(subscription=number).exists()


def test_nul_bytes_in_json_bodies_are_refused_with_the_field_named(api_as, number):
    staff, admin = api_as("staff"), api_as("admin")
    note = staff.put(
        f"/api/v1/numbers/{number.code}/flow", {"document": VOICEMAIL, "note": "a\x00"}
    )
    assert _fields(note) == ["note"]
    subscribe = admin.post("/api/v1/numbers", {"din_uid": "JP\x00x", "mode": "trial"})
    assert _fields(subscribe) == ["din_uid"]
    script = staff.post(
        "/api/v1/assets/scripts", {"name": "Hello\x00", "language": "en", "text": "Hi"}
    )
    assert _fields(script) == ["name"]
    call = staff.post(
        f"/api/v1/numbers/{number.code}/calls",
        {"recipient": "+815012345678", "message_kind": "text", "text": "x\x00", "tts_lang": "en"},
        headers={"Idempotency-Key": "nul-1"},
    )
    assert _fields(call) == ["text"]


@pytest.mark.parametrize(
    "path,body,field",
    [
        ("/api/v1/numbers", {"din_uid": "JPx", "mode": "trial", "admin": True}, "admin"),
        ("/api/v1/assets/scripts", {"name": "a", "language": "en", "text": "b", "x": 1}, "x"),
        ("{number}/release", {"typed_number": "050", "force": True}, "force"),
        ("{number}/override", {"until": "2030-01-01T09:00:00+09:00", "why": "x"}, "why"),
        (
            "{number}/override",
            {"action": {"type": "voicemail", "after": 1}},
            "action.voicemail.after",
        ),
        ("{number}/flow", {"document": VOICEMAIL, "author": "me"}, "author"),
    ],
)
def test_unknown_keys_are_refused_with_the_field_named(api_as, number, path, body, field):
    url = path.replace("{number}", f"/api/v1/numbers/{number.code}")
    method = "put" if url.endswith(("override", "flow")) else "post"
    response = getattr(api_as("admin"), method)(url, body)
    assert field in _fields(response)


@pytest.mark.parametrize("body", ["[]", "null", "1", '"closed"', "true"])
def test_an_override_body_must_be_an_object(api_as, number, body):
    response = _send(api_as("staff"), "put", f"/api/v1/numbers/{number.code}/override", body)
    assert _fields(response) == [None]
    with scopes_disabled():
        assert not CallFlow.objects.filter(subscription=number).exists()


def test_the_one_tap_switch_is_still_an_empty_object(api_as, number):
    response = api_as("staff").put(f"/api/v1/numbers/{number.code}/override", {})
    assert response.status_code == 200, response.content
    assert response.json()["active"] is True


@pytest.mark.parametrize(
    "until,message",
    [
        ("2030-01-01T10:00", "offset"),
        ("2030-01-01T10:00:00", "offset"),
        ("9999-12-31T23:59:00-14:00", "2099-12-31"),
        ("2100-01-01T00:00:00+09:00", "2099-12-31"),
        ("1999-12-31T23:59:00+00:00", "2000-01-01"),
    ],
)
def test_an_override_until_is_zone_aware_and_in_the_portals_dates(api_as, number, until, message):
    response = api_as("staff").put(
        f"/api/v1/numbers/{number.code}/override",
        {"until": until, "action": {"type": "voicemail"}},
    )
    assert _fields(response) == ["until"]
    assert message in response.json()["errors"][0]["message"]
    with scopes_disabled():
        assert not CallFlow.objects.filter(subscription=number).exists()


def test_ten_oversized_flow_documents_add_nothing_to_history_or_the_audit_log(
    api_as, personas, number
):
    staff = api_as("staff")
    before = _stored(personas.tenant_a)
    junk = {f"k{i}": "x" * 900 for i in range(1000)}  # ~0.9 MB of unknown keys
    for _ in range(10):
        response = _send(
            staff,
            "put",
            f"/api/v1/numbers/{number.code}/flow",
            json.dumps({"document": {**VOICEMAIL, **junk}}),
        )
        assert response.status_code == 422
    assert _stored(personas.tenant_a) == before


def test_a_body_that_does_not_parse_has_a_code(api_as, number):
    response = _send(api_as("staff"), "put", f"/api/v1/numbers/{number.code}/flow", "{not json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json" and response.json()["detail"]


def test_an_oversized_body_is_413_in_the_apis_shape(api_as, number, settings):
    raw = b'{"note": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}'
    response = _send(api_as("staff"), "put", f"/api/v1/numbers/{number.code}/flow", raw)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "too_large"


def test_a_server_error_is_json_in_the_apis_shape(api_as, number, client, monkeypatch):
    from api.v1 import flows

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(flows, "_flow", broken)
    client.raise_request_exception = False
    response = api_as("viewer").get(f"/api/v1/numbers/{number.code}/flow")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "server_error" and response.json()["detail"]


@pytest.mark.parametrize(
    "method,path,status,code",
    [
        ("get", "/api/v1/no-such-thing", 404, "not_found"),
        ("delete", "/api/v1/numbers", 405, "method_not_allowed"),
    ],
)
def test_djangos_own_errors_under_the_api_are_in_its_shape(api_as, method, path, status, code):
    response = getattr(api_as("admin"), method)(path)
    assert response.status_code == status
    assert response.json()["code"] == code


def test_the_api_names_the_field_a_validator_missed(api_as, monkeypatch):
    from api.v1 import assets
    from callflows.models import TtsScript

    def careless(**kwargs):
        return TtsScript.objects.create(tenant=kwargs["request"].tenant, name="x\udfff", text="t")

    monkeypatch.setattr(assets.script_services, "script_create", careless)
    response = api_as("staff").post(
        "/api/v1/assets/scripts", {"name": "Hello", "language": "en", "text": "Hi"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "TtsScript.name"
