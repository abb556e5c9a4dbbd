"""What people do to their numbers from the pages: subscribe, edit, rotate the token, keep."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from dins import xoxzo
from dins.models import LIVE_STATUSES, Subscription, SubscriptionStatus, new_action_token
from dins.subscriptions.common import (
    answering_changed,
    credentials_rejected,
    enqueue_push_action_url,
    enqueue_subscribe,
    trial_price_for,
)
from portal.models import User
from portal.scoping import current_tenant
from portal.services import ServiceError, audit_record


def subscription_request(
    *, din_uid: str, is_trial: bool, by: User, request: HttpRequest | None = None
) -> Subscription:
    """Start subscribing to ``din_uid`` for the active tenant; the carrier call runs in a task.

    The row and the task's outbox message are saved together: a broker that is down only
    delays the subscribe. A second submit for a number this tenant is already getting answers
    the same row. The offer is read again from the carrier so that the stored costs are the
    carrier's own.
    """
    tenant = current_tenant()
    existing = Subscription.objects.filter(din_uid=din_uid, status__in=LIVE_STATUSES).first()
    if existing is not None:
        return existing
    try:
        offers = xoxzo.get_client().search_dins()
    except xoxzo.XoxzoAuthError as error:
        credentials_rejected(error, operation="search")
        raise
    offer = next((d for d in offers if d.din_uid == din_uid), None)
    if offer is None:
        raise ServiceError(_("This number is no longer available. Search again."))
    claim = uuid.uuid4().hex
    try:
        with transaction.atomic():
            subscription = Subscription.objects.create(
                tenant=tenant,
                din_uid=offer.din_uid,
                din=offer.din,
                country_code=offer.country_code,
                prefix=offer.prefix,
                monthly_cost=offer.monthly_cost,
                minute_cost=offer.minute_cost,
                trial_price=trial_price_for(offer.monthly_cost),
                is_trial=is_trial,
                requested_by=by,
                claim=claim,
                claimed_at=timezone.now(),
            )
            audit_record(
                action="subscription.request",
                obj=subscription,
                actor=by,
                request=request,
                after={"din": subscription.din, "trial": is_trial},
            )
            enqueue_subscribe(subscription, claim=claim)
    except IntegrityError:
        # The partial unique constraint: someone (here or in another company) was faster.
        existing = Subscription.objects.filter(din_uid=din_uid, status__in=LIVE_STATUSES).first()
        if existing is not None:
            return existing
        raise ServiceError(_("Someone else is subscribing to this number right now.")) from None
    return subscription


def subscription_rotate_token(*, subscription: Subscription, request: HttpRequest) -> None:
    with transaction.atomic():
        subscription.action_token = new_action_token()
        subscription.save(update_fields=["action_token", "updated_at"])
        answering_changed(subscription)
        audit_record(action="subscription.rotate_token", obj=subscription, request=request)
        if subscription.status == SubscriptionStatus.ACTIVE:
            enqueue_push_action_url(subscription)


def subscription_update(
    *, subscription: Subscription, label: str, description: str, request: HttpRequest
) -> None:
    before = {"label": subscription.label, "description": subscription.description}
    after = {"label": label, "description": description}
    if before == after:
        return
    Subscription.objects.filter(pk=subscription.pk).update(
        label=label, description=description, updated_at=timezone.now()
    )
    subscription.label, subscription.description = label, description
    audit_record(
        action="subscription.update", obj=subscription, request=request, before=before, after=after
    )


def subscription_keep(*, subscription: Subscription, request: HttpRequest) -> None:
    """Turn a running trial into a normal subscription, unless its release already began."""
    changed = Subscription.objects.filter(
        pk=subscription.pk, status=SubscriptionStatus.ACTIVE, is_trial=True
    ).update(
        is_trial=False, kept_at=timezone.now(), kept_by=request.user, updated_at=timezone.now()
    )
    subscription.refresh_from_db()
    if changed:
        audit_record(action="subscription.keep", obj=subscription, request=request)
        return
    if subscription.status in (SubscriptionStatus.RELEASING, SubscriptionStatus.RELEASED):
        raise ServiceError(
            _("Too late to keep this number: its automatic release has already started.")
        )
    if subscription.status == SubscriptionStatus.ACTIVE and not subscription.is_trial:
        return  # kept already (a double click)
    raise ServiceError(_("Only an active trial can be kept."))
