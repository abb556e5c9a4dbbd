"""Outbound calls at the sandbox: checked as Xoxzo checks them, charged per started minute when
they end (at least ``MINIMUM_CALL_BALANCE`` credits to start), completed later by a task that
POSTs the final status to the call's callback URL.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import urlsplit

import requests
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sandbox.accounts import balance_change, lock_account
from sandbox.errors import SandboxValidationError
from sandbox.models import (
    SandboxAccount,
    SandboxCall,
    SandboxLedgerEntry,
    SandboxSubscription,
)
from sandbox.serializers import call_data
from sandbox.subscriptions import callback_errors, callback_url_allowed, url_problems

logger = logging.getLogger(__name__)


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
        url_errors = url_problems(recording_url)
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
    if callbackurl and (url_errors := callback_errors(callbackurl)):
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
        locked = lock_account(account.pk)
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
    # By name (the task module imports this one): a server's process has not imported it.
    current_app.send_task(
        "sandbox.complete_call",
        kwargs={"callid": str(callid)},
        countdown=settings.SANDBOX_CALL_COMPLETION_DELAY,
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
            lock_account(call.account_id)
            balance_change(
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
