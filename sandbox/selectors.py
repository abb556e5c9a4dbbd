"""Read-side queries of the sandbox carrier."""

from __future__ import annotations

import uuid

from django.db.models import Exists, OuterRef, QuerySet

from sandbox.models import (
    SandboxAccount,
    SandboxCall,
    SandboxDin,
    SandboxLedgerEntry,
    SandboxSubscription,
)


def sandbox_din_search(*, country: str = "", prefix: str = "") -> QuerySet[SandboxDin]:
    """Free numbers; a subscribed number is hidden from every account's search.

    ``prefix`` includes the country code (``8150`` finds 050 numbers), so it matches the
    start of the E.164 digits.
    """
    held = SandboxSubscription.objects.filter(din=OuterRef("pk"), released_at__isnull=True)
    numbers = SandboxDin.objects.filter(~Exists(held))
    if country:
        numbers = numbers.filter(country=country.upper())
    if prefix:
        numbers = numbers.filter(din__startswith=prefix)
    return numbers.order_by("din")


def sandbox_subscription_list(
    *, account: SandboxAccount, include_released: bool = False
) -> QuerySet[SandboxSubscription]:
    subscriptions = SandboxSubscription.objects.filter(account=account).select_related("din")
    if not include_released:
        subscriptions = subscriptions.filter(released_at__isnull=True)
    return subscriptions.order_by("subscribed_at", "id")


def sandbox_call_get(*, account: SandboxAccount, callid: str) -> SandboxCall | None:
    """The account's call with this id; None alike for a malformed, unknown or foreign id."""
    try:
        callid = uuid.UUID(callid)
    except ValueError:
        return None
    return SandboxCall.objects.filter(account=account, callid=callid).first()


def sandbox_call_list(*, account: SandboxAccount, limit: int = 50) -> list[SandboxCall]:
    return list(SandboxCall.objects.filter(account=account).order_by("-start_time", "-id")[:limit])


def sandbox_ledger_list(*, account: SandboxAccount, limit: int = 50) -> list[SandboxLedgerEntry]:
    return list(
        SandboxLedgerEntry.objects.filter(account=account).order_by("-created_at", "-id")[:limit]
    )
