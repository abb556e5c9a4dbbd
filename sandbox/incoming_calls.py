"""Incoming calls at the sandbox: someone dials a DIN, the engine (``sandbox.incoming``) asks its
action URL and the call is recorded and charged the dialled number's ``minute_cost`` per billed
minute (every action-URL request bills its first minute [doc]), once.
"""

from __future__ import annotations

import logging
import math
import re
from decimal import Decimal

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sandbox import burst, incoming, selectors
from sandbox.accounts import balance_change, lock_account, sandbox_account_get_or_create
from sandbox.errors import SandboxValidationError
from sandbox.incoming import Transcript
from sandbox.models import (
    SandboxAccount,
    SandboxDin,
    SandboxIncomingCall,
    SandboxLedgerEntry,
    SandboxSubscription,
    SandboxVoicemail,
)

logger = logging.getLogger(__name__)


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
    extra_params: dict | None = None,
) -> tuple[SandboxIncomingCall, Transcript]:
    """Ring one of the account's numbers, run its action URL and keep what happened.

    ``to`` is the dialled number ("+8150…", "8150…" or "050…"); it must be one of the account's
    active subscriptions (else the call fails with "number not in service", no HTTP) with an
    action URL (else "no action URL set"). Transfers to the account's other numbers follow
    their action URLs. The call, its voicemail and its charge (the dialled number's
    ``minute_cost`` per billed minute, every leg included) are written in one transaction.
    ``account`` defaults to the one the portal is configured with (XOXZO_SID).
    ``extra_params`` are added to every action-URL request of the call (the portal's test mark).
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
            extra_params=extra_params,
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
    extra_params: dict | None = None,
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
            extra_params=extra_params,
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
        lock_account(account.pk)
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
        lock_account(incoming_call.account_id)
        moved = SandboxIncomingCall.objects.filter(
            pk=incoming_call.pk, charged_at__isnull=True
        ).update(charged_at=now)
        if not moved:
            return None
        incoming_call.charged_at = now
        return balance_change(
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
) -> burst.BurstResult:
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
        if digits is None or url is None:
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
    planned = []
    for index in range(calls):
        digits, url = targets[index % len(targets)]
        planned.append(
            {
                "action_url": url,
                "caller": incoming_caller(caller) if caller is not None else _varied_caller(index),
                "recipient": digits,
            }
        )
    return burst.simulate_burst(
        planned, concurrency, lookup_action_url=action_urls.get, timeout=timeout
    )
