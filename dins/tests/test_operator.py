"""Platform operators: their landing page, costs across companies, and Django admin actions."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from callflows.flows.services import DEFAULT_DOCUMENT
from callflows.models import CallFlow
from dins.models import Subscription, SubscriptionStatus
from dins.tests.factories import SubscriptionFactory
from portal.models import Alert, AlertKind, AuditEvent, User
from portal.phone import display
from portal.scoping import scopes_disabled, tenant_scope
from testing.scaffolding import PASSWORD


@pytest.fixture
def operator(db):
    return User.objects.create_superuser(
        email="operator@example.com", password=PASSWORD, language="en"
    )


def test_it_lands_an_operator_without_a_company_on_the_operators_page(client, operator, personas):
    # given work stuck in tenant A: a release started long ago and never finished
    stuck = SubscriptionFactory(
        tenant=personas.tenant_a,
        status=SubscriptionStatus.RELEASING,
        release_claimed_at=timezone.now() - datetime.timedelta(hours=2),
        release_error="carrier answered HTTP 503",
    )
    with tenant_scope(personas.tenant_b):
        Alert.objects.create(
            tenant=personas.tenant_b,
            kind=AlertKind.CARRIER_CREDENTIALS,
            dedup_key="x",
            context={"operation": "release"},
        )

    # when the operator signs in
    response = client.post(
        reverse("login"), {"username": operator.email, "password": PASSWORD}, follow=True
    )

    # then they land on the operators' page, not "not a member of any company"
    assert response.redirect_chain[-1][0] == reverse("operator_home")
    page = response.content.decode()
    assert "Alpha Clinic" in page and "Beta Trading" in page
    assert 'data-stuck="release"' in page and display(stuck.e164) in page
    assert "Beta Trading</strong> · ACTION NEEDED: the carrier rejected" in page


def test_it_keeps_the_operators_pages_from_members(client, personas):
    urls = (reverse("operator_home"), reverse("operator_costs"))
    for url in urls:
        assert client.get(url).status_code == 302  # signed out: to the sign-in page
    client.force_login(personas.owner_a)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 403
        assert "platform operators only" in response.content.decode()


def test_it_shows_every_companys_costs_to_operators(client, operator, personas):
    SubscriptionFactory(tenant=personas.tenant_a)  # 650 a month
    SubscriptionFactory(tenant=personas.tenant_b, trial=True)  # 32.50 for the trial
    client.force_login(operator)

    page = client.get(reverse("operator_costs")).content.decode()

    assert "682.5 credits" in page  # the total across companies
    assert "Alpha Clinic" in page and "Beta Trading" in page


@pytest.mark.parametrize(
    "model",
    [
        "dins/subscription",
        "callflows/outboundcall",
        "callflows/callflow",
        "callflows/flowversion",
        "callflows/calllog",
        "portal/alert",
        "portal/auditevent",
    ],
)
def test_it_lets_operators_see_every_record_in_admin(client, operator, personas, model):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    with tenant_scope(personas.tenant_a):
        CallFlow.objects.create(
            tenant=personas.tenant_a, subscription=number, document=DEFAULT_DOCUMENT
        )
    client.force_login(operator)
    assert client.get(f"/admin/{model}/").status_code == 200


def test_it_never_deletes_a_subscription_in_admin(client, operator, personas):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    client.force_login(operator)

    changelist = client.get("/admin/dins/subscription/").content.decode()
    response = client.post(f"/admin/dins/subscription/{number.pk}/delete/", {"post": "yes"})

    assert "delete_selected" not in changelist
    assert response.status_code == 403
    with scopes_disabled():
        assert Subscription.objects.filter(pk=number.pk).exists()


def _run_action(client, action, subscriptions, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(
            "/admin/dins/subscription/",
            {"action": action, "_selected_action": [s.pk for s in subscriptions]},
            follow=True,
        )


def test_it_retries_a_failed_subscription_through_the_subscribe_task(
    client, operator, personas, task_queue, django_capture_on_commit_callbacks
):
    failed = SubscriptionFactory(
        tenant=personas.tenant_a, status=SubscriptionStatus.FAILED, failure_reason="busy"
    )
    active = SubscriptionFactory(tenant=personas.tenant_a)
    client.force_login(operator)

    response = _run_action(
        client, "retry_subscribe", [failed, active], django_capture_on_commit_callbacks
    )

    assert "1 subscription will be tried again." in response.content.decode()
    with scopes_disabled():
        failed.refresh_from_db()
        events = list(AuditEvent.objects.filter(action="subscription.request"))
    assert failed.status == SubscriptionStatus.PENDING and failed.failure_reason == ""
    assert task_queue.names() == ["dins.subscribe"]
    assert [e.actor for e in events] == [operator]


def test_it_releases_and_pushes_action_urls_from_admin(
    client, operator, personas, task_queue, django_capture_on_commit_callbacks
):
    first, second = (SubscriptionFactory(tenant=personas.tenant_a) for _ in range(2))
    client.force_login(operator)

    _run_action(client, "push_action_url", [first, second], django_capture_on_commit_callbacks)
    assert task_queue.names() == ["dins.push_action_url", "dins.push_action_url"]

    task_queue.sent.clear()
    response = _run_action(client, "release", [first], django_capture_on_commit_callbacks)
    assert "1 number is being released." in response.content.decode()
    with scopes_disabled():
        first.refresh_from_db()
    assert first.status == SubscriptionStatus.RELEASING
    assert task_queue.names() == ["dins.release"]
