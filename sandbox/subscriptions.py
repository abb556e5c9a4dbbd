"""The sandbox's numbers: the inventory, subscriptions and their billing, action URLs.

Billing follows Xoxzo's published rules: the first 30 days are charged at subscription; a number
released within 24 hours of subscribing only costs the "discounted 24 hours price", which
Xoxzo does not publish. Our choice: ``SANDBOX_TRIAL_PRICE_RATIO`` times the monthly cost, so the
release refunds the rest. Renewals every 30 days are not simulated.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from sandbox import inventory
from sandbox.accounts import balance_change, lock_account
from sandbox.errors import SandboxNotFound, SandboxValidationError
from sandbox.models import (
    SandboxAccount,
    SandboxDin,
    SandboxLedgerEntry,
    SandboxSubscription,
)

CENT = Decimal("0.01")
TRIAL_PERIOD = timedelta(hours=24)


def sandbox_inventory_ensure() -> int:
    """Put the deterministic inventory in place if it is missing; returns numbers added.

    Idempotent and cheap when the inventory exists (one EXISTS query), so the API calls it
    lazily: a fresh database, or one flushed between tests, serves numbers at once.
    """
    if SandboxDin.objects.exists():
        return 0
    rows = [
        SandboxDin(
            din_uid=number.din_uid,
            din=number.din,
            country=number.country,
            country_code=number.country_code,
            prefix=number.prefix,
            monthly_cost=number.monthly_cost,
            minute_cost=number.minute_cost,
        )
        for number in inventory.numbers()
    ]
    created = SandboxDin.objects.bulk_create(rows, ignore_conflicts=True)
    return len(created)


def sandbox_trial_price(*, monthly_cost: Decimal) -> Decimal:
    """What a number released within 24 hours costs (our choice of Xoxzo's unpublished rate)."""
    ratio = Decimal(str(settings.SANDBOX_TRIAL_PRICE_RATIO))
    return min(monthly_cost, (monthly_cost * ratio).quantize(CENT, rounding=ROUND_HALF_UP))


def sandbox_subscription_create(*, account: SandboxAccount, din_uid: str) -> SandboxSubscription:
    """Subscribe the account to a free number and charge its first 30 days."""
    if not din_uid:
        raise SandboxValidationError({"din_uid": ["This field is required."]})
    din = SandboxDin.objects.filter(din_uid=din_uid).first()
    if din is None:
        raise SandboxValidationError({"din_uid": [f"Invalid din_uid: {din_uid:.40}."]})
    taken = SandboxValidationError({"din_uid": ["This number is not available."]})
    with transaction.atomic():
        locked = lock_account(account.pk)
        if SandboxSubscription.objects.filter(din=din, released_at__isnull=True).exists():
            raise taken
        if locked.balance < din.monthly_cost:
            raise SandboxValidationError(
                {"non_field_errors": ["Insufficient balance to subscribe to this number."]}
            )
        try:
            # The partial unique index decides a race between two subscribers.
            with transaction.atomic():
                subscription = SandboxSubscription.objects.create(account=locked, din=din)
        except IntegrityError:
            raise taken from None
        balance_change(
            account_id=locked.pk,
            amount=-din.monthly_cost,
            kind=SandboxLedgerEntry.Kind.SUBSCRIPTION,
            description=f"+{din.din}: first 30 days",
            subscription=subscription,
        )
    return subscription


def _active_subscription(*, account: SandboxAccount, din_uid: str) -> SandboxSubscription:
    subscription = (
        SandboxSubscription.objects.filter(
            account=account, din__din_uid=din_uid, released_at__isnull=True
        )
        .select_related("din")
        .first()
    )
    if subscription is None:
        raise SandboxNotFound
    return subscription


def url_problems(value: str) -> list[str]:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ["Enter a valid http:// or https:// URL."]
    if len(value) > 2000:
        return ["Ensure this URL has at most 2000 characters."]
    return []


def callback_url_allowed(url: str) -> bool:
    """True for a URL under the portal's own ``PUBLIC_BASE_URL``, the only place this sandbox
    POSTs call results to: a sandbox that POSTs wherever it is told is an open relay."""
    base = urlsplit(settings.PUBLIC_BASE_URL.rstrip("/") + "/")
    parts = urlsplit(url)
    return (
        (parts.scheme, parts.netloc.lower()) == (base.scheme, base.netloc.lower())
        and parts.path.startswith(base.path)
        and "@" not in parts.netloc
    )


def callback_errors(value: str) -> list[str]:
    errors = url_problems(value)
    if not errors and not callback_url_allowed(value):
        errors = [
            f"This sandbox calls back only the portal it serves: the URL must start with "
            f"{settings.PUBLIC_BASE_URL.rstrip('/')}/."
        ]
    return errors


def sandbox_subscription_set_action_url(
    *, account: SandboxAccount, din_uid: str, action_url: str | None
) -> SandboxSubscription:
    subscription = _active_subscription(account=account, din_uid=din_uid)
    if action_url is None:
        raise SandboxValidationError({"action_url": ["This field is required."]})
    if action_url and (errors := url_problems(action_url)):
        raise SandboxValidationError({"action_url": errors})
    subscription.action_url = action_url
    subscription.save(update_fields=["action_url", "updated_at"])
    return subscription


def sandbox_subscription_release(*, account: SandboxAccount, din_uid: str) -> SandboxSubscription:
    """Give the number back; within 24 hours of subscribing, refund down to the trial price."""
    subscription = _active_subscription(account=account, din_uid=din_uid)
    now = timezone.now()
    with transaction.atomic():
        lock_account(account.pk)  # account first, as everywhere else: no lock-order deadlock
        released = SandboxSubscription.objects.filter(
            pk=subscription.pk, released_at__isnull=True
        ).update(released_at=now, updated_at=now)
        if not released:  # a concurrent release won
            raise SandboxNotFound
        if now - subscription.subscribed_at < TRIAL_PERIOD:
            monthly_cost = subscription.din.monthly_cost
            refund = monthly_cost - sandbox_trial_price(monthly_cost=monthly_cost)
            if refund > 0:
                balance_change(
                    account_id=account.pk,
                    amount=refund,
                    kind=SandboxLedgerEntry.Kind.TRIAL_REFUND,
                    description=f"+{subscription.din.din}: released within 24 hours",
                    subscription=subscription,
                )
    subscription.released_at = now
    return subscription
