"""Giving a number back: at the user's request, or when its trial is due (``sweep``)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from dins import xoxzo
from dins.models import Subscription, SubscriptionStatus
from dins.subscriptions.common import (
    TRANSIENT_CARRIER_ERRORS,
    answering_changed,
    confirmation_matches,
    credentials_rejected,
    enqueue_release,
)
from portal.alerts import alert_raise
from portal.models import AlertKind
from portal.services import ServiceError, audit_record


def subscription_release_request(
    *, subscription: Subscription, typed_number: str, request: HttpRequest
) -> None:
    """Release a number at the user's request, after they typed it to confirm.

    The claim and the release task's outbox message are saved together: a broker that is down
    only delays the release (and the trial sweep re-drives it after its lease anyway).
    """
    if not confirmation_matches(subscription, typed_number):
        raise ServiceError(
            _("Type the number exactly as shown (%(number)s) to confirm the release.")
            % {"number": subscription.e164}
        )
    now = timezone.now()
    with transaction.atomic():
        changed = Subscription.objects.filter(
            pk=subscription.pk, status=SubscriptionStatus.ACTIVE
        ).update(
            status=SubscriptionStatus.RELEASING,
            release_claimed_at=now,
            release_requested_by=request.user,
            updated_at=now,
        )
        subscription.refresh_from_db()
        if not changed:
            raise ServiceError(
                _("This number cannot be released now (status: %(status)s).")
                % {"status": subscription.get_status_display()}
            )
        audit_record(
            action="subscription.release_request",
            obj=subscription,
            request=request,
            before={"status": SubscriptionStatus.ACTIVE},
            after={"status": SubscriptionStatus.RELEASING},
        )
        answering_changed(subscription)
        enqueue_release(subscription_id=subscription.pk, tenant_id=subscription.tenant_id)


def subscription_release(*, subscription_id: int) -> bool:
    """Delete the number at the carrier (the ``dins.release`` task body); 404 means done.

    Transient carrier errors propagate so the task retries with backoff; the sweep re-drives
    the release after its lease if the task gives up, until the number is released.
    """
    subscription = Subscription.objects.filter(
        pk=subscription_id, status=SubscriptionStatus.RELEASING
    ).first()
    if subscription is None:
        return False
    now = timezone.now()
    Subscription.objects.filter(pk=subscription.pk).update(
        release_attempts=F("release_attempts") + 1, release_claimed_at=now
    )
    try:
        xoxzo.get_client().unsubscribe(din_uid=subscription.din_uid)
    except xoxzo.XoxzoNotFound:
        pass  # released already (an earlier attempt's answer was lost, or by hand)
    except xoxzo.XoxzoError as error:
        Subscription.objects.filter(pk=subscription.pk).update(release_error=str(error)[:300])
        # Transient errors are retried quietly (the overdue alert covers a carrier that stays
        # down); anything else will not go away by retrying, so people are told now.
        if isinstance(error, xoxzo.XoxzoAuthError):
            credentials_rejected(error, operation="release", subscription=subscription)
        elif not isinstance(error, TRANSIENT_CARRIER_ERRORS):
            alert_raise(
                kind=AlertKind.RELEASE_FAILED,
                subscription=subscription,
                context={"reason": str(error)[:300]},
            )
        raise
    released_at = timezone.now()
    changed = Subscription.objects.filter(
        pk=subscription.pk, status=SubscriptionStatus.RELEASING
    ).update(
        status=SubscriptionStatus.RELEASED,
        released_at=released_at,
        release_error="",
        updated_at=now,
    )
    if not changed:
        return False
    automatic = subscription.is_trial and subscription.release_requested_by_id is None
    audit_record(
        action="subscription.release",
        obj=subscription,
        actor=None if automatic else subscription.release_requested_by,
        tenant=subscription.tenant,
        before={"status": SubscriptionStatus.RELEASING},
        after={"status": SubscriptionStatus.RELEASED, "automatic": automatic},
    )
    if automatic:
        alert_raise(
            kind=AlertKind.TRIAL_RELEASED,
            subscription=subscription,
            context=released_trial_context(subscription, released_at=released_at),
        )
    return True


def released_trial_context(subscription: Subscription, *, released_at) -> dict[str, object]:
    """What the "trial released" e-mail says: saved in time, or released late and billed.

    Past the deadline the carrier refunds nothing: the month is billed in full.
    """
    deadline = subscription.trial_deadline
    if deadline is not None and released_at > deadline:
        return {"late": True, "billed": str(subscription.monthly_cost)}
    return {"saved": str(subscription.monthly_cost - subscription.trial_price)}
