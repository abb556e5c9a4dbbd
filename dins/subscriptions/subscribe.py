"""Buying a number at the carrier exactly once (the ``dins.subscribe`` task body).

The subscribe request is not idempotent: a second one answers 400 "not available" for a
number the first already bought. So the task claims its row (``pending → subscribing``, with
the send time) and commits that *before* the request leaves. From then on the request's outcome
is never guessed:

- 201: the number is ours → ``active``.
- 400: taken, by someone else or by an earlier request of ours that took effect; the carrier's
  list of this account's numbers tells which → ``active`` or ``failed``.
- proven not sent (connection refused, connect timeout, 429) → back to ``pending`` and the
  task retries with backoff.
- anything after which the request may have taken effect (read timeout, dropped connection,
  any 5xx: a 503 too, since a carrier may act and then fail) → the list settles it.

A task that finds its row already ``subscribing`` (redelivered after its worker died, or
retried) settles from the list and never sends the same request again. Only when the carrier
still does not hold the number ``SUBSCRIBE_SETTLE_AFTER_SECONDS`` after the last request, so
that request provably never took effect, is the number requested afresh.

The trial deadline is anchored on the first send time (``sent_at``): the earliest the carrier
can have accepted the number, however late the answer is settled.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.dispatch import receiver
from django.utils import timezone

from dins import xoxzo
from dins.models import Subscription, SubscriptionStatus
from dins.subscriptions.common import (
    SUBSCRIBE_TASK,
    action_url_for,
    activated,
    carrier_holding,
    credentials_rejected,
    flag_missing,
    trial_times,
)
from portal.alerts import alert_raise
from portal.models import AlertKind
from portal.outbox import outbox_gave_up
from portal.scoping import scopes_disabled
from portal.services import audit_record

logger = logging.getLogger(__name__)

SUBSCRIBING_STATUSES = (SubscriptionStatus.PENDING, SubscriptionStatus.SUBSCRIBING)
# Stored as the failure reason when the task queue, not the carrier, stopped a subscribe.
QUEUE_UNREACHABLE = (
    "The task queue (broker) could not be reached in time; nothing was sent to the carrier."
)
# ... and when the carrier refused the portal's credentials (the pages say it in words).
CREDENTIALS_REJECTED = "credentials rejected (HTTP 401)"


class SubscribeNotSettled(Exception):
    """The carrier does not list the number yet, but the last request is too recent to
    conclude it never arrived: the task looks again later."""


# --- The task's lease ---------------------------------------------------------------------------


def subscription_lease_extend(*, subscription_id: int, claim: str, seconds: float = 0) -> bool:
    """Renew the task's lease on its row (``claimed_at``), ``seconds`` ahead of now (a retry's
    countdown); False when the row is no longer the task's."""
    until = timezone.now() + timedelta(seconds=seconds)
    return bool(
        Subscription.objects.filter(
            pk=subscription_id, status__in=SUBSCRIBING_STATUSES, claim=claim
        ).update(claimed_at=until)
    )


@contextlib.contextmanager
def lease_kept(*, subscription_id: int, claim: str) -> Iterator[None]:
    """Renew the lease every quarter of ``SUBSCRIBE_LEASE_SECONDS`` while the block runs (a
    request to the carrier that takes its time): only a worker that died stops renewing it."""
    stop = threading.Event()

    def renew() -> None:
        try:
            while not stop.wait(settings.SUBSCRIBE_LEASE_SECONDS / 4):
                with scopes_disabled():
                    subscription_lease_extend(subscription_id=subscription_id, claim=claim)
        except Exception:  # a renewal that fails lets the lease run out: the sweep settles it
            logger.exception("subscribe %s: the lease could not be renewed", subscription_id)
        finally:
            connection.close()  # this thread's own connection

    keeper = threading.Thread(target=renew, name="subscribe-lease", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join(timeout=5)


def lease_expired_before(now: datetime) -> datetime:
    """Rows whose lease was last renewed before this have lost their task."""
    return now - timedelta(seconds=settings.SUBSCRIBE_LEASE_SECONDS)


def subscription_subscribe(*, subscription_id: int, claim: str = "") -> None:
    """Subscribe at the carrier exactly once (the ``dins.subscribe`` task body).

    ``claim`` is the ownership the task was enqueued with; a task whose claim is no longer the
    row's (reconciliation took the row over) does nothing. Raises transient carrier errors and
    ``SubscribeNotSettled`` for the task to retry.
    """
    subscription = Subscription.objects.filter(
        pk=subscription_id, status__in=SUBSCRIBING_STATUSES, claim=claim
    ).first()
    if subscription is None:
        return  # settled already, or no longer this task's
    with lease_kept(subscription_id=subscription.pk, claim=claim):
        _subscribe(subscription, claim=claim)


def _subscribe(subscription: Subscription, *, claim: str) -> None:
    now = timezone.now()
    if subscription.status == SubscriptionStatus.SUBSCRIBING:
        # This task ran before: redelivered after its worker died, or retried after an
        # answer that did not tell. The request may have taken effect: look, never resend it.
        Subscription.objects.filter(
            pk=subscription.pk, status=SubscriptionStatus.SUBSCRIBING, claim=claim
        ).update(claimed_at=now)
        _settle(subscription, now=now)
        return
    _claim_and_send(subscription, now=now)


def _claim_and_send(subscription: Subscription, *, now: datetime) -> None:
    before = {"sent_at": subscription.sent_at, "last_sent_at": subscription.last_sent_at}
    # Committed before the request leaves (tasks run in autocommit): a worker that dies from
    # here on leaves "subscribing", which only the carrier's list settles.
    claimed = Subscription.objects.filter(
        pk=subscription.pk, status=SubscriptionStatus.PENDING, claim=subscription.claim
    ).update(
        status=SubscriptionStatus.SUBSCRIBING,
        claimed_at=now,
        sent_at=Coalesce(F("sent_at"), Value(now)),
        last_sent_at=now,
        updated_at=now,
    )
    if not claimed:
        return  # a duplicate delivery of the same task claimed it first
    subscription.refresh_from_db()
    try:
        xoxzo.get_client().subscribe(din_uid=subscription.din_uid)
    except xoxzo.XoxzoValidationError as error:
        # "Not available": bought by someone else, or by an earlier request of ours.
        if carrier_holding(subscription.din_uid) is not None:
            activate(subscription)
            return
        # Stored in the carrier's own words; pages add the translated context around it.
        fail(subscription, " ".join(" ".join(m) for m in error.errors.values()) or str(error))
        return
    except xoxzo.XoxzoAuthError:
        fail(subscription, CREDENTIALS_REJECTED, kind=AlertKind.CARRIER_CREDENTIALS)
        return
    except xoxzo.XoxzoError as error:
        if _never_sent(error):
            # Nothing reached the carrier: give the claim back and let the task retry.
            Subscription.objects.filter(
                pk=subscription.pk, status=SubscriptionStatus.SUBSCRIBING, claim=subscription.claim
            ).update(status=SubscriptionStatus.PENDING, updated_at=timezone.now(), **before)
            raise
        audit_record(
            action="subscription.unknown",
            obj=subscription,
            tenant=subscription.tenant,
            after={"why": str(error)[:300]},
        )
        _settle(subscription, now=timezone.now())
        return
    activate(subscription)


def _never_sent(error: xoxzo.XoxzoError) -> bool:
    """True only when the request provably did not reach the carrier.

    A 5xx (503 included) may follow work the carrier already did, so it is not proof; a
    refused or timed-out connection and a 429 are.
    """
    if isinstance(error, xoxzo.XoxzoRateLimited):
        return True
    return (
        isinstance(error, xoxzo.XoxzoUnavailable)
        and error.status is None
        and not error.outcome_unknown
    )


def _settle(subscription: Subscription, *, now: datetime) -> None:
    """Settle a request that may have taken effect from the carrier's list; never resend it."""
    try:
        held = carrier_holding(subscription.din_uid)
    except xoxzo.XoxzoAuthError as error:
        credentials_rejected(error, operation="subscribe", subscription=subscription)
        raise
    if held is not None:
        activate(subscription)
        return
    last_request = subscription.last_sent_at or subscription.sent_at
    quiet = timedelta(seconds=settings.SUBSCRIBE_SETTLE_AFTER_SECONDS)
    if last_request is not None and now - last_request < quiet:
        raise SubscribeNotSettled(
            f"+{subscription.din} is not listed by the carrier yet; looking again later."
        )
    # Long after the last request the carrier still does not hold the number: that request
    # never took effect. Ask afresh (a request still arriving late would answer "not
    # available", and the list then tells it is ours). ``sent_at`` keeps the first send time.
    moved = Subscription.objects.filter(
        pk=subscription.pk, status=SubscriptionStatus.SUBSCRIBING, claim=subscription.claim
    ).update(status=SubscriptionStatus.PENDING, updated_at=now)
    if moved:
        subscription.refresh_from_db()
        _claim_and_send(subscription, now=now)


def activate(subscription: Subscription) -> bool:
    """The carrier holds the number: ``active``, the trial's deadline from the send time."""
    subscription.refresh_from_db(fields=["sent_at"])
    accepted_at = subscription.sent_at or timezone.now()
    values = {
        "status": SubscriptionStatus.ACTIVE,
        "carrier_accepted_at": accepted_at,
        "failure_reason": "",
    }
    if subscription.is_trial:
        values["trial_deadline"], values["release_at"] = trial_times(accepted_at)
    changed = Subscription.objects.filter(
        pk=subscription.pk, status__in=SUBSCRIBING_STATUSES
    ).update(updated_at=timezone.now(), **values)
    if changed:
        audit_record(
            action="subscription.activate",
            obj=subscription,
            tenant=subscription.tenant,
            after={"trial": subscription.is_trial, "accepted_at": accepted_at.isoformat()},
        )
        activated(subscription)
    return bool(changed)


def fail(
    subscription: Subscription,
    reason: str,
    *,
    kind: str = AlertKind.SUBSCRIPTION_FAILED,
    cause: str = "carrier",
) -> bool:
    """The number is not ours: ``failed`` with ``reason``, and one alert that says why.

    ``cause`` is "carrier" (the carrier refused) or "queue" (the task queue never took the
    request, so the carrier never saw it).
    """
    changed = Subscription.objects.filter(
        pk=subscription.pk, status__in=SUBSCRIBING_STATUSES
    ).update(
        status=SubscriptionStatus.FAILED, failure_reason=reason[:300], updated_at=timezone.now()
    )
    if changed:
        audit_record(
            action="subscription.fail",
            obj=subscription,
            tenant=subscription.tenant,
            after={"reason": reason, "cause": cause},
        )
        # One alert for one failure: a 401 says so in the credentials alert's own words.
        alert_raise(
            kind=kind,
            subscription=subscription,
            context={"operation": "subscribe", "reason": reason, "cause": cause},
        )
    return bool(changed)


@receiver(outbox_gave_up, dispatch_uid="dins.subscribe.gave_up")
def subscribe_given_up(sender, *, task_name: str, kwargs: dict, **extra) -> None:
    """The broker never took the subscribe task in time: nothing reached the carrier."""
    subscription_id = kwargs.get("subscription_id")
    if task_name != SUBSCRIBE_TASK or subscription_id is None:
        return
    with scopes_disabled():
        subscription = (
            Subscription.objects.filter(
                pk=subscription_id,
                status=SubscriptionStatus.PENDING,
                claim=kwargs.get("claim", ""),
            )
            .select_related("tenant")
            .first()
        )
        if subscription is not None:
            fail(subscription, QUEUE_UNREACHABLE, cause="queue")


def subscription_push_action_url(*, subscription_id: int) -> None:
    """Tell the carrier where this number's calls go (safe to repeat)."""
    subscription = Subscription.objects.filter(
        pk=subscription_id, status=SubscriptionStatus.ACTIVE
    ).first()
    if subscription is None:
        return
    url = action_url_for(subscription)
    try:
        xoxzo.get_client().set_action_url(din_uid=subscription.din_uid, action_url=url)
    except xoxzo.XoxzoNotFound:
        flag_missing(subscription)
        return
    except xoxzo.XoxzoAuthError as error:
        credentials_rejected(error, operation="action_url", subscription=subscription)
        raise
    Subscription.objects.filter(pk=subscription.pk).update(action_url_pushed=url)
