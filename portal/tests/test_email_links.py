"""Every link in every e-mail the portal sends opens a page, on the people's address.

E-mails are written by workers, whose URLconf is the portal's, and read by people, who reach
the portal at ``PORTAL_BASE_URL`` (not the edge's ``PUBLIC_BASE_URL``, not the Host a request
came in with). Each kind of e-mail is sent here as the worker sends it; each link must start
with the people's address and answer 200 to its recipient once signed in.
"""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail

from dins.tests.factories import SubscriptionFactory
from portal import alerts, platform
from portal.models import AlertKind, PlatformAlertKind, User
from portal.scoping import tenant_scope
from portal.services import invitation_create

PEOPLE = "https://portal.example.com"
CARRIER = "https://calls.example.net"
LINK = re.compile(r"https?://[^\s\"'<>]+")


@pytest.fixture(autouse=True)
def addresses(settings):
    settings.PORTAL_BASE_URL = PEOPLE
    settings.PUBLIC_BASE_URL = CARRIER


def _links(message) -> set[str]:
    found = set(LINK.findall(message.body))
    for content, _type in message.alternatives:
        found |= set(re.findall(r'href="([^"]+)"', content))
    return {link.replace("&amp;", "&") for link in found}


def _opens(client, user: User, link: str) -> int:
    assert link.startswith(PEOPLE + "/"), link
    client.force_login(user)
    return client.get(urlsplit(link).path).status_code


ALERT_CONTEXT = {
    AlertKind.TRIAL_REMINDER: {"minutes_before": 60, "hours_before": 1},
    AlertKind.TRIAL_RELEASED: {"saved": "617.50"},
    AlertKind.SUBSCRIPTION_FAILED: {"reason": "not available", "cause": "carrier"},
    AlertKind.RELEASE_FAILED: {"error": "HTTP 503"},
    AlertKind.TRIAL_OVERDUE: {},
    AlertKind.ACTION_URL_FALLBACK: {"calls": 3},
    AlertKind.CARRIER_CREDENTIALS: {"operation": "release"},
    AlertKind.WEBHOOK_DISABLED: {"url": "https://hooks.example.com/x", "failures": 10},
}


@pytest.mark.parametrize("kind", list(AlertKind))
def test_every_alert_email_links_to_pages_that_open(
    kind, personas, client, task_queue, django_capture_on_commit_callbacks
):
    number = SubscriptionFactory(tenant=personas.tenant_a, trial=True)
    with django_capture_on_commit_callbacks(execute=True), tenant_scope(personas.tenant_a):
        alerts.alert_raise(
            kind=kind,
            subscription=None if kind == AlertKind.WEBHOOK_DISABLED else number,
            context=ALERT_CONTEXT[kind],
        )
    task_queue.run_all_named("portal.send_alert_email")

    message = next(m for m in mail.outbox if personas.owner_a.email in m.to)
    # the company's own webhook URL is named in the text; every other link is ours
    links = _links(message) - {ALERT_CONTEXT[kind].get("url")}
    assert f"{PEOPLE}/alerts/" in links
    if kind != AlertKind.WEBHOOK_DISABLED:
        assert f"{PEOPLE}/numbers/{number.code}/" in links
    assert {link: _opens(client, personas.owner_a, link) for link in links} == {
        link: 200 for link in links
    }


def test_the_invitation_link_opens_the_invitation(
    personas, client, task_queue, rf, django_capture_on_commit_callbacks
):
    request = rf.post("/members/invite/")
    request.user = personas.owner_a
    with django_capture_on_commit_callbacks(execute=True), tenant_scope(personas.tenant_a):
        invitation_create(
            email="new.person@example.com",
            role="staff",
            by=personas.membership(personas.owner_a, personas.tenant_a),
            request=request,
        )
    task_queue.run_all()
    (link,) = [link for link in _links(mail.outbox[-1]) if "/account/invite/" in link]
    assert link.startswith(PEOPLE + "/account/invite/")
    assert client.get(urlsplit(link).path).status_code == 200


def test_the_reset_link_is_on_the_people_address_whatever_host_the_request_named(
    personas, client, task_queue, django_capture_on_commit_callbacks, settings
):
    settings.ALLOWED_HOSTS = ["*"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/account/password/reset/",
            {"email": personas.staff_a.email},
            headers={"host": "attacker.example"},
        )
    task_queue.run_all()
    links = _links(mail.outbox[-1])
    assert links and all(link.startswith(PEOPLE + "/account/password/reset/") for link in links)
    assert not any("attacker.example" in link for link in links)
    page = client.get(urlsplit(next(iter(links))).path, follow=True)
    assert page.status_code == 200 and b"new_password1" in page.content


def test_the_operators_alert_email_links_to_the_operators_page(db, settings, client):
    settings.OPERATOR_ALERT_EMAILS = ["ops@example.com"]
    alert = platform.platform_alert_raise(
        kind=PlatformAlertKind.SCHEDULER_LATE,
        subject="reconcile",
        message="reconcile: last run 1900 s ago.",
        link="/operator/",
    )
    platform.platform_alert_email_send(alert_id=alert.pk)
    links = _links(mail.outbox[-1])
    assert links == {f"{PEOPLE}/operator/"}
    operator = User.objects.create_superuser(email="operator@example.com", password="x")
    assert _opens(client, operator, f"{PEOPLE}/operator/") == 200
