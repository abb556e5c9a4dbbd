"""Operators are told what is stuck, and only that; failures name who failed.

- An outbound call that has not reached the carrier a minute after it was asked for is on the
  operators' page, with who holds it up (the task queue, no worker, a worker, the carrier).
- A platform alert closes itself when its cause is gone; a fresh start raises none.
- A "subscription failed" alert closes when a retry subscribes the number.
- The reason a call failed names the task queue, our worker or the carrier.
"""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from callflows.models import OutboundCall
from callflows.outbound import follow
from callflows.outbound import services as outbound
from callflows.tests.factories import OutboundCallFactory
from dins.models import SubscriptionStatus
from dins.subscriptions import subscribe
from dins.tests.factories import SubscriptionFactory
from portal import alerts, platform
from portal.models import Alert, AlertKind, Heartbeat, PlatformAlert, PlatformAlertKind, User
from portal.outbox import outbox_enqueue
from portal.scoping import scopes_disabled, tenant_scope

State = OutboundCall.Status


@pytest.fixture(autouse=True)
def english_company(personas):
    """Reasons are written in the company's language: English here, to read them."""
    personas.tenant_a.language = "en"
    personas.tenant_a.save(update_fields=["language"])


@pytest.fixture
def operator(db, client):
    user = User.objects.create_superuser(email="ops@example.com", password="x")
    client.force_login(user)
    return client


def _call(personas, **values) -> OutboundCall:
    return OutboundCallFactory(tenant=personas.tenant_a, callid=None, **values)


def _stuck(operator) -> dict[int, str]:
    """The operators' page's stuck outbound calls: call id → the words shown."""
    page = operator.get(reverse("operator_home"))
    assert page.status_code == 200
    # each links to the call in Django admin: /admin/callflows/outboundcall/<id>/change/
    return {
        int(item.link.split("/")[-3]): item.detail
        for item in page.context["stuck"]
        if item.kind == "call"
    }


# --- Stuck outbound calls ---------------------------------------------------------------------


def test_a_call_that_has_not_reached_the_carrier_after_a_minute_is_listed_with_who_holds_it(
    personas, operator
):
    with tenant_scope(personas.tenant_a):
        fresh = _call(personas, status=State.QUEUED)
        queued = _call(personas, status=State.QUEUED)
        in_outbox = _call(personas, status=State.QUEUED)
        retrying = _call(personas, status=State.QUEUED, trouble="carrier: HTTP 503")
        placing = _call(personas, status=State.PLACING, placing_at=timezone.now())
        unknown = _call(personas, status=State.UNKNOWN, trouble="worker: stopped")
        outbox_enqueue("callflows.place_call", kwargs={}, subject=in_outbox.outbox_subject)
    a_minute_ago = timezone.now() - timedelta(seconds=61)
    with scopes_disabled():
        OutboundCall.objects.exclude(pk=fresh.pk).update(created_at=a_minute_ago)

    stuck = _stuck(operator)

    assert fresh.pk not in stuck  # asked for moments ago: not stuck yet
    assert "no worker has taken it" in stuck[queued.pk]
    assert "task queue (broker) has not taken it" in stuck[in_outbox.pk]
    assert "carrier could not be reached (HTTP 503)" in stuck[retrying.pk]
    assert "a worker took it and has not finished" in stuck[placing.pk]
    assert "the worker stopped" in stuck[unknown.pk]


def test_a_call_the_carrier_never_reported_on_is_listed_after_half_an_hour(personas, operator):
    with tenant_scope(personas.tenant_a):
        call = OutboundCallFactory(tenant=personas.tenant_a, status=State.IN_PROGRESS)
        OutboundCall.objects.filter(pk=call.pk).update(
            placed_at=timezone.now() - timedelta(minutes=31)
        )
    assert "never reported" in _stuck(operator)[call.pk]


def test_nothing_settled_is_listed(personas, operator):
    with tenant_scope(personas.tenant_a):
        for status in (State.ANSWERED, State.NO_ANSWER, State.FAILED):
            _call(personas, status=status)
        OutboundCall.objects.update(created_at=timezone.now() - timedelta(hours=2))
    assert _stuck(operator) == {}


# --- Who failed --------------------------------------------------------------------------------


def test_a_fault_of_the_worker_before_sending_fails_the_call_saying_so_and_tells_operators(
    personas, monkeypatch
):
    with tenant_scope(personas.tenant_a):
        call = _call(personas, status=State.QUEUED)

    def broken(call):
        raise RuntimeError("a URL only another server resolves")

    monkeypatch.setattr(outbound, "callback_url_for", broken)
    with tenant_scope(personas.tenant_a):  # as the task runs it (portal.tasks_base)
        outbound.outbound_call_place(call_id=call.pk)

    with scopes_disabled():
        call.refresh_from_db()
    assert call.status == State.FAILED
    assert "portal's worker failed before sending" in call.failure_reason
    assert "not of the carrier" in call.failure_reason
    alert = PlatformAlert.objects.get(kind=PlatformAlertKind.TASK_FAILED)
    assert "RuntimeError: a URL only another server resolves" in alert.message
    assert alert.link == reverse("admin:callflows_outboundcall_change", args=[call.pk])


def test_a_placement_whose_worker_died_is_given_up_naming_the_worker(personas, settings):
    with tenant_scope(personas.tenant_a):
        call = _call(personas, status=State.PLACING, placing_at=timezone.now())
    later = timezone.now() + timedelta(minutes=settings.OUTBOUND_PLACING_LEASE_MINUTES + 1)
    with time_machine.travel(later):
        assert follow.outbound_calls_poll_due().unknown == [call.pk]
    much_later = later + timedelta(minutes=settings.OUTBOUND_UNKNOWN_GRACE_MINUTES + 1)
    with time_machine.travel(much_later):
        assert follow.outbound_calls_poll_due().given_up == [call.pk]
    with scopes_disabled():
        call.refresh_from_db()
    assert call.failure_reason.startswith("The portal's worker stopped while placing the call")


def test_a_call_no_worker_took_says_so_and_one_the_carrier_refused_to_take_says_that(
    personas, settings
):
    with tenant_scope(personas.tenant_a):
        idle = _call(personas, status=State.QUEUED)
        refused = _call(personas, status=State.QUEUED, trouble="carrier: HTTP 503")
    later = timezone.now() + timedelta(minutes=settings.OUTBOUND_QUEUED_EXPIRY_MINUTES + 1)
    with time_machine.travel(later):
        assert sorted(follow.outbound_calls_poll_due().expired) == sorted([idle.pk, refused.pk])
    with scopes_disabled():
        idle.refresh_from_db()
        refused.refresh_from_db()
    assert "no worker of the portal took the call" in idle.failure_reason
    # in the company's words, the carrier's own after them (shown behind a toggle)
    assert "carrier could not be reached in time" in refused.failure_reason
    assert refused.failure_reason.endswith("\ncarrier: HTTP 503")


# --- Platform alerts close themselves ----------------------------------------------------------


def test_a_fresh_start_raises_no_never_ran_alert_and_a_stopped_scheduler_does(db):
    platform.scheduler_started()  # beat's start (portal.apps connects it to beat_init)
    checks = {check.name: check for check in platform.platform_check_run()}
    assert checks["reconcile_age_seconds"].ok, checks["reconcile_age_seconds"].detail
    assert not PlatformAlert.objects.filter(kind=PlatformAlertKind.SCHEDULER_LATE).exists()

    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        checks = {check.name: check for check in platform.platform_check_run()}
    assert not checks["reconcile_age_seconds"].ok
    late = PlatformAlert.objects.filter(kind=PlatformAlertKind.SCHEDULER_LATE)
    assert sorted(late.values_list("subject", flat=True)) == ["reconcile", "trial_sweep"]


def test_a_late_scheduler_alert_closes_when_the_work_runs_again(db):
    with time_machine.travel(timezone.now() - timedelta(hours=2)):
        platform.scheduler_started()
    platform.platform_check_run()
    open_alerts = platform.platform_alert_open_list()
    assert {a.subject for a in open_alerts} == {"reconcile", "trial_sweep"}

    platform.heartbeat("reconcile")  # reconcile ran

    assert {a.subject for a in platform.platform_alert_open_list()} == {"trial_sweep"}
    closed = PlatformAlert.objects.get(subject="reconcile")
    assert closed.acknowledged_at is not None and closed.resolution.startswith("reconcile ran")

    platform.heartbeat("trial_sweep")
    platform.platform_check_run()  # and the next check finds nothing late
    assert not platform.platform_alert_open_list().exists()


def test_operators_acknowledge_an_alert_from_their_page(operator, db):
    alert = platform.platform_alert_raise(
        kind=PlatformAlertKind.QUEUE_BACKLOG, message="Celery queue: 900 waiting (limit 500)."
    )
    page = operator.get(reverse("operator_home")).content.decode()
    assert reverse("operator_alert_acknowledge", args=[alert.pk]) in page

    operator.post(reverse("operator_alert_acknowledge", args=[alert.pk]))

    assert not platform.platform_alert_open_list().exists()
    assert Heartbeat.objects.count() == 0  # acknowledging changes nothing else


def test_a_subscription_failed_alert_closes_when_the_retry_subscribes_the_number(personas):
    with tenant_scope(personas.tenant_a):
        number = SubscriptionFactory(
            tenant=personas.tenant_a, status=SubscriptionStatus.SUBSCRIBING, published=False
        )
        alert = alerts.alert_raise(
            kind=AlertKind.SUBSCRIPTION_FAILED, subscription=number, context={"reason": "x"}
        )

    with tenant_scope(personas.tenant_a):
        assert subscribe.activate(number)  # the operator's retry went through

    with tenant_scope(personas.tenant_a):
        alert = Alert.objects.get(pk=alert.pk)
        assert alerts.alert_open_list().count() == 0
    assert alert.acknowledged_by is None and alert.resolution == "subscribed"
