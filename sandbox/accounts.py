"""Sandbox accounts and their ledger: every balance change is one ``UPDATE … SET balance =
balance + amount`` on the locked account row plus one ledger row, in one transaction.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from sandbox.models import (
    SandboxAccount,
    SandboxCall,
    SandboxIncomingCall,
    SandboxLedgerEntry,
    SandboxSubscription,
)


def sandbox_account_authenticate(*, sid: str, auth_token: str) -> SandboxAccount | None:
    """The account for these Basic credentials, or None.

    The sandbox serves one account: the one the portal is configured with (XOXZO_SID and
    XOXZO_AUTH_TOKEN), created on first use with the initial credit.
    """
    expected_sid, expected_token = settings.XOXZO_SID, settings.XOXZO_AUTH_TOKEN
    if not (expected_sid and expected_token):
        return None
    # Both compared, always, so the timing tells nothing about which one was wrong.
    sid_ok = constant_time_compare(sid, expected_sid)
    token_ok = constant_time_compare(auth_token, expected_token)
    if not (sid_ok and token_ok):
        return None
    return sandbox_account_get_or_create(sid=sid)


def sandbox_account_get_or_create(*, sid: str) -> SandboxAccount:
    account = SandboxAccount.objects.filter(sid=sid).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            account = SandboxAccount.objects.create(sid=sid)
            balance_change(
                account_id=account.pk,
                amount=Decimal(str(settings.SANDBOX_INITIAL_BALANCE)),
                kind=SandboxLedgerEntry.Kind.INITIAL_CREDIT,
                description="Sandbox starting balance",
            )
    except IntegrityError:  # created by a concurrent first request
        return SandboxAccount.objects.get(sid=sid)
    account.refresh_from_db()
    return account


def sandbox_account_top_up(*, account: SandboxAccount, amount: Decimal) -> SandboxLedgerEntry:
    """Add credits (operators, from the management command)."""
    if amount <= 0:
        raise ValueError("A top-up must be positive.")
    with transaction.atomic():
        return balance_change(
            account_id=account.pk,
            amount=amount,
            kind=SandboxLedgerEntry.Kind.TOP_UP,
            description="Top-up by an operator",
        )


def lock_account(account_id: int) -> SandboxAccount:
    return SandboxAccount.objects.select_for_update(of=("self",)).get(pk=account_id)


def balance_change(
    *,
    account_id: int,
    amount: Decimal,
    kind: str,
    description: str,
    subscription: SandboxSubscription | None = None,
    call: SandboxCall | None = None,
    incoming_call: SandboxIncomingCall | None = None,
) -> SandboxLedgerEntry:
    """Move the balance by ``amount`` and record it. Call inside ``transaction.atomic()``."""
    SandboxAccount.objects.filter(pk=account_id).update(
        balance=F("balance") + amount, updated_at=timezone.now()
    )
    # The UPDATE holds the row lock until commit, so this read is our own new balance.
    balance = SandboxAccount.objects.filter(pk=account_id).values_list("balance", flat=True).get()
    return SandboxLedgerEntry.objects.create(
        account_id=account_id,
        kind=kind,
        amount=amount,
        balance_after=balance,
        description=description[:200],
        subscription=subscription,
        call=call,
        incoming_call=incoming_call,
    )
