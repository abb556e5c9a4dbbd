"""A number's life against the sandbox carrier over real HTTP, with controlled time.

The user's steps go through the pages (test client); the tasks those steps enqueue are run
as functions (``task_queue``), and they talk to the sandbox served by the live server.
"""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from callflows.calllog.rollup import call_days_catch_up
from callflows.edge import call_log
from dins.models import CarrierOrphan, Subscription, SubscriptionStatus
from dins.subscriptions.common import action_url_for
from dins.subscriptions.reconcile import subscriptions_reconcile
from dins.subscriptions.sweep import trial_sweep
from dins.tasks import release_number
from portal.models import Alert, AlertKind, AuditEvent, EmailStatus
from portal.phone import display
from portal.scoping import scopes_disabled, tenant_scope
from sandbox.accounts import sandbox_account_get_or_create
from sandbox.models import SandboxLedgerEntry
from sandbox.subscriptions import sandbox_subscription_create
from testing.scaffolding import edge_get

pytestmark = pytest.mark.django_db(transaction=True)

MARGIN = timedelta(minutes=30)


@pytest.fixture
def carrier(sandbox_url, settings, live_server):
    settings.TRIAL_RELEASE_MARGIN_MINUTES = 30
    return sandbox_url


@pytest.fixture
def owner(client, personas, carrier):
    client.force_login(personas.owner_a)
    return client


def _free_din(xoxzo, index=0):
    return xoxzo.search_dins(country="JP", prefix="8150")[index]


def _subscribe(owner, task_queue, din_uid, *, trial=True) -> Subscription:
    response = owner.post(
        reverse("number_subscribe"), {"din_uid": din_uid, "mode": "trial" if trial else "keep"}
    )
    assert response.status_code == 302, response.content
    task_queue.run_all()
    with scopes_disabled():
        return Subscription.objects.get(din_uid=din_uid, status__in=["active", "failed"])


def _taken_by_another_account(din_uid: str) -> None:
    """Another company's carrier account subscribes to the number (it is not in our list)."""
    other = sandbox_account_get_or_create(sid="SANDBOXOTHERACCOUNT0000000000002")
    sandbox_subscription_create(account=other, din_uid=din_uid)


def _carrier_holds(xoxzo, din_uid):
    return {s.din_uid: s for s in xoxzo.list_subscriptions()}.get(din_uid)


def _charges(din_uid) -> list:
    return list(
        SandboxLedgerEntry.objects.filter(subscription__din__din_uid=din_uid)
        .order_by("id")
        .values_list("amount", flat=True)
    )


def test_it_subscribes_a_trial_and_points_the_number_at_its_action_url(owner, task_queue, xoxzo):
    din = _free_din(xoxzo)
    subscription = _subscribe(owner, task_queue, din.din_uid)

    assert subscription.status == SubscriptionStatus.ACTIVE and subscription.is_trial
    assert subscription.trial_deadline - subscription.carrier_accepted_at == timedelta(hours=24)
    assert subscription.trial_deadline - subscription.release_at == MARGIN
    held = _carrier_holds(xoxzo, din.din_uid)
    assert held.action_url == action_url_for(subscription)
    assert f"/a/{subscription.action_token}/" in held.action_url
    page = owner.get(reverse("number_detail", args=[subscription.code])).content.decode()
    assert 'data-status="active"' in page and "Keep this number" in page


def test_it_releases_a_trial_at_the_margin_and_the_carrier_refunds(owner, task_queue, xoxzo):
    # given a running trial
    din = _free_din(xoxzo)
    subscription = _subscribe(owner, task_queue, din.din_uid)

    # when the sweep runs one minute before release_at, nothing is released (reminders go)
    with time_machine.travel(subscription.release_at - timedelta(minutes=1)):
        assert trial_sweep().claimed == []
        task_queue.run_all()
    mail.outbox.clear()

    # when it runs at release_at, the trial is claimed and released
    with time_machine.travel(subscription.release_at + timedelta(seconds=5)):
        assert trial_sweep().claimed == [subscription.pk]
        assert task_queue.names() == ["dins.release"]
        task_queue.run_all()

        # then it is released before the deadline, the carrier no longer holds it,
        subscription.refresh_from_db()
        assert subscription.status == SubscriptionStatus.RELEASED
        assert subscription.released_at < subscription.trial_deadline
        assert _carrier_holds(xoxzo, din.din_uid) is None
        # only the 24-hour price was paid, and owners/admins were told
        assert sum(_charges(din.din_uid)) == -subscription.trial_price
        assert sorted(m.to[0] for m in mail.outbox) == [
            "admin.a@example.com",
            "owner.a@example.com",
        ]
        assert "released" in mail.outbox[0].subject


def test_it_still_releases_in_time_when_the_worker_was_down_past_the_margin(
    owner, task_queue, xoxzo
):
    din = _free_din(xoxzo)
    subscription = _subscribe(owner, task_queue, din.din_uid)

    # the scheduler and worker come back 20 minutes after release_at (10 before the deadline)
    with time_machine.travel(subscription.trial_deadline - timedelta(minutes=10)):
        result = trial_sweep()
        task_queue.run_all()

    subscription.refresh_from_db()
    assert result.claimed == [subscription.pk]
    assert subscription.status == SubscriptionStatus.RELEASED
    assert subscription.released_at < subscription.trial_deadline
    assert sum(_charges(din.din_uid)) == -subscription.trial_price


def test_it_treats_a_release_answered_404_as_done(owner, task_queue, xoxzo):
    din = _free_din(xoxzo)
    subscription = _subscribe(owner, task_queue, din.din_uid)
    xoxzo.unsubscribe(din_uid=din.din_uid)  # released at the carrier behind our back

    with time_machine.travel(subscription.release_at + timedelta(seconds=1)):
        trial_sweep()
        task_queue.run_all()

    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.RELEASED
    assert subscription.release_attempts == 1


def test_it_keeps_a_trial_at_the_last_minute_and_the_sweep_then_leaves_it(owner, task_queue, xoxzo):
    din = _free_din(xoxzo)
    subscription = _subscribe(owner, task_queue, din.din_uid)

    with time_machine.travel(subscription.release_at - timedelta(seconds=2)):
        owner.post(reverse("number_keep", args=[subscription.code]))
    with time_machine.travel(subscription.release_at + timedelta(seconds=1)):
        assert trial_sweep().claimed == []

    subscription.refresh_from_db()
    assert (subscription.status, subscription.is_trial) == (SubscriptionStatus.ACTIVE, False)
    assert _carrier_holds(xoxzo, din.din_uid) is not None


def test_it_refuses_keep_once_the_release_has_started(owner, task_queue, xoxzo):
    din = _free_din(xoxzo)
    subscription = _subscribe(owner, task_queue, din.din_uid)

    with time_machine.travel(subscription.release_at + timedelta(seconds=1)):
        trial_sweep()
        response = owner.post(reverse("number_keep", args=[subscription.code]), follow=True)

    assert "Too late to keep this number" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.RELEASING and subscription.is_trial


def test_it_creates_one_subscription_and_one_charge_for_a_double_submit(
    owner, client, personas, task_queue, xoxzo
):
    din = _free_din(xoxzo)
    for _click in range(2):
        owner.post(reverse("number_subscribe"), {"din_uid": din.din_uid, "mode": "keep"})
    assert task_queue.names() == ["dins.subscribe"]

    # a redelivered task (acks_late after a crash) finds nothing left to do
    task, args, kwargs = task_queue.sent[0]
    task_queue.run_all()
    task(*args, **kwargs)

    with scopes_disabled():
        assert Subscription.objects.filter(din_uid=din.din_uid).count() == 1
    assert len(_charges(din.din_uid)) == 1

    # another company asking for the same number is told it is taken
    client.force_login(personas.owner_b)
    response = client.post(
        reverse("number_subscribe"), {"din_uid": din.din_uid, "mode": "keep"}, follow=True
    )
    assert "no longer available" in response.content.decode()


def test_it_fails_with_the_reason_when_the_number_was_taken_meanwhile(owner, task_queue, xoxzo):
    din = _free_din(xoxzo)
    owner.post(reverse("number_subscribe"), {"din_uid": din.din_uid, "mode": "trial"})
    _taken_by_another_account(din.din_uid)  # someone else's account got it first
    task_queue.run_all()

    with scopes_disabled():
        subscription = Subscription.objects.get(din_uid=din.din_uid)
    assert subscription.status == SubscriptionStatus.FAILED
    assert subscription.failure_reason == "This number is not available."
    page = owner.get(reverse("number_detail", args=[subscription.code])).content.decode()
    # explained in the reader's words, the carrier's own behind a toggle
    assert "The carrier refused the subscription: the number is not available any more." in page
    assert '<q lang="en">This number is not available.</q>' in page


def test_it_releases_on_request_after_the_number_is_typed(owner, task_queue, xoxzo):
    din = _free_din(xoxzo)
    subscription = _subscribe(owner, task_queue, din.din_uid, trial=False)
    url = reverse("number_release", args=[subscription.code])

    page = owner.get(url).content.decode()
    assert "within 24 hours" in page

    response = owner.post(url, {"typed_number": "+81 50 0000 0000"})
    assert response.status_code == 400
    assert task_queue.sent == []

    national = "0" + subscription.din[2:]
    owner.post(url, {"typed_number": f"{national[:3]}-{national[3:7]}-{national[7:]}"})
    task_queue.run_all()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.RELEASED
    assert _carrier_holds(xoxzo, din.din_uid) is None
    with tenant_scope(subscription.tenant):
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "subscription.request",
        "subscription.release_request",
        "subscription.release",
    } <= actions


def test_it_reminds_owners_once_per_reminder_point(owner, task_queue, xoxzo, personas):
    din = _free_din(xoxzo)
    subscription = _subscribe(owner, task_queue, din.din_uid)
    mail.outbox.clear()

    with time_machine.travel(subscription.trial_deadline - timedelta(hours=6, minutes=-1)):
        assert trial_sweep().reminders == [(subscription.pk, 360)]
        assert trial_sweep().reminders == []
        task_queue.run_all()
    assert len(mail.outbox) == 2  # the owner and the admin of A

    with time_machine.travel(subscription.trial_deadline - timedelta(minutes=59)):
        assert trial_sweep().reminders == [(subscription.pk, 60)]
        task_queue.run_all()
    assert len(mail.outbox) == 4
    assert all(display(subscription.e164) in m.subject for m in mail.outbox)


def test_it_sends_only_the_nearest_reminder_after_downtime(owner, task_queue, xoxzo):
    din = _free_din(xoxzo)
    subscription = _subscribe(owner, task_queue, din.din_uid)
    with time_machine.travel(subscription.trial_deadline - timedelta(minutes=50)):
        assert trial_sweep().reminders == [(subscription.pk, 60)]
        assert trial_sweep().reminders == []


def test_it_flags_active_numbers_the_carrier_lost_and_lists_orphans(owner, task_queue, xoxzo):
    kept = _subscribe(owner, task_queue, _free_din(xoxzo, 0).din_uid, trial=False)
    other = _free_din(xoxzo, 0)
    xoxzo.subscribe(din_uid=other.din_uid)  # bought outside the portal
    xoxzo.unsubscribe(din_uid=kept.din_uid)  # lost at the carrier

    result = subscriptions_reconcile()

    assert result.missing == [kept.pk] and result.orphans == [other.din_uid]
    assert list(CarrierOrphan.objects.values_list("din_uid", flat=True)) == [other.din_uid]
    page = owner.get(reverse("dashboard")).content.decode()
    assert "no longer lists this number" in page
    # the second run changes nothing more
    assert subscriptions_reconcile().missing == []


def test_it_pushes_the_action_url_again_when_the_carrier_has_another(owner, task_queue, xoxzo):
    subscription = _subscribe(owner, task_queue, _free_din(xoxzo).din_uid, trial=False)
    xoxzo.set_action_url(din_uid=subscription.din_uid, action_url="http://example.com/wrong")

    assert subscriptions_reconcile().repushed == [subscription.pk]
    task_queue.run_all()
    assert _carrier_holds(xoxzo, subscription.din_uid).action_url == action_url_for(subscription)


def test_it_marks_a_trial_released_after_its_deadline_as_overdue_once(owner, task_queue, xoxzo):
    din = _free_din(xoxzo)
    subscription = _subscribe(owner, task_queue, din.din_uid)
    mail.outbox.clear()
    with time_machine.travel(subscription.trial_deadline + timedelta(minutes=5)):
        result = trial_sweep()
        assert result.overdue == [subscription.pk]
        assert trial_sweep().overdue == []
        task_queue.run_all_named("portal.send_alert_email")
    with tenant_scope(subscription.tenant):
        alerts = list(Alert.objects.values_list("kind", "number_id", "email_status"))
    assert alerts == [(AlertKind.TRIAL_OVERDUE, subscription.pk, EmailStatus.SENT)]
    # owners and admins were told once, the number in the subject
    assert sorted(m.to[0] for m in mail.outbox) == ["admin.a@example.com", "owner.a@example.com"]
    assert all(display(subscription.e164) in m.subject for m in mail.outbox)


def test_it_redrives_a_release_whose_worker_died(owner, task_queue, xoxzo, settings):
    din = _free_din(xoxzo)
    subscription = _subscribe(owner, task_queue, din.din_uid)
    with time_machine.travel(subscription.release_at + timedelta(seconds=1)):
        trial_sweep()
        task_queue.sent.clear()  # the worker died with the task
    with time_machine.travel(
        subscription.release_at + timedelta(minutes=settings.RELEASE_LEASE_MINUTES, seconds=2)
    ):
        assert trial_sweep().redriven == [subscription.pk]
        task_queue.run_all()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.RELEASED


def test_it_counts_down_on_the_numbers_page(owner, task_queue, xoxzo):
    subscription = _subscribe(owner, task_queue, _free_din(xoxzo).din_uid)
    page = owner.get(reverse("number_list")).content.decode()
    assert f'data-countdown="{timezone.localtime(subscription.release_at).isoformat()}' in page


def test_it_is_a_no_op_to_run_a_release_task_for_a_row_not_releasing(owner, task_queue, xoxzo):
    subscription = _subscribe(owner, task_queue, _free_din(xoxzo).din_uid)
    release_number(subscription_id=subscription.pk, tenant_id=subscription.tenant_id)
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert _carrier_holds(xoxzo, subscription.din_uid) is not None


def test_it_stops_answering_the_action_url_at_once_on_release(owner, task_queue, xoxzo):
    subscription = _subscribe(owner, task_queue, _free_din(xoxzo).din_uid, trial=False)
    action = f"/a/{subscription.action_token}/"
    assert edge_get(action, {"caller": "+819012345678"}).content == b"voicemail\n"

    national = "0" + subscription.din[2:]
    owner.post(reverse("number_release", args=[subscription.code]), {"typed_number": national})

    response = edge_get(action, {"caller": "+819012345678"})
    assert (response.status_code, response.content) == (404, b"")


def test_it_shows_calls_and_the_flow_before_a_release(owner, task_queue, xoxzo):

    subscription = _subscribe(owner, task_queue, _free_din(xoxzo).din_uid, trial=False)
    for caller in ("+819012345678", "+819012345679", ""):
        edge_get(f"/a/{subscription.action_token}/", {"caller": caller})
    call_log.call_log_buffer.flush()
    task_queue.run_all()
    call_days_catch_up(settle_seconds=0)  # the worker's counting task (callflows.tasks)
    page = owner.get(reverse("number_release", args=[subscription.code])).content.decode()
    assert "3 calls in the last 30 days" in page
    assert "no call flow of its own" in page
