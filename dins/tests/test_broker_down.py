"""The broker down at the moment of a click, for real: the Celery app points at a loopback
port that refuses connections while the pages are used, then at the real broker again (Redis
in CI, files in the embedded default) with a worker consuming it.

Subscribe, release and place a call: each click answers its page (no 500), the work and its
outbox message are saved, and the outbox sweep hands the work over once the broker is back.
"""

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from callflows.models import OutboundCall
from config.celery import app as celery_app
from dins.models import Subscription, SubscriptionStatus, TestCall
from dins.subscriptions.subscribe import QUEUE_UNREACHABLE
from dins.subscriptions.sweep import trial_sweep
from dins.tests.factories import SubscriptionFactory
from dins.tests.test_lifecycle import _free_din
from portal.models import Alert, AlertKind, OutboxMessage
from portal.outbox import GAVE_UP_REASON, outbox_sweep
from portal.scoping import scopes_disabled
from sandbox.accounts import sandbox_account_get_or_create
from sandbox.models import SandboxCall, SandboxSubscription
from sandbox.subscriptions import sandbox_subscription_create
from testing.scaffolding import broker_hung, broker_unreachable

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_broker]

QUEUED = "Saved and queued"
CALL_FORM = {
    "recipient": "+818012345678",
    "message_kind": "text",
    "text": "本日のご予約を確認いたしました。",
    "tts_lang": "ja",
}


@pytest.fixture
def carrier(sandbox_url, settings, live_server):
    settings.OUTBOX_RETRY_AFTER_SECONDS = 0
    return sandbox_url


@pytest.fixture
def owner(client, personas, carrier):
    client.force_login(personas.owner_a)
    return client


def _held_number(xoxzo, personas, index: int, **values) -> Subscription:
    """A number the sandbox account really holds, active here."""
    din = _free_din(xoxzo, index)
    account = sandbox_account_get_or_create(sid=xoxzo.sid)
    sandbox_subscription_create(account=account, din_uid=din.din_uid)
    return SubscriptionFactory(tenant=personas.tenant_a, din_uid=din.din_uid, din=din.din, **values)


def _wait_for(condition, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _status(model, **lookup) -> str:
    with scopes_disabled():
        return model.objects.get(**lookup).status


def test_clicks_while_the_broker_is_down_are_queued_and_done_when_it_is_back(
    owner, personas, xoxzo
):
    to_subscribe = _free_din(xoxzo, 0)
    to_release = _held_number(xoxzo, personas, 1, trial=True)
    caller = _held_number(xoxzo, personas, 2)

    # given the broker refuses connections while three clicks happen
    with broker_unreachable(celery_app):
        pages = [
            owner.post(
                reverse("number_subscribe"),
                {"din_uid": to_subscribe.din_uid, "mode": "trial"},
                follow=True,
            ),
            owner.post(
                reverse("number_release", args=[to_release.code]),
                {"typed_number": to_release.e164},
                follow=True,
            ),
            owner.post(reverse("outbound_call_new", args=[caller.code]), CALL_FORM, follow=True),
        ]

    # then every page answered, said the work is queued, and saved it with its message
    assert [page.status_code for page in pages] == [200, 200, 200]
    assert all(QUEUED in page.content.decode() for page in pages)
    unsent = list(OutboxMessage.objects.filter(sent_at__isnull=True).order_by("id"))
    names = [m.task_name for m in unsent]
    assert names == ["dins.subscribe", "dins.release", "callflows.place_call"]
    # the first click tried the broker once and moved on; the next ones, right after, left
    # their work to the sweep without trying (work done, not time: a busy machine)
    assert [m.attempts for m in unsent] == [1, 0, 0] and unsent[0].last_error
    with scopes_disabled():
        subscription = Subscription.objects.get(din_uid=to_subscribe.din_uid)
        call = OutboundCall.objects.get()
    assert subscription.status == SubscriptionStatus.PENDING
    assert _status(Subscription, pk=to_release.pk) == SubscriptionStatus.RELEASING
    assert call.status == OutboundCall.Status.QUEUED

    # when the broker is back, a worker runs and the outbox sweep goes
    back = time.monotonic()
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = outbox_sweep()
        delivered_seconds = time.monotonic() - back
        assert sorted(result.sent) == [m.pk for m in unsent] and result.failed == []

        # then the subscription, the release and the call are done
        done = _wait_for(
            lambda: (
                _status(Subscription, pk=subscription.pk) == SubscriptionStatus.ACTIVE
                and _status(Subscription, pk=to_release.pk) == SubscriptionStatus.RELEASED
                and _status(OutboundCall, pk=call.pk) != OutboundCall.Status.QUEUED
            ),
            seconds=30,
        )
        completed_seconds = time.monotonic() - back
    assert done, (
        _status(Subscription, pk=subscription.pk),
        _status(Subscription, pk=to_release.pk),
        _status(OutboundCall, pk=call.pk),
    )
    assert not OutboxMessage.objects.filter(sent_at__isnull=True, given_up_at__isnull=True).exists()
    assert SandboxSubscription.objects.filter(din__din_uid=to_subscribe.din_uid).count() == 1
    assert not SandboxSubscription.objects.filter(
        din__din_uid=to_release.din_uid, released_at__isnull=True
    ).exists()
    assert SandboxCall.objects.count() == 1
    print(
        "drill: broker down for 3 clicks, 0 pages 5xx; "
        f"broker back → handed over in {delivered_seconds:.2f} s, all three done in "
        f"{completed_seconds:.2f} s"
    )


def test_work_the_broker_never_took_in_time_is_given_up_with_the_true_reason(
    owner, personas, xoxzo, settings
):
    to_subscribe = _free_din(xoxzo, 0)
    caller = _held_number(xoxzo, personas, 2)
    mail.outbox.clear()
    with broker_unreachable(celery_app):
        owner.post(reverse("number_subscribe"), {"din_uid": to_subscribe.din_uid, "mode": "keep"})
        owner.post(reverse("outbound_call_new", args=[caller.code]), CALL_FORM)
        tested = owner.post(reverse("flow_test_call", args=[caller.code]), {"caller": ""})
        assert tested.status_code == 302

    # the broker comes back only after all three went stale: given up, never sent late
    later = timezone.now() + timedelta(minutes=settings.SUBSCRIBE_QUEUED_EXPIRY_MINUTES + 1)
    result = outbox_sweep(now=later)
    assert len(result.given_up) == 3 and result.sent == []
    given_up = OutboxMessage.objects.filter(given_up_at__isnull=False)
    assert [m.last_error for m in given_up] == [GAVE_UP_REASON] * 3
    assert not given_up.filter(sent_at__isnull=False).exists()

    with scopes_disabled():
        subscription = Subscription.objects.get(din_uid=to_subscribe.din_uid)
        call = OutboundCall.objects.get()
        alert = Alert.objects.get(kind=AlertKind.SUBSCRIPTION_FAILED)
    assert subscription.status == SubscriptionStatus.FAILED
    assert subscription.failure_reason == QUEUE_UNREACHABLE
    assert alert.context["cause"] == "queue"
    assert call.status == OutboundCall.Status.FAILED
    # in the company's language (Japanese): the task queue, not the carrier
    assert "タスクキュー" in call.failure_reason
    assert not SandboxSubscription.objects.filter(din__din_uid=to_subscribe.din_uid).exists()
    assert SandboxCall.objects.count() == 0
    with scopes_disabled():
        test_call = TestCall.objects.get()
    assert (test_call.status, test_call.failure_reason) == (
        TestCall.Status.FAILED,
        "queue_unreachable",
    )
    status_page = owner.get(tested["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "the task queue could not be reached" in status_page

    page = owner.get(reverse("number_detail", args=[subscription.code])).content.decode()
    assert "could not be handed to the task queue" in page
    assert "The carrier refused" not in page


def test_the_trial_sweep_while_the_broker_is_down_loses_no_release(personas, xoxzo, carrier):
    # given two trials due for release, held at the carrier
    due = [_held_number(xoxzo, personas, index, trial=True) for index in (3, 4)]
    with scopes_disabled():
        Subscription.objects.filter(pk__in=[s.pk for s in due]).update(
            release_at=timezone.now() - timedelta(minutes=1)
        )

    # when the sweep runs while the broker refuses connections
    with broker_unreachable(celery_app):
        result = trial_sweep()

    # then both are claimed, and their release tasks wait in the outbox, none lost
    assert sorted(result.claimed) == sorted(s.pk for s in due)
    assert all(_status(Subscription, pk=s.pk) == SubscriptionStatus.RELEASING for s in due)
    waiting = OutboxMessage.objects.filter(task_name="dins.release", sent_at__isnull=True)
    assert waiting.count() == 2

    # and once the broker is back a worker releases both at the carrier
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert len(outbox_sweep().sent) == 2
        released = _wait_for(
            lambda: all(_status(Subscription, pk=s.pk) == SubscriptionStatus.RELEASED for s in due),
            seconds=30,
        )
    assert released
    assert not SandboxSubscription.objects.filter(
        din__din_uid__in=[s.din_uid for s in due], released_at__isnull=True
    ).exists()


def test_clicks_while_the_broker_hangs_answer_at_once_and_are_done_when_it_answers(
    owner, personas, xoxzo, settings
):
    """A broker that accepts connections and never answers (Redis paused, a network that drops
    everything): each click tries it once, briefly, and answers; the sweep hands over later."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("the drill hangs a Redis connection (CI runs Redis as the broker)")
    to_subscribe = _free_din(xoxzo, 0)
    caller = _held_number(xoxzo, personas, 2)

    with broker_hung(celery_app):
        pages = [
            owner.post(
                reverse("number_subscribe"),
                {"din_uid": to_subscribe.din_uid, "mode": "trial"},
                follow=True,
            ),
            owner.post(reverse("outbound_call_new", args=[caller.code]), CALL_FORM, follow=True),
        ]

    assert [page.status_code for page in pages] == [200, 200]
    assert all(QUEUED in page.content.decode() for page in pages)
    unsent = list(OutboxMessage.objects.filter(sent_at__isnull=True).order_by("id"))
    assert [m.task_name for m in unsent] == ["dins.subscribe", "callflows.place_call"]
    # one short try (a timeout, not a refusal), then none: the sweep does the rest
    assert [m.attempts for m in unsent] == [1, 0] and "imeout" in unsent[0].last_error

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert sorted(outbox_sweep().sent) == [m.pk for m in unsent]
        done = _wait_for(
            lambda: (
                _status(Subscription, din_uid=to_subscribe.din_uid) == "active"
                and _status(OutboundCall, subscription=caller) != OutboundCall.Status.QUEUED
            ),
            seconds=30,
        )
    assert done
