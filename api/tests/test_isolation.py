"""Tenancy and roles over every API operation, walked from the published OpenAPI document.

For each operation that names objects (``{<model>_code}``) the objects are made in tenant A:
tenant B's admin key gets 404 for every one, exactly as the pages answer, and nothing
changes; tenant A's admin key does reach it (positive control). Every write operation
refuses a read-only key with 403 and records nothing; every operation refuses a request
without a key (or with a revoked one) with 401. A new endpoint is covered without a new test.
"""

import re
import uuid

import pytest

from api.models import ApiKey
from api.v1 import api
from portal.models import AuditEvent
from portal.scoping import scopes_disabled
from portal.tests.test_isolation import _load_all_factories, _model_for_kwarg, _snapshot
from testing.scaffolding import TENANT_OBJECT_FACTORIES

SCHEMA = api.get_openapi_schema()
WRITES = {"post", "put", "patch", "delete"}
PARAM = re.compile(r"{(\w+)}")

# A valid body for each write, so that what answers is the tenancy or role check, not the
# input validation (which runs first in the framework).
BODIES = {
    "/api/v1/numbers/{subscription_code}/release": {"typed_number": "+815000000000"},
    "/api/v1/numbers/{subscription_code}/override": {},
    "/api/v1/numbers/{subscription_code}/calls": {
        "recipient": "+815012345678",
        "message_kind": "text",
        "text": "Hello",
        "tts_lang": "en",
    },
    "/api/v1/numbers": {"din_uid": "isolation-din", "mode": "trial"},
    "/api/v1/numbers/{subscription_code}/flow": {
        "document": {"rules": [], "default": {"type": "voicemail"}}
    },
    "/api/v1/numbers/{subscription_code}/flow/validate": {
        "document": {"rules": [], "default": {"type": "voicemail"}}
    },
    "/api/v1/assets/scripts": {"name": "Isolation", "language": "en", "text": "Hello"},
}
QUERIES = {"/api/v1/numbers/{subscription_code}/flow/preview": "?at=2026-12-07T12:30"}
HEADERS = {"/api/v1/numbers/{subscription_code}/calls": {"Idempotency-Key": "isolation-1"}}


def operations():
    for path, methods in SCHEMA["paths"].items():
        for method in methods:
            yield path, method


OPERATIONS = list(operations())
OBJECT_OPERATIONS = [(p, m) for p, m in OPERATIONS if PARAM.search(p)]
WRITE_OPERATIONS = [(p, m) for p, m in OPERATIONS if m in WRITES]


def _ids(items):
    return [f"{method.upper()} {path}" for path, method in items]


def _url(path: str, tenant) -> tuple[str, dict]:
    """The path with objects of ``tenant`` for each ``{<model>_code}``, and those objects."""
    _load_all_factories()
    objects = {}
    with scopes_disabled():
        for kwarg in PARAM.findall(path):
            model = _model_for_kwarg(kwarg)
            related = {type(o)._meta.model_name: o for o in objects.values()}
            objects[kwarg] = TENANT_OBJECT_FACTORIES[model](tenant, **related)
    url = PARAM.sub(lambda m: str(objects[m[1]].code), path) + QUERIES.get(path, "")
    return url, objects


def _audit_count() -> int:
    with scopes_disabled():
        return AuditEvent.objects.count()


def test_it_walks_every_operation():
    assert len(OPERATIONS) >= 22
    assert ("/api/v1/numbers/{subscription_code}/keep", "post") in WRITE_OPERATIONS
    for write in [
        ("/api/v1/numbers", "post"),
        ("/api/v1/numbers/{subscription_code}/flow", "put"),
        ("/api/v1/numbers/{subscription_code}/flow/validate", "post"),
        ("/api/v1/assets/audio", "post"),
        ("/api/v1/assets/scripts", "post"),
    ]:
        assert write in WRITE_OPERATIONS


@pytest.mark.parametrize("path,method", OBJECT_OPERATIONS, ids=_ids(OBJECT_OPERATIONS))
def test_it_answers_404_for_another_companys_object(api_as, personas, path, method):
    # given an object of company A, and keys of both companies
    url, objects = _url(path, personas.tenant_a)
    other, own = api_as("admin", tenant="b"), api_as("admin")
    before, events = _snapshot(objects), _audit_count()

    # when company B's admin key asks for it
    response = other.request(method, url, BODIES.get(path), headers=HEADERS.get(path))

    # then it does not exist for them, in the API's error shape, and nothing changed
    assert response.status_code == 404, (method, url, response.content)
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert _snapshot(objects) == before
    assert _audit_count() == events

    # positive control: company A's admin key reaches it
    response = own.request(method, url, BODIES.get(path), headers=HEADERS.get(path))
    assert response.status_code not in (401, 403, 404), (method, url, response.content)


@pytest.mark.parametrize("path,method", OBJECT_OPERATIONS, ids=_ids(OBJECT_OPERATIONS))
def test_it_answers_404_for_a_code_that_does_not_exist(api_as, path, method):
    url = PARAM.sub(lambda m: str(uuid.uuid4()), path) + QUERIES.get(path, "")
    response = api_as("admin").request(method, url, BODIES.get(path), headers=HEADERS.get(path))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("path,method", WRITE_OPERATIONS, ids=_ids(WRITE_OPERATIONS))
def test_it_refuses_every_write_to_a_read_only_key(api_as, personas, path, method):
    url, objects = _url(path, personas.tenant_a)
    viewer = api_as("viewer")
    before, events = _snapshot(objects), _audit_count()

    response = viewer.request(method, url, BODIES.get(path), headers=HEADERS.get(path))

    assert response.status_code == 403, (method, url, response.content)
    assert response.json()["code"] == "permission_denied"
    assert _snapshot(objects) == before
    assert _audit_count() == events


@pytest.mark.parametrize("path,method", OPERATIONS, ids=_ids(OPERATIONS))
def test_it_answers_401_without_a_key_or_with_a_revoked_one(client, api_as, personas, path, method):
    url, _objects = _url(path, personas.tenant_a)
    revoked = api_as("admin")
    events = _audit_count()

    anonymous = client.generic(method.upper(), url, b"{}", content_type="application/json")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    assert anonymous["WWW-Authenticate"] == "Bearer"

    # a member's session is not a key either
    client.force_login(personas.owner_a)
    with_session = client.generic(method.upper(), url, b"{}", content_type="application/json")
    assert with_session.status_code == 401

    with scopes_disabled():
        ApiKey.objects.update(revoked_at="2026-01-01T00:00:00Z")
    response = revoked.request(method, url, BODIES.get(path), headers=HEADERS.get(path))
    assert response.status_code == 401
    assert response.json()["code"] == "key_revoked"
    assert _audit_count() == events
