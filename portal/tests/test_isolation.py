"""Tenancy is security: walk every URL pattern instead of testing views one by one.

A URL that takes ``<uuid:<model>_code>`` is an object URL. For each, we make the object(s) in
tenant A and prove that tenant B's owner gets 404 for every method, that nothing changed, and
(positive control) that tenant A's owner does not get 404. Every other tenant URL is posted to
by a viewer, who must get 403 (or 405) and change nothing.
"""

import importlib
import uuid
from pathlib import Path

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import UUIDConverter

from portal.models import AuditEvent, TenantOwned
from portal.scoping import scopes_disabled
from testing.scaffolding import TENANT_OBJECT_FACTORIES

# URLs that are not tenant data: the carrier sandbox (its own account), Django admin and the
# operators' pages (superusers, across companies: tested in test_operator.py), the action URL
# and the outbound-call callback (token-addressed, tested by their own suites) and static files.
# The API answers keys, not sessions: api/tests/test_isolation.py walks its OpenAPI document.
OUTSIDE_TENANCY_PREFIXES = (
    "admin/",
    "operator/",
    "sandbox/",
    "a/",
    "c/",
    "static/",
    "media/",
    "api/v1/",
)

# Personal or public endpoints: they touch only the visitor's own session, language, password
# or invitation, never a tenant's data.
PERSONAL_PREFIXES = ("account/",)
PERSONAL_NAMES = {
    "tenant_switch",
    "no_tenant",
    "healthz",
    "favicon",
    "edge_healthz",
    "platform_health",
    "metrics",
}


def _load_all_factories():
    """Import ``<app>/tests/factories.py`` of every app that has one (they register)."""
    for config in apps.get_app_configs():
        if (Path(config.path) / "tests" / "factories.py").exists():
            importlib.import_module(f"{config.name}.tests.factories")


def _walk(patterns, prefix=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and entry.name:
            yield route, entry


def _uuid_kwargs(pattern: URLPattern) -> list[str]:
    converters = getattr(pattern.pattern, "converters", {})
    return [name for name, conv in converters.items() if isinstance(conv, UUIDConverter)]


def tenant_routes():
    for route, pattern in _walk(get_resolver().url_patterns):
        if route.startswith(OUTSIDE_TENANCY_PREFIXES):
            continue
        yield route, pattern


def _model_for_kwarg(kwarg: str):
    tenant_models = {
        f"{model._meta.model_name}_code": model
        for model in apps.get_models()
        if issubclass(model, TenantOwned)
    }
    assert kwarg in tenant_models, (
        f"URL kwarg {kwarg!r} names no tenant-owned model; name object codes "
        "'<model>_code' so tenant isolation is checked for them."
    )
    return tenant_models[kwarg]


def object_routes():
    return [(route, p) for route, p in tenant_routes() if _uuid_kwargs(p)]


def _make_objects(pattern, tenant):
    _load_all_factories()
    objects = {}
    with scopes_disabled():
        for kwarg in _uuid_kwargs(pattern):
            model = _model_for_kwarg(kwarg)
            assert model in TENANT_OBJECT_FACTORIES, (
                f"No tenant_object_factory for {model.__name__}: register one in "
                f"{model._meta.app_label}/tests/factories.py"
            )
            # Factories may use the objects made before them for the same URL (a version
            # belongs to the number named earlier in the path).
            objects[kwarg] = TENANT_OBJECT_FACTORIES[model](tenant, **_related(objects))
    return objects


def _related(objects: dict) -> dict:
    return {type(obj)._meta.model_name: obj for obj in objects.values()}


def _snapshot(objects):
    with scopes_disabled():
        return {
            kwarg: type(obj).objects.filter(pk=obj.pk).values().first()
            for kwarg, obj in objects.items()
        }


def test_it_finds_the_object_urls_it_guards():
    names = {p.name for _route, p in object_routes()}
    assert {"member_role", "member_remove", "invitation_revoke"} <= names


@pytest.mark.parametrize(
    "route,pattern", object_routes(), ids=[p.name for _r, p in object_routes()]
)
def test_it_answers_404_for_another_tenants_object(client, personas, route, pattern):
    # given an object of tenant A
    objects = _make_objects(pattern, personas.tenant_a)
    url = reverse(pattern.name, kwargs={k: obj.code for k, obj in objects.items()})
    before = _snapshot(objects)
    with scopes_disabled():
        events_before = AuditEvent.objects.count()

    # when tenant B's owner tries every method on it
    client.force_login(personas.owner_b)
    for method in ("get", "post", "put", "patch", "delete"):
        response = getattr(client, method)(url, HTTP_HX_REQUEST="true")
        # then it does not exist for them, and nothing changed
        assert response.status_code in (404, 405), (method, url, response.status_code)
        if response.status_code == 405:
            assert method not in ("get", "post") or method not in response["Allow"].lower()

    assert _snapshot(objects) == before
    with scopes_disabled():
        assert AuditEvent.objects.count() == events_before

    # positive control: the owner of A does reach it (the 404 above is about tenancy)
    client.force_login(personas.owner_a)
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url)
    assert response.status_code not in (404, 405)


def test_it_answers_404_for_a_code_that_does_not_exist(client, personas):
    client.force_login(personas.owner_a)
    for _route, pattern in object_routes():
        url = reverse(pattern.name, kwargs={k: uuid.uuid4() for k in _uuid_kwargs(pattern)})
        assert client.post(url).status_code in (404, 405)


def _own_tenant_url(pattern, personas):
    objects = _make_objects(pattern, personas.tenant_a)
    return reverse(pattern.name, kwargs={k: obj.code for k, obj in objects.items()})


WRITE_ROUTES = [
    (route, p)
    for route, p in tenant_routes()
    if p.name not in PERSONAL_NAMES and not route.startswith(PERSONAL_PREFIXES)
]


@pytest.mark.parametrize("route,pattern", WRITE_ROUTES, ids=[p.name for _r, p in WRITE_ROUTES])
def test_it_refuses_every_write_to_a_viewer(client, personas, route, pattern):
    # given a viewer of tenant A and objects of tenant A
    url = _own_tenant_url(pattern, personas)
    with scopes_disabled():
        events_before = AuditEvent.objects.count()
    client.force_login(personas.viewer_a)

    # when the viewer posts to the URL
    response = client.post(url, {"role": "owner", "name": "Hijacked", "email": "x@example.com"})

    # then it is forbidden (or the URL takes no POST at all), and nothing was recorded
    assert response.status_code in (403, 405), (url, response.status_code)
    with scopes_disabled():
        assert AuditEvent.objects.count() == events_before


@pytest.mark.parametrize("route,pattern", WRITE_ROUTES, ids=[p.name for _r, p in WRITE_ROUTES])
def test_it_shows_every_page_to_a_viewer_or_says_why_not(client, personas, route, pattern):
    url = _own_tenant_url(pattern, personas)
    client.force_login(personas.viewer_a)
    response = client.get(url)
    # Viewers can see everything: a page answers 200 (or redirects within the portal);
    # write-only endpoints answer 405 or, for confirmation pages of writes, 403 with a reason.
    if response.status_code == 503 and pattern.name == "script_listen":
        # The spoken preview needs espeak-ng; a machine without it says so (the pages, too).
        from callflows.assets.scripts import preview_available

        assert not preview_available() and b"espeak-ng" in response.content
        return
    assert response.status_code in (200, 302, 403, 405), (url, response.status_code)
    if response.status_code == 403:
        assert b"role" in response.content.lower() or "役割".encode() in response.content


def test_it_sends_anonymous_visitors_to_sign_in(client, personas):
    for _route, pattern in WRITE_ROUTES:
        url = _own_tenant_url(pattern, personas)
        response = client.get(url)
        assert response.status_code in (302, 405), (url, response.status_code)
        if response.status_code == 302:
            assert response["Location"].startswith(reverse("login"))
