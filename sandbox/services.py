"""Write-side operations of the sandbox carrier: accounts, billing, subscriptions, calls.

Billing follows Xoxzo's published rules: the first 30 days are charged at subscription; a number
released within 24 hours of subscribing only costs the "discounted 24 hours price", which
Xoxzo does not publish. Our choice: ``SANDBOX_TRIAL_PRICE_RATIO`` times the monthly cost, so the
release refunds the rest. Renewals every 30 days are not simulated. Outbound calls need at least
``MINIMUM_CALL_BALANCE`` credits and are charged per started minute when they end. Simulated
incoming calls are charged the dialled number's ``minute_cost`` per billed minute (every
action-URL request bills its first minute [doc]), once, when they are recorded.

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

from sandbox import incoming, inventory, selectors
from sandbox.incoming import Transcript
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


def _callback_errors(value: str) -> list[str]:
    errors = _url_errors(value)
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
    if callbackurl and (url_errors := _callback_errors(callbackurl)):
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

    Form-encoded like every Xoxzo body; the fields are those of the call status API. Checked
    again here: the portal's address may have changed since the call was placed.
    """
    if not callback_url_allowed(call.callbackurl):
        result = "refused: not the portal's address"
    else:
        result = _callback_post(call)
    call.callback_sent_at = timezone.now()
    call.callback_result = result
    call.save(update_fields=["callback_sent_at", "callback_result", "updated_at"])


def _callback_post(call: SandboxCall) -> str:
    try:
        response = requests.post(
            call.callbackurl, data=call_data(call), timeout=CALLBACK_TIMEOUT, allow_redirects=False
        )
        return f"HTTP {response.status_code}"
    except requests.RequestException as exc:
        logger.info("sandbox callback for %s failed: %s", call.callid, type(exc).__name__)
        return f"{type(exc).__name__}"


# --- Fault injection --------------------------------------------------------------------------

FAULT_METHODS = ("GET", "POST", "DELETE", "PUT", "PATCH", "*")
MAX_FAULT_DELAY_SECONDS = 60  # also a check constraint: a fault must not hang a server thread


def sandbox_fault_add(
    *,
    method: str,
    path_pattern: str,
    status: int | None = None,
    when: str = SandboxFault.When.BEFORE,
    delay_seconds: float = 0,
    times: int = 1,
) -> SandboxFault:
    """Make the next ``times`` API requests matching ``method`` and ``path_pattern`` fail.

    ``path_pattern`` is a regex searched in the path relative to /sandbox (e.g.
    ``^/voice/dins/subscriptions/[^/]+/?$``). ``when="before"`` answers ``status`` without
    processing the request; ``when="after"`` processes it and answers ``status`` instead of the
    real answer. ``delay_seconds`` is slept before answering (with "after", a client whose read
    timeout is shorter sees a timeout although the request took effect). ``status=None`` keeps
    the real answer, so the fault is a pure delay. Raises ``SandboxValidationError``.
    """
    method = (method or "").strip().upper()
    errors: dict[str, list[str]] = {}
    if method not in FAULT_METHODS:
        errors["method"] = [f"Choose one of: {', '.join(FAULT_METHODS)}."]
    if not path_pattern:
        errors["path_pattern"] = ["This field is required."]
    else:
        try:
            re.compile(path_pattern)
        except re.error as error:
            errors["path_pattern"] = [f"Not a valid regular expression: {error}."]
    if status is not None and not 100 <= status <= 599:
        errors["status"] = ["Enter an HTTP status between 100 and 599."]
    if when not in SandboxFault.When.values:
        errors["when"] = [f"Choose one of: {', '.join(SandboxFault.When.values)}."]
    if not 0 <= delay_seconds <= MAX_FAULT_DELAY_SECONDS:
        errors["delay_seconds"] = [f"Enter 0 to {MAX_FAULT_DELAY_SECONDS} seconds."]
    if times < 1:
        errors["times"] = ["Enter at least 1."]
    if status is None and not delay_seconds and "status" not in errors:
        errors["status"] = ["Give a status, a delay, or both: this fault would change nothing."]
    if errors:
        raise SandboxValidationError(errors)
    return SandboxFault.objects.create(
        method=method,
        path_pattern=path_pattern,
        status=status,
        when=when,
        delay_seconds=delay_seconds,
        remaining=times,
    )


def sandbox_faults_clear() -> int:
    """Remove every fault, used up or not; returns how many there were."""
    deleted, _ = SandboxFault.objects.all().delete()
    return deleted


def sandbox_fault_claim(*, method: str, path: str) -> SandboxFault | None:
    """The oldest fault matching this request, with one of its uses taken, or None.

    Each use is taken by a conditional ``UPDATE … SET remaining = remaining - 1 WHERE
    remaining > 0``: of concurrent requests, exactly ``remaining`` get the fault.
    """
    candidates = SandboxFault.objects.filter(remaining__gt=0, method__in=(method.upper(), "*"))
    for fault in candidates.order_by("created_at", "id"):
        try:
            matches = re.search(fault.path_pattern, path) is not None
        except re.error:  # written around the service (admin, SQL): such a fault never applies
            matches = False
        if not matches:
            continue
        taken = SandboxFault.objects.filter(pk=fault.pk, remaining__gt=0).update(
            remaining=F("remaining") - 1
        )
        if taken:
            fault.remaining -= 1
            return fault
    return None


# --- Incoming calls ---------------------------------------------------------------------------

NOT_IN_SERVICE = "number not in service"
NO_ACTION_URL = "no action URL set"
_DIALLED_NUMBER = re.compile(r"[1-9][0-9]{6,14}", re.ASCII)


def dialled_din_digits(number: str) -> str | None:
    """E.164 digits without "+" for a dialled number, or None when it is no number at all.

    Accepts what people type for a sandbox DIN: ``+815012345678``, ``815012345678`` or the
    Japanese national form ``05012345678`` (the sandbox's numbers are mostly Japanese).
    """
    cleaned = re.sub(r"[\s()-]", "", number or "")
    if cleaned.startswith("+"):
        digits = cleaned[1:]
    elif cleaned.startswith("0") and not cleaned.startswith("00"):
        digits = "81" + cleaned[1:]
    else:
        digits = cleaned
    return digits if _DIALLED_NUMBER.fullmatch(digits) else None


def incoming_caller(caller: str | None) -> str:
    """The ``caller`` Xoxzo sends: "" for a withheld number ("anonymous", empty or None)."""
    value = (caller or "").strip()
    return "" if value.lower() == "anonymous" else value


def failed_transcript(*, to: str, caller: str, reason: str, action_url: str = "") -> Transcript:
    """The transcript of a call that failed before (or around) the engine: nothing was asked."""
    return Transcript(
        action_url=action_url,
        caller=caller,
        recipient=to,
        outcome="failed",
        failure_reason=reason,
        steps=(),
        answers=(),
        dins=(to,),
        transferred_to=None,
        voicemail=None,
        audio_seconds=0.0,
        billed_seconds=0,
        action_url_latency_ms=None,
        total_ms=0.0,
    )


def sandbox_incoming_call(
    *,
    to: str,
    caller: str | None,
    http: requests.Session | None = None,
    timeout: float = 5.0,
    account: SandboxAccount | None = None,
) -> tuple[SandboxIncomingCall, Transcript]:
    """Ring one of the account's numbers, run its action URL and keep what happened.

    ``to`` is the dialled number ("+8150…", "8150…" or "050…"); it must be one of the account's
    active subscriptions (else the call fails with "number not in service", no HTTP) with an
    action URL (else "no action URL set"). Transfers to the account's other numbers follow
    their action URLs. The call, its voicemail and its charge (the dialled number's
    ``minute_cost`` per billed minute, every leg included) are written in one transaction.
    ``account`` defaults to the one the portal is configured with (XOXZO_SID).
    """
    if account is None:
        account = sandbox_account_get_or_create(sid=settings.XOXZO_SID)
    caller = incoming_caller(caller)
    started_at = timezone.now()
    digits = dialled_din_digits(to)
    subscription = None
    if digits is not None:
        subscription = (
            SandboxSubscription.objects.filter(
                account=account, released_at__isnull=True, din__din=digits
            )
            .select_related("din")
            .first()
        )
    if subscription is None:
        transcript = failed_transcript(to=to, caller=caller, reason=NOT_IN_SERVICE)
    elif not subscription.action_url:
        transcript = failed_transcript(to=subscription.din.din, caller=caller, reason=NO_ACTION_URL)
    else:
        transcript = _run_incoming_call(
            account=account,
            subscription=subscription,
            caller=caller,
            http=http,
            timeout=timeout,
        )
    call = _incoming_call_record(
        account=account,
        din=subscription.din if subscription else None,
        to=to,
        transcript=transcript,
        started_at=started_at,
    )
    return call, transcript


def _run_incoming_call(
    *,
    account: SandboxAccount,
    subscription: SandboxSubscription,
    caller: str,
    http: requests.Session | None,
    timeout: float,
) -> Transcript:
    # Read once, before any HTTP: no query (and no transaction) is open while the engine waits
    # on the customer's server, and a burst's worker threads never touch the database.
    action_urls = selectors.sandbox_action_url_map(account=account)
    try:
        return incoming.simulate_incoming_call(
            action_url=subscription.action_url,
            caller=caller,
            # Xoxzo lists DINs as E.164 digits without "+" and sends them so (our choice: the
            # query format is undocumented); the portal accepts both forms.
            recipient=subscription.din.din,
            lookup_action_url=action_urls.get,
            http=http,
            timeout=timeout,
        )
    except Exception as error:  # a bug of the engine must not lose the call or answer 500
        logger.exception("sandbox incoming call to +%s crashed", subscription.din.din)
        return failed_transcript(
            to=subscription.din.din,
            caller=caller,
            reason=f"sandbox error: {type(error).__name__}",
            action_url=subscription.action_url,
        )


def _incoming_call_record(
    *,
    account: SandboxAccount,
    din: SandboxDin | None,
    to: str,
    transcript: Transcript,
    started_at,
) -> SandboxIncomingCall:
    billed_minutes = math.ceil(transcript.billed_seconds / 60)
    cost = din.minute_cost * billed_minutes if din is not None else Decimal(0)
    with transaction.atomic():
        # Account first, as everywhere else: the rows below point at it (a share lock).
        _lock_account(account.pk)
        call = SandboxIncomingCall.objects.create(
            account=account,
            din=din,
            caller=transcript.caller[:32],
            recipient=(to or "")[:32],
            action_url=transcript.action_url[:2000],
            outcome=transcript.outcome,
            failure_reason=transcript.failure_reason[:500],
            transcript=transcript.as_dict(),
            audio_seconds=transcript.audio_seconds,
            billed_seconds=transcript.billed_seconds,
            billed_minutes=billed_minutes,
            cost=cost,
            started_at=started_at,
            duration_ms=transcript.total_ms,
        )
        if (recording := transcript.voicemail) is not None:
            greeting = next(
                (step.detail for step in transcript.steps if step.kind == "greeting"), ""
            )
            SandboxVoicemail.objects.create(
                incoming_call=call,
                caller=recording.caller[:32],
                recipient=recording.recipient[:32],
                greeting=recording.greeting,
                greeting_summary=greeting[:300],
                duration_seconds=recording.duration_seconds,
                content_type=recording.content_type,
                recording=recording.wav_bytes,
            )
        sandbox_incoming_call_charge(incoming_call=call)
    return call


def sandbox_incoming_call_charge(
    *, incoming_call: SandboxIncomingCall
) -> SandboxLedgerEntry | None:
    """Charge the call's cost once; a second run (or a free call) writes nothing.

    Like outbound calls: the move of ``charged_at`` from NULL is the compare-and-set that
    decides who charges, and the ledger's unique constraint backs it up.
    """
    if not incoming_call.cost:
        return None
    now = timezone.now()
    with transaction.atomic():
        _lock_account(incoming_call.account_id)
        moved = SandboxIncomingCall.objects.filter(
            pk=incoming_call.pk, charged_at__isnull=True
        ).update(charged_at=now)
        if not moved:
            return None
        incoming_call.charged_at = now
        return _balance_change(
            account_id=incoming_call.account_id,
            amount=-incoming_call.cost,
            kind=SandboxLedgerEntry.Kind.INCOMING_CALL,
            description=(
                f"Incoming call from {incoming_call.caller or 'anonymous'} to "
                f"{incoming_call.recipient}, {incoming_call.billed_minutes} min"
            ),
            incoming_call=incoming_call,
        )


def _varied_caller(index: int) -> str:
    """A different caller for each call of a burst; every tenth one withholds its number."""
    if index % 10 == 9:
        return ""
    return f"+8190{(index * 7919) % 10**8:08d}"


def sandbox_incoming_burst(
    *,
    to: list[str] | None,
    calls: int,
    concurrency: int,
    caller: str | None = None,
    timeout: float = 5.0,
    account: SandboxAccount | None = None,
) -> incoming.BurstResult:
    """Replay ``calls`` incoming calls, ``concurrency`` at a time, for benchmarks.

    Round-robin over the numbers in ``to`` (each an active subscription with an action URL) or,
    when ``to`` is empty, over every such number of the account. Callers vary unless ``caller``
    is given. Nothing is persisted or charged: the figures measure the action URLs, not the
    sandbox's database.
    """
    if account is None:
        account = sandbox_account_get_or_create(sid=settings.XOXZO_SID)
    if calls < 1:
        raise SandboxValidationError({"calls": ["Enter at least 1."]})
    if concurrency < 1:
        raise SandboxValidationError({"concurrency": ["Enter at least 1."]})
    action_urls = selectors.sandbox_action_url_map(account=account)
    targets: list[tuple[str, str]] = []
    errors = []
    for number in to or []:
        digits = dialled_din_digits(number)
        url = action_urls.get(f"+{digits}") if digits else None
        if url is None:
            errors.append(f"{number}: {NOT_IN_SERVICE}.")
        elif not url:
            errors.append(f"{number}: {NO_ACTION_URL}.")
        else:
            targets.append((digits, url))
    if errors:
        raise SandboxValidationError({"to": errors})
    if not to:
        targets = [(number[1:], url) for number, url in sorted(action_urls.items()) if url]
        if not targets:
            raise SandboxValidationError(
                {"to": ["No active sandbox number has an action URL to call."]}
            )
    burst = []
    for index in range(calls):
        digits, url = targets[index % len(targets)]
        burst.append(
            {
                "action_url": url,
                "caller": incoming_caller(caller) if caller is not None else _varied_caller(index),
                "recipient": digits,
            }
        )
    return incoming.simulate_burst(
        burst, concurrency, lookup_action_url=action_urls.get, timeout=timeout
    )
