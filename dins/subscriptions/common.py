"""What the stages of a subscription share: prices, trial times, the action URL, the tasks."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import timezone

from dins import xoxzo
from dins.models import Subscription, SubscriptionStatus
from dins.signals import subscription_answering_changed
from portal.addresses import action_url
from portal.alerts import alert_raise, alert_resolve
from portal.models import AlertKind, OutboxMessage
from portal.outbox import outbox_enqueue, outbox_enqueue_many
from portal.services import audit_record

logger = logging.getLogger(__name__)

TRIAL_LENGTH = timedelta(hours=24)

# Task names (``dins.tasks``): enqueued by name through the outbox, never imported here.
SUBSCRIBE_TASK = "dins.subscribe"
PUSH_ACTION_URL_TASK = "dins.push_action_url"
RELEASE_TASK = "dins.release"

# Carrier errors that go away by themselves: tasks retry them with backoff.
TRANSIENT_CARRIER_ERRORS = (xoxzo.XoxzoUnavailable, xoxzo.XoxzoRateLimited)


# --- Pure helpers -----------------------------------------------------------------------------


def trial_price_for(monthly_cost: Decimal) -> Decimal:
    ratio = Decimal(str(settings.TRIAL_PRICE_RATIO))
    return (Decimal(monthly_cost) * ratio).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def action_url_for(subscription: Subscription) -> str:
    """The URL the carrier calls for this number: public base + the number's secret token."""
    return action_url(subscription.action_token)


def trial_times(accepted_at: datetime) -> tuple[datetime, datetime]:
    """(deadline, release_at) of a trial the carrier accepted at ``accepted_at``.

    The carrier publishes no acceptance time, so callers pass the moment the subscribe
    request left (``Subscription.sent_at``): the earliest the carrier can have accepted it,
    hence a deadline never later than the carrier's own.
    """
    deadline = accepted_at + TRIAL_LENGTH
    return deadline, deadline - timedelta(minutes=settings.TRIAL_RELEASE_MARGIN_MINUTES)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def confirmation_matches(subscription: Subscription, typed: str) -> bool:
    """Typed as +81 50…, 81 50…, or nationally as 050…: any spacing or dashes."""
    digits = _digits(typed)
    national = "0" + subscription.din[len(subscription.country_code) :]
    return bool(digits) and digits in (subscription.din, national)


def outbox_subject(subscription_id: int) -> str:
    """How the outbox names work on this subscription (``portal.outbox.outbox_waiting``)."""
    return f"dins.subscription:{subscription_id}"


# --- Tasks, through the outbox ----------------------------------------------------------------


def enqueue_subscribe(subscription: Subscription, *, claim: str) -> OutboxMessage:
    """The subscribe task for ``subscription``, owning it by ``claim``."""
    return outbox_enqueue(
        SUBSCRIBE_TASK,
        kwargs={
            "tenant_id": subscription.tenant_id,
            "subscription_id": subscription.pk,
            "claim": claim,
        },
        subject=outbox_subject(subscription.pk),
        expires_after=timedelta(minutes=settings.SUBSCRIBE_QUEUED_EXPIRY_MINUTES),
    )


def enqueue_push_action_url(subscription: Subscription) -> OutboxMessage:
    return outbox_enqueue(
        PUSH_ACTION_URL_TASK,
        kwargs={"tenant_id": subscription.tenant_id, "subscription_id": subscription.pk},
        subject=outbox_subject(subscription.pk),
    )


def enqueue_release(*, subscription_id: int, tenant_id: int) -> OutboxMessage:
    # No expiry: a number in "releasing" is released however late the broker takes it.
    return outbox_enqueue(
        RELEASE_TASK,
        kwargs={"tenant_id": tenant_id, "subscription_id": subscription_id},
        subject=outbox_subject(subscription_id),
    )


def enqueue_releases(numbers: list[tuple[int, int]]) -> list[OutboxMessage]:
    """The release task of each ``(subscription_id, tenant_id)``, saved in one INSERT (the
    trial sweep's claim of every due trial)."""
    return outbox_enqueue_many(
        RELEASE_TASK,
        messages=[
            ({"tenant_id": tenant_id, "subscription_id": pk}, outbox_subject(pk))
            for pk, tenant_id in numbers
        ],
    )


# --- Shared steps -----------------------------------------------------------------------------


def activated(subscription: Subscription) -> None:
    """``subscription`` just became active (in this transaction): point the carrier at its
    action URL, publish its flow, and close the alert of an earlier failed attempt."""
    enqueue_push_action_url(subscription)
    answering_changed(subscription)
    alert_resolve(
        kind=AlertKind.SUBSCRIPTION_FAILED, subscription=subscription, resolution="subscribed"
    )


def answering_changed(subscription: Subscription) -> None:
    """What this number answers changed (activated, token rotated, released): call flows
    publish it, or withdraw it, in the current transaction (``dins.signals``)."""
    subscription_answering_changed.send(sender=Subscription, subscriptions=[subscription])


def credentials_rejected(
    error: xoxzo.XoxzoError, *, operation: str, subscription: Subscription | None = None
) -> None:
    """Alert the tenant that the carrier refused the portal's credentials (HTTP 401)."""
    logger.error("carrier credentials rejected during %s: %s", operation, error)
    alert_raise(
        kind=AlertKind.CARRIER_CREDENTIALS,
        subscription=subscription,
        context={"operation": operation, "error": str(error)[:300]},
    )


def flag_missing(subscription: Subscription) -> bool:
    """The carrier no longer lists an active number: flag it once."""
    changed = Subscription.objects.filter(
        pk=subscription.pk, status=SubscriptionStatus.ACTIVE, carrier_missing_since__isnull=True
    ).update(carrier_missing_since=timezone.now())
    if changed:
        audit_record(
            action="subscription.carrier_missing", obj=subscription, tenant=subscription.tenant
        )
    return bool(changed)


def carrier_holding(din_uid: str) -> xoxzo.Subscription | None:
    """The carrier's record of ``din_uid`` in this account's list, or None (asks the carrier).

    The list is this account's only, and one number has at most one live row here, so a
    number the carrier lists for us belongs to the row that asked for it.
    """
    return next(
        (item for item in xoxzo.get_client().list_subscriptions() if item.din_uid == din_uid),
        None,
    )
