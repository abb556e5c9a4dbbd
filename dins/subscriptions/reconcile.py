"""Reconciliation: the carrier's list of this account's numbers against ours.

One owner per row: a ``pending`` or ``subscribing`` row belongs to its subscribe task while
the task's lease runs (``claimed_at``: renewed while the task runs and over each retry's
countdown, ``SUBSCRIBE_LEASE_SECONDS``). A row whose lease ran out (its worker died) is taken
over by a compare-and-set that gives it a new claim; the old task, should it ever run again,
finds the claim changed and does nothing. ``subscriptions_settle_expired`` (every minute) does
that at once for such rows, pushing the action URL of a number the carrier holds in the same
step; reconciliation (every ``RECONCILE_INTERVAL_MINUTES``) compares everything else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from dins import xoxzo
from dins.models import LIVE_STATUSES, CarrierOrphan, Subscription, SubscriptionStatus
from dins.subscriptions.common import (
    action_url_for,
    activated,
    enqueue_push_action_url,
    enqueue_subscribe,
    flag_missing,
    outbox_subject,
    trial_times,
)
from dins.subscriptions.subscribe import (
    SUBSCRIBING_STATUSES,
    activate,
    lease_expired_before,
    subscription_push_action_url,
)
from portal.outbox import outbox_waiting
from portal.scoping import scopes_disabled, tenant_scope
from portal.services import audit_record

SETTLE_BATCH = 200


@dataclass
class ReconcileResult:
    activated: list[int] = field(default_factory=list)
    resubscribed: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    repushed: list[int] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)


def subscriptions_reconcile(*, now: datetime | None = None) -> ReconcileResult:
    """Compare the carrier's list with ours and settle every difference.

    Subscribes whose task lost its lease: the carrier holds the number → active; it does not
    → subscribed again by a new task (safe: the carrier was just seen not to hold it). Active
    numbers it lost are flagged; a wrong action URL is pushed again; a number it holds that a
    failed attempt of ours had sent for is ours again; numbers nobody here owns are listed for
    operators.
    """
    now = now or timezone.now()
    carrier = {item.din_uid: item for item in xoxzo.get_client().list_subscriptions()}
    result = ReconcileResult()
    lease_expired = lease_expired_before(now)
    with scopes_disabled():
        live = list(Subscription.objects.filter(status__in=LIVE_STATUSES).select_related("tenant"))
        for subscription in live:
            held = carrier.get(subscription.din_uid)
            if subscription.status in SUBSCRIBING_STATUSES:
                _take_over(
                    subscription, held=held, now=now, lease_expired=lease_expired, result=result
                )
            elif subscription.status == SubscriptionStatus.ACTIVE and held is None:
                if flag_missing(subscription):
                    result.missing.append(subscription.pk)
            elif subscription.status == SubscriptionStatus.ACTIVE and held is not None:
                if subscription.carrier_missing_since is not None:
                    Subscription.objects.filter(pk=subscription.pk).update(
                        carrier_missing_since=None
                    )
                if held.action_url != action_url_for(subscription):
                    result.repushed.append(subscription.pk)
                    enqueue_push_action_url(subscription)
        owned = {s.din_uid for s in live}
        orphans = {uid: item for uid, item in carrier.items() if uid not in owned}
        for uid in list(orphans):
            if _recover(uid, now=now, result=result):
                del orphans[uid]
        for uid, item in orphans.items():
            CarrierOrphan.objects.update_or_create(
                din_uid=uid, defaults={"din": item.din, "action_url": item.action_url}
            )
        CarrierOrphan.objects.exclude(din_uid__in=list(orphans)).delete()
        result.orphans = sorted(orphans)
    return result


def subscriptions_settle_expired(*, now: datetime | None = None) -> ReconcileResult:
    """Settle, from the carrier's list, every subscribe whose task stopped renewing its lease
    (its worker died); a number the carrier holds is activated and gets its action URL now.

    One indexed query when there is nothing to settle; the carrier is asked only when there is.
    A row whose task message the broker never took is the outbox's (it sends or gives it up).
    """
    now = now or timezone.now()
    result = ReconcileResult()
    lease_expired = lease_expired_before(now)
    with scopes_disabled():
        expired = [
            subscription
            for subscription in Subscription.objects.filter(
                status__in=SUBSCRIBING_STATUSES, claimed_at__lt=lease_expired
            ).select_related("tenant")[:SETTLE_BATCH]
        ]
        waiting = outbox_waiting(outbox_subject(s.pk) for s in expired)
        expired = [s for s in expired if outbox_subject(s.pk) not in waiting]
        if not expired:
            return result
        carrier = {item.din_uid: item for item in xoxzo.get_client().list_subscriptions()}
        for subscription in expired:
            _take_over(
                subscription,
                held=carrier.get(subscription.din_uid),
                now=now,
                lease_expired=lease_expired,
                result=result,
                push_now=True,
            )
    return result


def _take_over(
    subscription: Subscription,
    *,
    held: xoxzo.Subscription | None,
    now: datetime,
    lease_expired: datetime,
    result: ReconcileResult,
    push_now: bool = False,
) -> None:
    """Settle a subscribe whose task's lease ran out; leave it alone while the task owns it."""
    if subscription.claimed_at is not None and subscription.claimed_at > lease_expired:
        return  # its task may still be retrying: one owner per row
    claim = uuid.uuid4().hex
    taken = Subscription.objects.filter(
        pk=subscription.pk,
        status=subscription.status,
        claim=subscription.claim,
        claimed_at=subscription.claimed_at,
    ).update(claim=claim, claimed_at=now)
    if not taken:
        return  # its task ran meanwhile
    subscription.claim, subscription.claimed_at = claim, now
    if held is not None:
        if activate(subscription):
            result.activated.append(subscription.pk)
            if push_now:  # calls reach its flow from this minute, not after another task
                with tenant_scope(subscription.tenant):
                    subscription_push_action_url(subscription_id=subscription.pk)
        return
    # The carrier does not hold it, long after any request: a new task asks for it (once).
    # ``sent_at`` stays: should an earlier request still take effect, the deadline holds.
    with transaction.atomic():
        if Subscription.objects.filter(pk=subscription.pk, claim=claim).update(
            status=SubscriptionStatus.PENDING, updated_at=now
        ):
            result.resubscribed.append(subscription.pk)
            enqueue_subscribe(subscription, claim=claim)


def _recover(din_uid: str, *, now: datetime, result: ReconcileResult) -> bool:
    """A number the carrier holds for us that no live row owns, but that a failed attempt of
    ours had asked for (the request took effect after all): ours again, its trial deadline
    counted from that attempt's send time."""
    failed = (
        Subscription.objects.filter(
            din_uid=din_uid, status=SubscriptionStatus.FAILED, sent_at__isnull=False
        )
        .select_related("tenant")
        .order_by("-sent_at", "-pk")
        .first()
    )
    if failed is None or failed.sent_at is None:  # (the query asked for a send time)
        return False
    values: dict[str, object] = {
        "status": SubscriptionStatus.ACTIVE,
        "carrier_accepted_at": failed.sent_at,
        "failure_reason": "",
        "updated_at": now,
    }
    if failed.is_trial:
        values["trial_deadline"], values["release_at"] = trial_times(failed.sent_at)
    try:
        with transaction.atomic():
            if not Subscription.objects.filter(
                pk=failed.pk, status=SubscriptionStatus.FAILED
            ).update(**values):
                return False
            audit_record(
                action="subscription.recover",
                obj=failed,
                tenant=failed.tenant,
                after={"why": "the carrier holds the number this attempt asked for"},
            )
            failed.status = SubscriptionStatus.ACTIVE
            activated(failed)  # as any activation: action URL, flow, the failure alert closed
    except IntegrityError:
        return False  # a new attempt for the number went live meanwhile
    result.recovered.append(failed.pk)
    return True
