"""Read-side queries of the sandbox carrier."""

from __future__ import annotations

import uuid

from django.db.models import Exists, OuterRef, QuerySet

from sandbox.models import (
    SandboxAccount,
    SandboxCall,
    SandboxDin,
    SandboxFault,
    SandboxIncomingCall,
    SandboxLedgerEntry,
    SandboxSubscription,
    SandboxVoicemail,
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
        code = uuid.UUID(callid)
    except ValueError:
        return None
    return SandboxCall.objects.filter(account=account, callid=code).first()


def sandbox_call_list(*, account: SandboxAccount, limit: int = 50) -> list[SandboxCall]:
    return list(SandboxCall.objects.filter(account=account).order_by("-start_time", "-id")[:limit])


def sandbox_ledger_list(*, account: SandboxAccount, limit: int = 50) -> list[SandboxLedgerEntry]:
    return list(
        SandboxLedgerEntry.objects.filter(account=account).order_by("-created_at", "-id")[:limit]
    )


def sandbox_action_url_map(*, account: SandboxAccount) -> dict[str, str]:
    """The account's active numbers as "+E.164" → action URL ("" when none is set).

    The incoming-call engine's ``lookup_action_url`` (``.get``): a plain dict read once, so
    transfers and burst worker threads need no database.
    """
    rows = SandboxSubscription.objects.filter(account=account, released_at__isnull=True)
    return {f"+{din}": url for din, url in rows.values_list("din__din", "action_url")}


def sandbox_incoming_call_list(
    *, account: SandboxAccount, limit: int = 50
) -> list[SandboxIncomingCall]:
    return list(
        SandboxIncomingCall.objects.filter(account=account)
        .select_related("din")
        .order_by("-started_at", "-id")[:limit]
    )


def sandbox_voicemail_list(*, account: SandboxAccount, limit: int = 50) -> list[SandboxVoicemail]:
    # The recordings stay in the database until the operator plays one.
    return list(
        SandboxVoicemail.objects.filter(incoming_call__account=account)
        .defer("recording")
        .order_by("-created_at", "-id")[:limit]
    )


def sandbox_voicemail_get(*, code: uuid.UUID) -> SandboxVoicemail | None:
    return SandboxVoicemail.objects.filter(code=code).first()


def sandbox_fault_list(*, include_used: bool = False) -> list[SandboxFault]:
    faults = SandboxFault.objects.all()
    if not include_used:
        faults = faults.filter(remaining__gt=0)
    return list(faults.order_by("created_at", "id"))
