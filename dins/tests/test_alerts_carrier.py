"""Alerts raised by the numbers' life at the carrier, over real HTTP to the sandbox."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from dins.models import Subscription, SubscriptionStatus
from dins.subscriptions.release import subscription_release
from dins.subscriptions.sweep import trial_sweep
from dins.tests.test_lifecycle import _free_din, _subscribe, _taken_by_another_account
from portal.models import Alert, AlertKind
from portal.phone import display
from portal.scoping import scopes_disabled, tenant_scope
from sandbox.faults import sandbox_fault_add

pytestmark = pytest.mark.django_db(transaction=True)

SUBSCRIBE_PATH = r"^/voice/dins/subscriptions/?$"
RELEASE_PATH = r"^/voice/dins/subscriptions/[^/]+/?$"
OWNER_AND_ADMIN = ["admin.a@example.com", "owner.a@example.com"]


@pytest.fixture
def owner(client, personas, sandbox_url, settings, live_server):
    client.force_login(personas.owner_a)
    return client


def _alerts() -> list[tuple[str, int | None]]:
    with scopes_disabled():
        return list(Alert.objects.order_by("id").values_list("kind", "number_id"))


def _release(subscription):
    with tenant_scope(subscription.tenant):
        subscription_release(subscription_id=subscription.pk)


def test_it_alerts_when_the_carrier_refuses_a_subscription(owner, task_queue, xoxzo):
    # given a number someone else takes after it was offered here
    din = _free_din(xoxzo)
    owner.post(reverse("number_subscribe"), {"din_uid": din.din_uid, "mode": "trial"})
    _taken_by_another_account(din.din_uid)

    # when the subscribe task runs
    task_queue.run_all()

    with scopes_disabled():
        subscription = Subscription.objects.get(din_uid=din.din_uid)
        alert = Alert.objects.get()
    assert subscription.status == SubscriptionStatus.FAILED
    assert (alert.kind, alert.number_id) == (AlertKind.SUBSCRIPTION_FAILED, subscription.pk)
    assert alert.context["reason"] == subscription.failure_reason
    assert sorted(m.to[0] for m in mail.outbox) == OWNER_AND_ADMIN
    assert all(
        f"Subscribing to {display(subscription.e164)} failed" == m.subject for m in mail.outbox
    )


def test_it_alerts_once_when_the_carrier_rejects_the_credentials(owner, task_queue, xoxzo):
    din = _free_din(xoxzo)
    sandbox_fault_add(method="POST", path_pattern=SUBSCRIBE_PATH, status=401)
    owner.post(reverse("number_subscribe"), {"din_uid": din.din_uid, "mode": "keep"})
    task_queue.run_all()

    with scopes_disabled():
        subscription = Subscription.objects.get(din_uid=din.din_uid)
    assert subscription.status == SubscriptionStatus.FAILED
    # one event, one alert: the credentials one says which number it hit
    assert _alerts() == [(AlertKind.CARRIER_CREDENTIALS, subscription.pk)]
    assert sorted(m.to[0] for m in mail.outbox) == OWNER_AND_ADMIN
    assert "rejected DIN Portal's credentials" in mail.outbox[0].subject
    assert display(subscription.e164) in mail.outbox[0].body

    # the same refusal on the search page within the hour mails nobody again
    another = _free_din(xoxzo)
    sandbox_fault_add(method="GET", path_pattern=r"^/voice/dins/?$", status=401)
    page = owner.post(
        reverse("number_subscribe"), {"din_uid": another.din_uid, "mode": "keep"}, follow=True
    )
    assert "An operator must update the carrier account" in page.content.decode()
    task_queue.run_all()
    assert len(_alerts()) == 1 and len(mail.outbox) == 2

    # an hour later it is news again
    sandbox_fault_add(method="GET", path_pattern=r"^/voice/dins/?$", status=401)
    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        owner.post(reverse("number_subscribe"), {"din_uid": another.din_uid, "mode": "keep"})
        task_queue.run_all()
    assert _alerts() == [
        (AlertKind.CARRIER_CREDENTIALS, subscription.pk),
        (AlertKind.CARRIER_CREDENTIALS, None),
    ]
    assert len(mail.outbox) == 4


def test_it_alerts_when_a_release_is_refused_but_not_when_the_carrier_is_busy(
    owner, task_queue, xoxzo
):
    subscription = _subscribe(owner, task_queue, _free_din(xoxzo).din_uid)
    sandbox_fault_add(method="DELETE", path_pattern=RELEASE_PATH, status=503, times=3)
    sandbox_fault_add(method="DELETE", path_pattern=RELEASE_PATH, status=401)

    with time_machine.travel(subscription.release_at + timedelta(seconds=1)):
        trial_sweep()
        task_queue.sent.clear()  # the reminder of the sweep is not what this test is about
        before = _alerts()
        # a 503 (the client retries it three times) is transient: retried quietly
        with pytest.raises(Exception, match="503"):
            _release(subscription)
        assert _alerts() == before
        # a 401 will not go away by retrying: people are told
        with pytest.raises(Exception, match=r"401|credentials|refused"):
            _release(subscription)
    assert _alerts()[len(before) :] == [(AlertKind.CARRIER_CREDENTIALS, subscription.pk)]
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.RELEASING and subscription.release_error


def test_it_alerts_on_a_release_the_carrier_refuses_for_another_reason(owner, task_queue, xoxzo):
    subscription = _subscribe(owner, task_queue, _free_din(xoxzo).din_uid)
    sandbox_fault_add(method="DELETE", path_pattern=RELEASE_PATH, status=403)

    with time_machine.travel(subscription.release_at + timedelta(seconds=1)):
        trial_sweep()
        task_queue.sent.clear()
        before = _alerts()
        with pytest.raises(Exception):  # noqa: B017 - whatever the client makes of a 403
            _release(subscription)

    assert _alerts()[len(before) :] == [(AlertKind.RELEASE_FAILED, subscription.pk)]
