import datetime

import pytest
from django.urls import reverse

from portal.models import AuditEvent, Role
from portal.scoping import tenant_scope
from testing.scaffolding import MembershipFactory


def test_it_shows_the_tenants_real_figures_on_the_dashboard(client, personas):
    MembershipFactory(tenant=personas.tenant_a, role=Role.VIEWER)
    client.force_login(personas.owner_a)
    page = client.get(reverse("dashboard")).content.decode()
    assert 'data-figure="members">6<' in page


def test_it_saves_tenant_settings_and_audits_them(client, personas):
    client.force_login(personas.admin_a)
    response = client.post(
        reverse("tenant_settings"),
        {"name": "Alpha Dental", "timezone": "Asia/Tokyo", "language": "en"},
    )
    assert response.status_code == 302
    personas.tenant_a.refresh_from_db()
    assert personas.tenant_a.name == "Alpha Dental"
    with tenant_scope(personas.tenant_a):
        event = AuditEvent.objects.get(action="tenant.update")
    assert event.before["name"] == "Alpha Clinic" and event.after["name"] == "Alpha Dental"


def test_it_keeps_the_typed_values_when_settings_are_invalid(client, personas):
    client.force_login(personas.owner_a)
    response = client.post(
        reverse("tenant_settings"),
        {"name": "Renamed", "timezone": "Mars/Olympus", "language": "en"},
    )
    assert response.status_code == 200
    assert 'value="Renamed"' in response.content.decode()
    personas.tenant_a.refresh_from_db()
    assert personas.tenant_a.name == "Alpha Clinic"


@pytest.fixture
def events(personas):
    with tenant_scope(personas.tenant_a):
        for day, action in [(1, "membership.remove"), (2, "tenant.update"), (3, "tenant.update")]:
            event = AuditEvent.objects.create(
                tenant=personas.tenant_a,
                actor=personas.owner_a,
                actor_label=personas.owner_a.email,
                action=action,
                object_type="tenant",
                object_repr=f"event {day}",
            )
            when = datetime.datetime(2026, 11, day, 12, tzinfo=datetime.UTC)
            AuditEvent.objects.filter(pk=event.pk).update(created_at=when)
    with tenant_scope(personas.tenant_b):
        AuditEvent.objects.create(
            tenant=personas.tenant_b,
            actor_label="x",
            action="tenant.update",
            object_type="tenant",
            object_repr="foreign event",
        )


def test_it_filters_the_audit_log_within_the_tenant(client, personas, events):
    client.force_login(personas.viewer_a)
    page = client.get(reverse("audit_log"), {"action": "tenant.update"}).content.decode()
    assert "event 2" in page and "event 3" in page
    assert "event 1" not in page and "foreign event" not in page

    page = client.get(
        reverse("audit_log"), {"since": "2026-11-02", "until": "2026-11-02"}
    ).content.decode()
    assert "event 2" in page and "event 3" not in page


def test_it_answers_htmx_with_only_the_rows(client, personas, events):
    client.force_login(personas.viewer_a)
    response = client.get(reverse("audit_log"), {"query": "event 3"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body and "event 3" in body


def test_it_ignores_nonsense_audit_filters(client, personas, events):
    client.force_login(personas.viewer_a)
    response = client.get(reverse("audit_log"), {"since": "not-a-date", "page": "9999"})
    assert response.status_code == 200


def test_it_sends_security_headers(client, personas):
    client.force_login(personas.viewer_a)
    response = client.get(reverse("dashboard"))
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_it_renders_a_friendly_404(client, personas):
    client.force_login(personas.viewer_a)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert (
        "dashboard" in response.content.decode().lower()
        or "ダッシュボード" in response.content.decode()
    )


def test_it_renders_a_friendly_500_without_leaking_details(client, personas, settings):
    settings.ROOT_URLCONF = "portal.tests.urls_failing"
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
    assert "secret detail" not in response.content.decode()


def test_it_answers_the_health_check(client, db):
    assert client.get(reverse("healthz")).content == b"ok"


def test_every_page_has_an_icon_and_the_browsers_root_request_finds_it(client, personas):
    client.force_login(personas.viewer_a)
    page = client.get(reverse("dashboard")).content.decode()
    assert 'rel="icon"' in page and "favicon.svg" in page

    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"].endswith("favicon.ico")
