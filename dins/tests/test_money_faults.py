"""Money fault drills, caused for real: a worker killed between the carrier's 201 and its
commit, a carrier that acts and then answers 503, a task that still owns its row, a trial
released late. Over real HTTP to the sandbox carrier served by the live server.

Each drill prints its figures ("drill: …") for the record: trials billed in full, double
subscriptions.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import translation

from dins.models import Subscription, SubscriptionStatus
from dins.subscriptions.common import action_url_for, trial_times
from dins.subscriptions.reconcile import subscriptions_reconcile, subscriptions_settle_expired
from dins.subscriptions.sweep import trial_sweep
from dins.tests.test_lifecycle import _charges, _free_din
from portal.alerts import alert_title
from portal.models import Alert, AlertKind
from portal.scoping import scopes_disabled
from sandbox.faults import sandbox_fault_add
from sandbox.models import SandboxFault, SandboxLedgerEntry, SandboxSubscription

pytestmark = pytest.mark.django_db(transaction=True)

SUBSCRIBE_PATH = r"^/voice/dins/subscriptions/?$"
BASE_DIR = Path(django_settings.BASE_DIR)

# The real task body, in a process of its own (a worker), against the test database.
WORKER_SCRIPT = """
import os
import django

django.setup()
from dins.tasks import subscribe_number

subscribe_number(
    tenant_id=int(os.environ["DRILL_TENANT"]),
    subscription_id=int(os.environ["DRILL_SUBSCRIPTION"]),
    claim=os.environ["DRILL_CLAIM"],
)
"""


@pytest.fixture
def carrier(sandbox_url, settings, live_server):
    settings.TRIAL_RELEASE_MARGIN_MINUTES = 30
    return sandbox_url


@pytest.fixture
def owner(client, personas, carrier):
    client.force_login(personas.owner_a)
    return client


def _database_url() -> str:
    """The test database as a URL for another process (django-environ's forms)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


def _billed_in_full(din_uid: str) -> int:
    """Trials of ``din_uid`` the sandbox billed the whole month for (no refund)."""
    subscriptions = SandboxSubscription.objects.filter(din__din_uid=din_uid)
    refunded = SandboxLedgerEntry.objects.filter(
        subscription__din__din_uid=din_uid, kind=SandboxLedgerEntry.Kind.TRIAL_REFUND
    ).values_list("subscription_id", flat=True)
    return subscriptions.exclude(pk__in=list(refunded)).count()


def _wait_for(condition, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _subscription(din_uid: str) -> Subscription:
    with scopes_disabled():
        return Subscription.objects.select_related("tenant").get(din_uid=din_uid)


# --- A worker killed between the carrier's 201 and its commit ----------------------------------


def _worker_killed_after_the_carrier_subscribed(owner, task_queue, xoxzo, sandbox_url):
    """A worker process runs the real subscribe task and is SIGKILLed once the carrier acted,
    before its 201 arrived: (din, task, kwargs, the moment the drill started)."""
    din = _free_din(xoxzo)
    owner.post(reverse("number_subscribe"), {"din_uid": din.din_uid, "mode": "trial"})
    task, _args, kwargs = task_queue.sent.pop(0)
    assert task.name == "dins.subscribe"

    # given a carrier that subscribes at once but answers its 201 only 4 s later
    sandbox_fault_add(
        method="POST", path_pattern=SUBSCRIBE_PATH, when="after", delay_seconds=ANSWER_DELAY
    )
    # when a worker process runs the real task body and is SIGKILLed once the carrier acted
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "testing.settings",
        "DATABASE_URL": _database_url(),
        "XOXZO_API_URL": sandbox_url,
        "XOXZO_SID": django_settings.XOXZO_SID,
        "XOXZO_AUTH_TOKEN": django_settings.XOXZO_AUTH_TOKEN,
        "XOXZO_READ_TIMEOUT": "30",
        "DRILL_TENANT": str(kwargs["tenant_id"]),
        "DRILL_SUBSCRIPTION": str(kwargs["subscription_id"]),
        "DRILL_CLAIM": kwargs["claim"],
    }
    started = time.monotonic()
    worker = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", WORKER_SCRIPT], cwd=BASE_DIR, env=env
    )
    try:
        held = _wait_for(
            lambda: SandboxSubscription.objects.filter(
                din__din_uid=din.din_uid, released_at__isnull=True
            ).exists(),
            seconds=30,
        )
        assert held, "the worker never reached the carrier"
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.kill()
        worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL  # killed, not finished: the 201 never arrived
    return din, task, kwargs, started


ANSWER_DELAY = 4.0


def test_a_worker_killed_after_the_carrier_subscribed_leaves_one_number_released_in_time(
    owner, task_queue, xoxzo, carrier, sandbox_url
):
    din, task, kwargs, started = _worker_killed_after_the_carrier_subscribed(
        owner, task_queue, xoxzo, sandbox_url
    )

    # then the row was claimed, with its send time, before the request left
    subscription = _subscription(din.din_uid)
    assert subscription.status == SubscriptionStatus.SUBSCRIBING
    assert subscription.sent_at is not None

    # when the broker redelivers the task (acks_late) and it runs again
    tripwire = sandbox_fault_add(method="POST", path_pattern=SUBSCRIBE_PATH, status=418)
    task(**kwargs)

    # then it settled from the carrier's list: active, never a second request
    subscription = _subscription(din.din_uid)
    assert subscription.status == SubscriptionStatus.ACTIVE and subscription.is_trial
    assert SandboxFault.objects.get(pk=tripwire.pk).remaining == 1  # no POST reached it
    carrier_row = SandboxSubscription.objects.get(din__din_uid=din.din_uid)
    assert subscription.sent_at <= carrier_row.subscribed_at  # the anchor is never late
    assert (subscription.trial_deadline, subscription.release_at) == trial_times(
        subscription.sent_at
    )
    assert subscription.carrier_accepted_at == subscription.sent_at
    task_queue.run_all()  # the action URL

    # when the trial sweep releases it
    with time_machine.travel(subscription.release_at + timedelta(seconds=1)):
        assert trial_sweep().claimed == [subscription.pk]
        task_queue.run_all()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.RELEASED
    assert subscription.released_at < carrier_row.subscribed_at + timedelta(hours=24)

    subscriptions = SandboxSubscription.objects.filter(din__din_uid=din.din_uid).count()
    billed_in_full = _billed_in_full(din.din_uid)
    assert subscriptions == 1
    assert billed_in_full == 0
    assert sum(_charges(din.din_uid)) == -subscription.trial_price
    print(
        f"drill: worker SIGKILLed after the carrier's subscribe: subscriptions {subscriptions}, "
        f"double subscriptions {subscriptions - 1}, trials billed in full {billed_in_full}"
    )
    # the sandbox's delayed answer finishes before the live server outlives the test
    time.sleep(max(0.0, ANSWER_DELAY - (time.monotonic() - started)) + 0.2)


def test_a_subscribe_whose_worker_died_is_settled_with_its_action_url_within_minutes(
    owner, task_queue, xoxzo, carrier, sandbox_url, settings
):
    """No redelivery needed (Redis hands an unacknowledged task back only after its
    visibility timeout): the lease runs out, the minute's settle sweep finds the number at the
    carrier, activates it and points the carrier at its action URL in the same step."""
    din, _task, _kwargs, started = _worker_killed_after_the_carrier_subscribed(
        owner, task_queue, xoxzo, sandbox_url
    )
    subscription = _subscription(din.din_uid)
    assert subscription.status == SubscriptionStatus.SUBSCRIBING
    time.sleep(max(0.0, ANSWER_DELAY - (time.monotonic() - started)) + 0.2)

    # the lease still runs: the task might be alive, the sweep leaves it alone
    assert subscriptions_settle_expired().activated == []
    # once it ran out (no renewal: the worker is dead), the next sweep settles it
    lease = timedelta(seconds=settings.SUBSCRIBE_LEASE_SECONDS)
    with time_machine.travel(subscription.claimed_at + lease + timedelta(seconds=1)):
        assert subscriptions_settle_expired().activated == [subscription.pk]

    subscription = _subscription(din.din_uid)
    assert subscription.status == SubscriptionStatus.ACTIVE
    carrier_row = SandboxSubscription.objects.get(din__din_uid=din.din_uid)
    assert carrier_row.action_url == action_url_for(subscription)  # calls reach its flow now
    assert SandboxSubscription.objects.filter(din__din_uid=din.din_uid).count() == 1
    print(
        "drill: worker SIGKILLed mid-subscribe: active with its action URL "
        f"{settings.SUBSCRIBE_LEASE_SECONDS + 60} s after the kill at most (lease + one sweep)"
    )


# --- A carrier that acts, then answers 503 ------------------------------------------------------


def test_a_503_after_the_carrier_subscribed_ends_active_not_failed(owner, task_queue, xoxzo):
    din = _free_din(xoxzo)
    sandbox_fault_add(method="POST", path_pattern=SUBSCRIBE_PATH, status=503, when="after")

    owner.post(reverse("number_subscribe"), {"din_uid": din.din_uid, "mode": "trial"})
    task, _args, kwargs = task_queue.sent.pop(0)
    task.apply(kwargs=kwargs)  # Celery's own retry path
    task(**kwargs)  # and a redelivery on top

    subscription = _subscription(din.din_uid)
    assert subscription.status == SubscriptionStatus.ACTIVE, subscription.failure_reason
    task_queue.run_all()
    with time_machine.travel(subscription.release_at + timedelta(seconds=1)):
        trial_sweep()
        task_queue.run_all()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.RELEASED
    subscriptions = SandboxSubscription.objects.filter(din__din_uid=din.din_uid).count()
    billed_in_full = _billed_in_full(din.din_uid)
    assert (subscriptions, billed_in_full) == (1, 0)
    print(
        f"drill: 503 after the carrier subscribed: double subscriptions {subscriptions - 1}, "
        f"trials billed in full {billed_in_full}"
    )


# --- Settled late, released in time ------------------------------------------------------------


def test_a_subscribe_settled_40_minutes_late_is_released_before_the_carriers_deadline(
    owner, task_queue, xoxzo, settings
):
    din = _free_din(xoxzo)
    owner.post(reverse("number_subscribe"), {"din_uid": din.din_uid, "mode": "trial"})
    task, _args, kwargs = task_queue.sent.pop(0)
    # the carrier subscribes and the answer is lost (a read timeout): the task cannot tell
    settings.XOXZO_READ_TIMEOUT = 0.3
    sandbox_fault_add(method="GET", path_pattern=SUBSCRIBE_PATH, status=503, times=1000)
    sandbox_fault_add(method="POST", path_pattern=SUBSCRIBE_PATH, when="after", delay_seconds=1)
    with pytest.raises(Exception, match="503"):
        task(**kwargs)  # and the carrier's list is down too: the row stays "subscribing"
    subscription = _subscription(din.din_uid)
    assert subscription.status == SubscriptionStatus.SUBSCRIBING
    time.sleep(1)  # the sandbox's late answer ends

    # reconciliation settles it 40 minutes later, once the carrier's list answers again
    SandboxFault.objects.all().delete()
    later = subscription.sent_at + timedelta(minutes=40)
    with time_machine.travel(later):
        assert subscriptions_reconcile().activated == [subscription.pk]
    subscription.refresh_from_db()
    carrier_row = SandboxSubscription.objects.get(din__din_uid=din.din_uid)
    # the deadline counts from the send time, not from the settling 40 minutes later
    assert subscription.trial_deadline == subscription.sent_at + timedelta(hours=24)
    assert subscription.trial_deadline <= carrier_row.subscribed_at + timedelta(hours=24)
    task_queue.run_all()
    with time_machine.travel(subscription.release_at + timedelta(seconds=1)):
        trial_sweep()
        task_queue.run_all()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.RELEASED
    assert subscription.released_at < carrier_row.subscribed_at + timedelta(hours=24)
    assert _billed_in_full(din.din_uid) == 0


# --- One owner per row --------------------------------------------------------------------------


def test_reconciliation_leaves_a_row_alone_while_its_task_owns_it(
    owner, task_queue, xoxzo, settings
):
    din = _free_din(xoxzo)
    owner.post(reverse("number_subscribe"), {"din_uid": din.din_uid, "mode": "keep"})
    task, _args, kwargs = task_queue.sent.pop(0)
    # the request fails before acting; the task will look again later (it owns the row)
    sandbox_fault_add(method="POST", path_pattern=SUBSCRIBE_PATH, status=500)
    with pytest.raises(Exception, match="not listed"):
        task(**kwargs)
    subscription = _subscription(din.din_uid)
    assert subscription.status == SubscriptionStatus.SUBSCRIBING

    # reconciliation within the task's lease: nothing taken, nothing enqueued
    within = subscription.claimed_at + timedelta(seconds=settings.SUBSCRIBE_LEASE_SECONDS - 10)
    with time_machine.travel(within):
        result = subscriptions_reconcile()
    assert (result.activated, result.resubscribed) == ([], [])
    assert task_queue.sent == []
    assert _subscription(din.din_uid).claim == kwargs["claim"]

    # after the lease ran out (the task gave up), reconciliation takes the row over
    after = subscription.claimed_at + timedelta(seconds=settings.SUBSCRIBE_LEASE_SECONDS + 10)
    with time_machine.travel(after):
        assert subscriptions_reconcile().resubscribed == [subscription.pk]
        task(**kwargs)  # the old task, should it run again, finds the row no longer its own
        assert _subscription(din.din_uid).status == SubscriptionStatus.PENDING
        assert task_queue.run_all_named("dins.subscribe") == 1
    subscription = _subscription(din.din_uid)
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert len(_charges(din.din_uid)) == 1


def test_a_number_the_carrier_holds_for_a_failed_attempt_is_ours_again(owner, task_queue, xoxzo):
    din = _free_din(xoxzo)
    owner.post(reverse("number_subscribe"), {"din_uid": din.din_uid, "mode": "trial"})
    task_queue.run_all()
    subscription = _subscription(din.din_uid)
    # as an earlier release of the portal left it: failed, while the carrier bills the number
    with scopes_disabled():
        Subscription.objects.filter(pk=subscription.pk).update(
            status=SubscriptionStatus.FAILED, failure_reason="This number is not available."
        )

    assert subscriptions_reconcile().recovered == [subscription.pk]
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert subscription.trial_deadline == subscription.sent_at + timedelta(hours=24)


# --- A trial released late ----------------------------------------------------------------------


def test_a_trial_released_after_its_deadline_is_told_it_was_billed_in_full(
    owner, task_queue, xoxzo, personas
):
    din = _free_din(xoxzo)
    owner.post(reverse("number_subscribe"), {"din_uid": din.din_uid, "mode": "trial"})
    task_queue.run_all()
    subscription = _subscription(din.din_uid)
    mail.outbox.clear()

    # the sweep could only run after the carrier's deadline (everything was down)
    with time_machine.travel(subscription.trial_deadline + timedelta(hours=2)):
        trial_sweep()
        task_queue.run_all()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.RELEASED
    with scopes_disabled():
        alert = Alert.objects.get(kind=AlertKind.TRIAL_RELEASED)
    assert alert.context["late"] is True and "saved" not in alert.context
    released = [m for m in mail.outbox if m.subject.startswith("Trial number")]
    assert released, [m.subject for m in mail.outbox]
    for message in released:
        assert "released late" in message.subject and "billed in full" in message.subject
        assert "saved" not in message.body and "in time" not in message.body
        assert "bills the full month" in message.body
    assert _billed_in_full(din.din_uid) == 1  # what the e-mail says is what the carrier did

    with translation.override("ja"):
        title = alert_title(alert)
    assert "全額請求" in title

    page = owner.get(reverse("number_detail", args=[subscription.code])).content.decode()
    assert "Released after its 24-hour deadline" in page
    assert "saved compared with a full month" not in page


def test_a_trial_released_in_time_still_says_what_was_saved(owner, task_queue, xoxzo):
    din = _free_din(xoxzo)
    owner.post(reverse("number_subscribe"), {"din_uid": din.din_uid, "mode": "trial"})
    task_queue.run_all()
    subscription = _subscription(din.din_uid)
    mail.outbox.clear()
    with time_machine.travel(subscription.release_at + timedelta(seconds=1)):
        trial_sweep()
        task_queue.run_all()
    subjects = [m.subject for m in mail.outbox]
    assert any(s.endswith("was released") for s in subjects), subjects
    assert not any("late" in s for s in subjects)
    assert any("released in time" in m.body for m in mail.outbox)
