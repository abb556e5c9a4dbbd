"""The trial guard and subscriptions when the carrier fails, over real HTTP to the sandbox.

Failures are the sandbox's own fault injection (``SandboxFault``): answered before the
request takes effect, after it took effect, or late (a timeout after the request left).
"""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from dins.models import Subscription, SubscriptionStatus
from dins.subscriptions.common import action_url_for
from dins.subscriptions.subscribe import SubscribeNotSettled
from dins.subscriptions.sweep import trial_sweep
from dins.tasks import release_number
from dins.tests.test_lifecycle import _carrier_holds, _charges, _free_din, _subscribe
from portal.scoping import scopes_disabled
from sandbox.faults import sandbox_fault_add, sandbox_faults_clear

pytestmark = pytest.mark.django_db(transaction=True)

RELEASE_PATH = r"^/voice/dins/subscriptions/[^/]+/?$"
SUBSCRIBE_PATH = r"^/voice/dins/subscriptions/?$"


@pytest.fixture
def carrier(sandbox_url, settings, live_server):
    return sandbox_url


@pytest.fixture
def owner(client, personas, carrier):
    client.force_login(personas.owner_a)
    return client


def test_it_retries_a_release_the_carrier_answers_5xx_and_releases_it(owner, task_queue, xoxzo):
    subscription = _subscribe(owner, task_queue, _free_din(xoxzo).din_uid)
    # the first five DELETEs fail: more than the client's own three attempts
    sandbox_fault_add(method="DELETE", path_pattern=RELEASE_PATH, status=503, times=5)

    with time_machine.travel(subscription.release_at + timedelta(seconds=1)):
        trial_sweep()
        _task, _args, kwargs = next(s for s in task_queue.sent if s[0].name == "dins.release")
        task_queue.sent.clear()
        # Celery's own retry path (eager: the backoff countdowns are skipped)
        release_number.apply(kwargs=kwargs)

    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.RELEASED
    assert subscription.release_attempts == 2
    assert _carrier_holds(xoxzo, subscription.din_uid) is None
    assert sum(_charges(subscription.din_uid)) == -subscription.trial_price


def test_it_flags_a_trial_the_carrier_keeps_refusing_and_releases_it_when_it_recovers(
    owner, task_queue, xoxzo, settings
):
    subscription = _subscribe(owner, task_queue, _free_din(xoxzo).din_uid)
    sandbox_fault_add(method="DELETE", path_pattern=RELEASE_PATH, status=503, times=1000)
    mail.outbox.clear()

    # the carrier is down from release_at until past the deadline
    with time_machine.travel(subscription.release_at + timedelta(seconds=1)):
        trial_sweep()
        for task, args, kwargs in list(task_queue.sent):
            if task.name == "dins.release":
                with pytest.raises(Exception, match="503"):
                    task(*args, **kwargs)
        task_queue.sent.clear()
    with time_machine.travel(subscription.trial_deadline + timedelta(minutes=1)):
        result = trial_sweep()
        assert result.overdue == [subscription.pk]
        task_queue.run_all_named("portal.send_alert_email")
    assert any("could not be released" in m.subject for m in mail.outbox)
    page = owner.get(reverse("dashboard")).content.decode()
    assert "not released before its deadline" in page

    # the carrier recovers; the next sweep after the lease drives the release home
    sandbox_faults_clear()
    later = subscription.trial_deadline + timedelta(minutes=settings.RELEASE_LEASE_MINUTES + 2)
    with time_machine.travel(later):
        assert trial_sweep().redriven == [subscription.pk]
        task_queue.run_all()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.RELEASED
    assert (
        "not released before its deadline" not in owner.get(reverse("dashboard")).content.decode()
    )


def test_it_settles_a_subscribe_that_timed_out_after_it_took_effect(
    owner, task_queue, xoxzo, settings
):
    din = _free_din(xoxzo)
    settings.XOXZO_READ_TIMEOUT = 0.5
    # the carrier subscribes, then answers too late for the client
    sandbox_fault_add(method="POST", path_pattern=SUBSCRIBE_PATH, when="after", delay_seconds=1.5)

    owner.post(reverse("number_subscribe"), {"din_uid": din.din_uid, "mode": "trial"})
    task_queue.run_all_named("dins.subscribe")

    # the task read the carrier's list instead of subscribing again
    with scopes_disabled():
        subscription = Subscription.objects.get(din_uid=din.din_uid)
    assert subscription.status == SubscriptionStatus.ACTIVE and subscription.is_trial
    assert subscription.trial_deadline == subscription.sent_at + timedelta(hours=24)
    assert len(_charges(din.din_uid)) == 1
    task_queue.run_all()
    assert _carrier_holds(xoxzo, din.din_uid).action_url == action_url_for(subscription)


@pytest.mark.parametrize("status", [500, 503])
def test_it_settles_a_subscribe_the_carrier_did_then_answered_5xx(owner, task_queue, xoxzo, status):
    """A 5xx on the one request that is never repeated says nothing about what happened."""
    din = _free_din(xoxzo)
    sandbox_fault_add(method="POST", path_pattern=SUBSCRIBE_PATH, status=status, when="after")

    owner.post(reverse("number_subscribe"), {"din_uid": din.din_uid, "mode": "trial"})
    task, _args, kwargs = task_queue.sent.pop(0)
    task.apply(kwargs=kwargs)  # Celery's own retry path, as a worker runs it

    with scopes_disabled():
        subscription = Subscription.objects.get(din_uid=din.din_uid)
    assert subscription.status == SubscriptionStatus.ACTIVE, subscription.failure_reason
    assert subscription.trial_deadline == subscription.sent_at + timedelta(hours=24)
    assert len(_charges(din.din_uid)) == 1  # one subscription, billed once
    assert len([item for item in xoxzo.list_subscriptions() if item.din_uid == din.din_uid]) == 1


def test_it_subscribes_again_only_after_seeing_the_carrier_never_got_it(owner, task_queue, xoxzo):
    din = _free_din(xoxzo)
    # a 500 before the request took effect: from the client's side, the outcome is unknown
    sandbox_fault_add(method="POST", path_pattern=SUBSCRIBE_PATH, status=500, when="before")

    owner.post(reverse("number_subscribe"), {"din_uid": din.din_uid, "mode": "keep"})
    task, _args, kwargs = task_queue.sent.pop(0)
    # too early to conclude: the request might still be on its way; the task looks again later
    with pytest.raises(SubscribeNotSettled):
        task(**kwargs)
    with scopes_disabled():
        subscription = Subscription.objects.get(din_uid=din.din_uid)
    assert subscription.status == SubscriptionStatus.SUBSCRIBING

    later = subscription.last_sent_at + timedelta(minutes=2)
    with time_machine.travel(later):
        task(**kwargs)  # the retry: still not listed, long after the request → asked afresh
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert len(_charges(din.din_uid)) == 1
    assert subscription.carrier_accepted_at == subscription.sent_at  # the first send time


def test_it_retries_a_subscribe_refused_before_it_could_act(owner, task_queue, xoxzo):
    din = _free_din(xoxzo)
    # 429: the carrier refused to look at the request at all, so it is safe to send again
    sandbox_fault_add(method="POST", path_pattern=SUBSCRIBE_PATH, status=429, times=2)

    owner.post(reverse("number_subscribe"), {"din_uid": din.din_uid, "mode": "keep"})
    task, _args, kwargs = task_queue.sent.pop(0)
    task.apply(kwargs=kwargs)  # the task retries with backoff

    with scopes_disabled():
        subscription = Subscription.objects.get(din_uid=din.din_uid)
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert len(_charges(din.din_uid)) == 1


def test_it_shows_carrier_problems_on_the_search_page_in_words(owner):
    sandbox_fault_add(method="GET", path_pattern=r"^/voice/dins/?$", status=503, times=3)
    page = owner.get(reverse("number_search"), {"kind": "jp-050"})
    assert page.status_code == 200
    assert "carrier is unavailable right now" in page.content.decode()

    # the sandbox accepts whatever account the settings name, so a 401 is injected too
    sandbox_fault_add(method="GET", path_pattern=r"^/voice/dins/?$", status=401)
    page = owner.get(reverse("number_search"), {"kind": "jp-050"})
    assert page.status_code == 200
    assert "An operator must update the carrier account" in page.content.decode()
