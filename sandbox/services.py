"""Write-side operations of the sandbox carrier: accounts, billing, subscriptions, calls.

Billing follows Xoxzo (XOXZO.md): the first 30 days are charged at subscription; a number
released within 24 hours of subscribing only costs the "discounted 24 hours price", which
Xoxzo does not publish. Our choice: ``SANDBOX_TRIAL_PRICE_RATIO`` times the monthly cost, so the
release refunds the rest. Renewals every 30 days are not simulated. Outbound calls need at least
``MINIMUM_CALL_BALANCE`` credits and are charged per started minute when they end.

Every balance change goes through ``_balance_change``: one ``UPDATE … SET balance =
balance + amount`` on the locked account row plus one ledger row, in one transaction.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from sandbox import inventory
from sandbox.models import (
    SandboxAccount,
    SandboxCall,
    SandboxDin,
    SandboxLedgerEntry,
    SandboxSubscription,
)
from sandbox.serializers import call_data

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
TRIAL_PERIOD = timedelta(hours=24)
MINIMUM_CALL_BALANCE = Decimal("50")  # [doc] outbound calls need at least 50 credits
# [doc] "~10 credits/min, ~15 with local caller ID": the sandbox uses exactly these.
OUTBOUND_MINUTE_COST = Decimal("10")
OUTBOUND_LOCAL_CALLER_ID_MINUTE_COST = Decimal("15")
# How long an answered sandbox call lasts: 42 s, billed as one started minute.
ANSWERED_CALL_SECONDS = 42
TTS_LANGUAGES = ("ja", "en")
TTS_MAX_LENGTH = 1000  # [choice] Xoxzo publishes no limit
CALLBACK_TIMEOUT = (3.05, 5.0)

E164 = re.compile(r"\+[1-9]\d{6,14}")
CALLER_NUMBER = re.compile(r"\+?\d{4,15}")
# [doc] MP3 paths may only hold ASCII letters, digits, "_", "/", "-" and the .mp3 suffix.
MP3_PATH = re.compile(r"[A-Za-z0-9_/-]+\.mp3")
TRUTHY = frozenset({"1", "true", "yes", "on"})


class SandboxError(Exception):
    pass


class SandboxValidationError(SandboxError):
    """Answered as 400 with ``errors``: ``{"field": ["message", ...]}`` like DRF."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


class SandboxNotFound(SandboxError):
    """Answered as 404, alike for a missing object and another account's."""


# --- Accounts and the ledger ------------------------------------------------------------------


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
            _balance_change(
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
        return _balance_change(
            account_id=account.pk,
            amount=amount,
            kind=SandboxLedgerEntry.Kind.TOP_UP,
            description="Top-up by an operator",
        )


def _lock_account(account_id: int) -> SandboxAccount:
    return SandboxAccount.objects.select_for_update(of=("self",)).get(pk=account_id)


def _balance_change(
    *,
    account_id: int,
    amount: Decimal,
    kind: str,
    description: str,
    subscription: SandboxSubscription | None = None,
    call: SandboxCall | None = None,
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
    )


# --- Inventory and subscriptions --------------------------------------------------------------


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
        locked = _lock_account(account.pk)
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
        _balance_change(
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


def _url_errors(value: str) -> list[str]:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ["Enter a valid http:// or https:// URL."]
    if len(value) > 2000:
        return ["Ensure this URL has at most 2000 characters."]
    return []


def sandbox_subscription_set_action_url(
    *, account: SandboxAccount, din_uid: str, action_url: str | None
) -> SandboxSubscription:
    subscription = _active_subscription(account=account, din_uid=din_uid)
    if action_url is None:
        raise SandboxValidationError({"action_url": ["This field is required."]})
    if action_url and (errors := _url_errors(action_url)):
        raise SandboxValidationError({"action_url": errors})
    subscription.action_url = action_url
    subscription.save(update_fields=["action_url", "updated_at"])
    return subscription


def sandbox_subscription_release(*, account: SandboxAccount, din_uid: str) -> SandboxSubscription:
    """Give the number back; within 24 hours of subscribing, refund down to the trial price."""
    subscription = _active_subscription(account=account, din_uid=din_uid)
    now = timezone.now()
    with transaction.atomic():
        _lock_account(account.pk)  # account first, as everywhere else: no lock-order deadlock
        released = SandboxSubscription.objects.filter(
            pk=subscription.pk, released_at__isnull=True
        ).update(released_at=now, updated_at=now)
        if not released:  # a concurrent release won
            raise SandboxNotFound
        if now - subscription.subscribed_at < TRIAL_PERIOD:
            monthly_cost = subscription.din.monthly_cost
            refund = monthly_cost - sandbox_trial_price(monthly_cost=monthly_cost)
            if refund > 0:
                _balance_change(
                    account_id=account.pk,
                    amount=refund,
                    kind=SandboxLedgerEntry.Kind.TRIAL_REFUND,
                    description=f"+{subscription.din.din}: released within 24 hours",
                    subscription=subscription,
                )
    subscription.released_at = now
    return subscription


# --- Outbound calls ---------------------------------------------------------------------------


def japanese_number_digits(number: str) -> str | None:
    """E.164 digits (no "+") when ``number`` is Japanese (+81…, 81…, 0…), else None."""
    if number.startswith("+81"):
        national = number[3:]
    elif number.startswith("81"):
        national = number[2:]
    elif number.startswith("0"):
        national = number
    else:
        return None
    return "81" + national.removeprefix("0")


def call_outcome_for(recipient: str) -> str:
    """How a sandbox call ends, chosen by the recipient so tests and demos can steer it.

    Numbers ending in 0000 are not answered, numbers ending in 9999 fail, all others are
    answered and last ``ANSWERED_CALL_SECONDS``.
    """
    if recipient.endswith("0000"):
        return SandboxCall.Status.NO_ANSWER
    if recipient.endswith("9999"):
        return SandboxCall.Status.FAILED
    return SandboxCall.Status.ANSWERED


def _recipient_errors(recipient: str) -> list[str]:
    if not recipient:
        return ["This field is required."]
    if not E164.fullmatch(recipient):
        return ["Enter the number in E.164 format with a leading +, e.g. +818012345678."]
    if recipient.startswith("+810"):
        return ["Drop the trunk 0 after the country code: +818012345678, not +8108012345678."]
    return []


def _caller_errors(*, account: SandboxAccount, caller: str, is_local_caller_id: bool) -> list[str]:
    if not caller:
        return ["This field is required."]
    if not CALLER_NUMBER.fullmatch(caller):
        return ["Enter a phone number of digits, optionally with a leading +."]
    japanese = japanese_number_digits(caller)
    if japanese is None:
        if is_local_caller_id:
            return ["The local caller ID option needs one of your Japanese numbers as caller."]
        return []
    if not is_local_caller_id:
        return [
            "Japanese caller IDs (+81… or 0…) are only allowed with the local caller ID option "
            "and one of your subscribed Japanese numbers."
        ]
    owned = SandboxSubscription.objects.filter(
        account=account, released_at__isnull=True, din__country="JP", din__din=japanese
    ).exists()
    if not owned:
        return ["This number is not one of your subscribed Japanese numbers."]
    return []


def _playback_errors(params: Mapping[str, str]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    recording_url = params.get("recording_url", "")
    tts_message = params.get("tts_message", "")
    if recording_url and tts_message:
        errors["non_field_errors"] = ["Give recording_url or tts_message, not both."]
    elif recording_url:
        url_errors = _url_errors(recording_url)
        if not url_errors and not MP3_PATH.fullmatch(urlsplit(recording_url).path):
            url_errors = [
                "The MP3 path may only contain ASCII letters, digits, _, / and - and must end "
                "in .mp3."
            ]
        if url_errors:
            errors["recording_url"] = url_errors
    elif tts_message:
        if len(tts_message) > TTS_MAX_LENGTH:
            errors["tts_message"] = [f"Ensure this field has at most {TTS_MAX_LENGTH} characters."]
        if params.get("tts_lang", "") not in TTS_LANGUAGES:
            errors["tts_lang"] = [f"Choose one of: {', '.join(TTS_LANGUAGES)}."]
    else:
        errors["recording_url"] = ["Give recording_url (an MP3) or tts_message with tts_lang."]
    callbackurl = params.get("callbackurl", "")
    if callbackurl and (url_errors := _url_errors(callbackurl)):
        errors["callbackurl"] = url_errors
    if len(params.get("tags", "")) > 200:
        errors["tags"] = ["Ensure this field has at most 200 characters."]
    return errors


def sandbox_call_start(*, account: SandboxAccount, params: Mapping[str, str]) -> SandboxCall:
    """Validate and place an outbound playback call; it ends later in ``sandbox_call_complete``.

    ``params`` are the form fields as Xoxzo receives them, including the local-caller-ID
    option under the name in ``XOXZO_LOCAL_CALLER_ID_PARAM``.
    """
    caller = params.get("caller", "").strip()
    recipient = params.get("recipient", "").strip()
    is_local_caller_id = (
        params.get(settings.XOXZO_LOCAL_CALLER_ID_PARAM, "").strip().lower() in TRUTHY
    )
    errors = _playback_errors(params)
    if caller_errors := _caller_errors(
        account=account, caller=caller, is_local_caller_id=is_local_caller_id
    ):
        errors["caller"] = caller_errors
    if recipient_errors := _recipient_errors(recipient):
        errors["recipient"] = recipient_errors
    if errors:
        raise SandboxValidationError(errors)

    with transaction.atomic():
        locked = _lock_account(account.pk)
        if locked.balance < MINIMUM_CALL_BALANCE:
            raise SandboxValidationError(
                {
                    "non_field_errors": [
                        f"Insufficient balance: outbound calls need at least "
                        f"{MINIMUM_CALL_BALANCE:.0f} credits."
                    ]
                }
            )
        call = SandboxCall.objects.create(
            account=locked,
            caller=caller,
            recipient=recipient,
            recording_url=params.get("recording_url", ""),
            tts_message=params.get("tts_message", ""),
            tts_lang=params.get("tts_lang", "") if params.get("tts_message") else "",
            callbackurl=params.get("callbackurl", ""),
            tags=params.get("tags", ""),
            is_local_caller_id=is_local_caller_id,
        )
        transaction.on_commit(lambda: _enqueue_completion(call.callid))
    return call


def _enqueue_completion(callid) -> None:
    from sandbox.tasks import complete_call

    complete_call.apply_async(
        kwargs={"callid": str(callid)}, countdown=settings.SANDBOX_CALL_COMPLETION_DELAY
    )


def sandbox_call_complete(*, callid: str) -> SandboxCall | None:
    """End an in-progress call with its outcome, charge it and notify its callback URL.

    Safe to run twice: the status moves by compare-and-set, and only the run that moved it
    charges and calls back. Returns None for an unknown callid (nothing to retry).
    """
    call = SandboxCall.objects.filter(callid=callid).first()
    if call is None:
        return None
    status = call_outcome_for(call.recipient)
    duration = ANSWERED_CALL_SECONDS if status == SandboxCall.Status.ANSWERED else 0
    rate = OUTBOUND_LOCAL_CALLER_ID_MINUTE_COST if call.is_local_caller_id else OUTBOUND_MINUTE_COST
    cost = rate * math.ceil(duration / 60)
    now = timezone.now()
    with transaction.atomic():
        moved = SandboxCall.objects.filter(
            pk=call.pk, status=SandboxCall.Status.IN_PROGRESS
        ).update(status=status, end_time=now, duration=duration, cost=cost, updated_at=now)
        if moved and cost:
            _lock_account(call.account_id)
            _balance_change(
                account_id=call.account_id,
                amount=-cost,
                kind=SandboxLedgerEntry.Kind.CALL,
                description=f"Call to {call.recipient}, {duration} s",
                call=call,
            )
    call.refresh_from_db()
    if moved and call.callbackurl:
        sandbox_call_callback_send(call=call)
    return call


def sandbox_call_callback_send(*, call: SandboxCall) -> None:
    """POST the call's final status to its callback URL, once, and note what happened.

    Form-encoded like every Xoxzo body; the fields are those of the call status API.
    """
    try:
        response = requests.post(
            call.callbackurl, data=call_data(call), timeout=CALLBACK_TIMEOUT, allow_redirects=False
        )
        result = f"HTTP {response.status_code}"
    except requests.RequestException as exc:
        result = f"{type(exc).__name__}"
        logger.info("sandbox callback for %s failed: %s", call.callid, result)
    call.callback_sent_at = timezone.now()
    call.callback_result = result
    call.save(update_fields=["callback_sent_at", "callback_result", "updated_at"])
