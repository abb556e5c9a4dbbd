"""Outbound calls from a tenant's number: request, place, follow (callback, polling), settle.

The life of a call (``OutboundCall.Status``), every arrow a compare-and-set:

- ``outbound_call_request`` (the form) checks the rate limit and the daily cap with the tenant
  row locked, inserts the call ``queued`` and, in the same transaction, the outbox message of
  ``callflows.place_call`` (``portal.outbox``): a broker that is down delays the call, and one
  that stays down until the call is stale gives it up with that reason, not the carrier's.
- ``outbound_call_place`` (the task) claims ``queued → placing`` *and commits it* before the
  one request to the carrier, so that nothing ever sends the same call twice:

  * a callid → ``in_progress``;
  * the carrier refused a field (e.g. ``caller``: a Japanese caller ID without the option),
    or the credentials → ``failed`` with the carrier's words;
  * proven not sent (connection refused, connect timeout, 429) → back to ``queued`` and the
    exception propagates, so the task retries with backoff;
  * anything after which the call may exist (read timeout, any 5xx: a carrier may act and
    then fail answering, a 2xx without a callid) → ``unknown``. There is no "list my calls"
    API to look it up by, but the call was given its own callback URL: if the carrier did
    place it, it POSTs the final status there, callid included, and ``outbound_call_poll``
    confirms that callid with the call-status API. If nothing comes within
    ``OUTBOUND_UNKNOWN_GRACE_MINUTES``, the call is marked failed with a reason that says so.
    It is never placed again by itself: ringing someone twice is worse than asking the user
    to press the button again.

- ``outbound_call_callback`` (``POST /c/<token>/``) records the final status the carrier sends.
- ``outbound_calls_poll_due`` (beat, every 30 s) asks the call-status API about calls whose
  callback is late, turns placements whose worker died into ``unknown``, and gives up on
  unknown placements and stale queued calls.

Caller ID (``caller_for``): Xoxzo requires a numeric ``caller`` on every call and refuses
Japanese ones (+81…, 0…) unless the local-caller-ID option is set and the number is one of
the account's Japanese DINs. So: the option ticked (Japanese numbers only) sends the DIN with
the option; a non-Japanese DIN is sent as itself (not a domestic caller ID, so allowed); a
Japanese DIN without the option sends the non-Japanese placeholder
``OUTBOUND_CALLER_WITHOUT_LOCAL_ID`` and the call shows none of the tenant's numbers.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from callflows.flows.compiler import audio_public_url
from callflows.grammar import UnsayableText, say_text_clean
from callflows.models import AudioFile, TtsScript
from callflows.outbound.models import OutboundCall
from callflows.signals import outbound_call_finished
from dins import xoxzo
from dins.destinations import DestinationRefused, outbound_recipient_clean
from dins.models import Subscription, SubscriptionStatus
from dins.pricing import minute_cost_for
from portal.addresses import carrier_url, people_path
from portal.models import PlatformAlertKind, Tenant, User
from portal.outbox import outbox_enqueue, outbox_gave_up, outbox_waiting
from portal.platform import platform_alert_raise
from portal.scoping import current_tenant, scopes_disabled
from portal.services import InvalidInput, ServiceError, audit_record
from portal.zones import zone_label

logger = logging.getLogger(__name__)

CallState = OutboundCall.Status
MessageKind = OutboundCall.MessageKind

JAPAN_COUNTRY_CODE = "81"
CARRIER_STATUSES = {
    xoxzo.CALL_ANSWERED: CallState.ANSWERED,
    xoxzo.CALL_NO_ANSWER: CallState.NO_ANSWER,
    xoxzo.CALL_FAILED: CallState.FAILED,
    xoxzo.CALL_IN_PROGRESS: CallState.IN_PROGRESS,
}
# Statuses from which a carrier report may still move the call.
UNSETTLED = (CallState.PLACING, CallState.UNKNOWN, CallState.IN_PROGRESS)
POLL_BATCH = 500
TROUBLE_CARRIER = OutboundCall.TROUBLE_CARRIER
TROUBLE_WORKER = OutboundCall.TROUBLE_WORKER
# Task names (``callflows/outbound/tasks.py``), enqueued by name. The names the tasks were
# first published under (``dins.``) are still served, for messages and outbox rows saved before.
PLACE_CALL_TASK = "callflows.place_call"
POLL_CALL_TASK = "callflows.poll_call"
PLACE_CALL_TASK_NAMES = (PLACE_CALL_TASK, "dins.place_call")
_SEPARATORS = re.compile(r"[\s\-().\u3000\u2010-\u2015\u30fc\uff0d]")


class OutboundLimitReached(ServiceError):
    """The tenant's rate limit or daily cap; nothing was placed."""


class CallbackRejected(Exception):
    """A callback for a known token whose body does not fit the call; nothing changed."""


# --- Pure helpers -----------------------------------------------------------------------------


def is_japanese(subscription: Subscription) -> bool:
    return subscription.country_code == JAPAN_COUNTRY_CODE


def caller_for(*, subscription: Subscription, local_caller_id: bool) -> tuple[str, str]:
    """(the ``caller`` sent to the carrier, the caller ID the recipient sees or "").

    See the module docstring for why a Japanese number without the option sends a placeholder.
    """
    if local_caller_id:
        if not is_japanese(subscription):
            raise ValueError("local caller ID needs a Japanese number")
        return subscription.e164, subscription.e164
    if not is_japanese(subscription):
        return subscription.e164, subscription.e164
    return settings.OUTBOUND_CALLER_WITHOUT_LOCAL_ID, ""


def callback_url_for(call: OutboundCall) -> str:
    """Where the carrier reports the call's end: the edge's ``/c/<token>/``."""
    return carrier_url("outbound_call_callback", call.callback_token)


def day_start(now: datetime, tenant: Tenant) -> datetime:
    """Midnight of ``now``'s day in the tenant's time zone (the daily cap's window)."""
    return now.astimezone(tenant.zone).replace(hour=0, minute=0, second=0, microsecond=0)


def _carrier_words(error: xoxzo.XoxzoValidationError) -> str:
    text = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in error.errors.items())
    return text or str(error)


# --- Request ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallOrder:
    """What a person asks for, from the page's form or the API's body: whom to call and what
    the call plays (an MP3, a TTS script, or a text in ``tts_lang``)."""

    recipient: str
    message_kind: str
    audio: AudioFile | None = None
    script: TtsScript | None = None
    text: str = ""
    tts_lang: str = ""
    local_caller_id: bool = False


def outbound_call_request(
    *, subscription: Subscription, order: CallOrder, by: User, request=None
) -> OutboundCall:
    """Queue a call from ``subscription`` as ``order`` asks, for the active tenant.

    The recipient is checked against the company's destination policy here, whatever a form
    did before. The message is snapshotted now: the carrier gets what the user chose,
    whatever happens to the library afterwards. Raises ``InvalidInput`` naming the field,
    ``OutboundLimitReached`` past the rate limit or the daily cap; nothing is stored then.
    """
    tenant = current_tenant()
    if subscription.status != SubscriptionStatus.ACTIVE:
        raise ServiceError(_("Calls can only be placed from an active number."))
    try:
        recipient = outbound_recipient_clean(order.recipient, tenant=tenant)
    except DestinationRefused as error:
        raise InvalidInput(str(error), field="recipient") from None
    if order.local_caller_id and not is_japanese(subscription):
        raise InvalidInput(
            _("Only Japanese numbers can be shown as caller ID."), field="local_caller_id"
        )
    message = _message_of(order)
    caller_sent, caller_id_used = caller_for(
        subscription=subscription, local_caller_id=order.local_caller_id
    )
    with transaction.atomic():
        # One tenant places its calls one at a time through here: the lock makes the counts
        # below exact under concurrent clicks (a no-op on SQLite, which serialises writes).
        Tenant.objects.select_for_update().get(pk=tenant.pk)
        _limits_check(tenant)
        call = OutboundCall.objects.create(
            tenant=tenant,
            subscription=subscription,
            recipient=recipient,
            caller_sent=caller_sent,
            caller_id_used=caller_id_used,
            local_caller_id=order.local_caller_id,
            estimated_minute_cost=minute_cost_for(local_caller_id=order.local_caller_id),
            placed_by=by,
            **message,
        )
        audit_record(
            action="outbound_call.request",
            obj=call,
            actor=by,
            request=request,
            after={
                "recipient": recipient,
                "caller_id": caller_id_used,
                "local_caller_id": order.local_caller_id,
                "message": order.message_kind,
            },
        )
        # Saved with the call: a broker that is down delays the call, it does not lose it.
        outbox_enqueue(
            PLACE_CALL_TASK,
            kwargs={"tenant_id": tenant.pk, "call_id": call.pk},
            subject=outbox_subject(call.pk),
            expires_after=timedelta(minutes=settings.OUTBOUND_QUEUED_EXPIRY_MINUTES),
        )
    return call


_MESSAGE_NEEDS: dict[str, tuple[str, Any]] = {
    MessageKind.AUDIO: ("audio", gettext_lazy("Choose an MP3 from the library.")),
    MessageKind.SCRIPT: ("script", gettext_lazy("Choose a TTS script.")),
    MessageKind.TEXT: ("text", gettext_lazy("Type the text to read.")),
}


def _message_of(order: CallOrder) -> dict:
    """The call's message fields, snapshotted from the library now."""
    needed = _MESSAGE_NEEDS.get(order.message_kind)
    if needed is None:
        raise InvalidInput(_("Choose what the call plays."), field="message_kind")
    field, missing = needed
    if not getattr(order, field):
        raise InvalidInput(str(missing), field=field)
    message: dict = {"message_kind": order.message_kind}
    try:
        if order.audio is not None and order.message_kind == MessageKind.AUDIO:
            audio = order.audio
            message.update(
                audio=audio, message_label=audio.label[:100], recording_url=audio_public_url(audio)
            )
        elif order.script is not None and order.message_kind == MessageKind.SCRIPT:
            script = order.script
            message.update(
                script=script,
                message_label=script.name[:100],
                tts_text=say_text_clean(script.text),
                tts_lang=script.language,
            )
        elif order.tts_lang in ("ja", "en"):
            message.update(tts_text=say_text_clean(order.text), tts_lang=order.tts_lang)
        else:
            raise InvalidInput(_("Choose the language of the text."), field="tts_lang")
    except UnsayableText as error:
        raise InvalidInput(
            _("This text cannot be read aloud: %(why)s") % {"why": error}, field=field
        ) from None
    return message


def _limits_check(tenant: Tenant) -> None:
    """Refuse past the per-minute rate or the daily cap (inside the tenant's lock)."""
    now = timezone.now()
    recent = OutboundCall.objects.filter(created_at__gt=now - timedelta(minutes=1)).count()
    if recent >= settings.OUTBOUND_RATE_LIMIT_PER_MINUTE:
        raise OutboundLimitReached(
            _(
                "Too many calls: your company may place %(limit)s calls per minute. "
                "Nothing was placed; try again in a minute."
            )
            % {"limit": settings.OUTBOUND_RATE_LIMIT_PER_MINUTE}
        )
    today = OutboundCall.objects.filter(created_at__gte=day_start(now, tenant)).count()
    if today >= settings.OUTBOUND_DAILY_CAP:
        raise OutboundLimitReached(
            _(
                "Your company reached its limit of %(cap)s calls today. Nothing was placed; "
                "calls are possible again from midnight (%(zone)s)."
            )
            % {"cap": settings.OUTBOUND_DAILY_CAP, "zone": zone_label(tenant.timezone)}
        )


def outbox_subject(call_id: int) -> str:
    """How the outbox names the placing of this call (``OutboundCall.outbox_subject``)."""
    return OutboundCall(pk=call_id).outbox_subject


def outbound_call_queued(call: OutboundCall) -> bool:
    """True while the call waits for the task queue (the broker was down)."""
    return outbox_subject(call.pk) in outbox_waiting([outbox_subject(call.pk)])


@receiver(outbox_gave_up, dispatch_uid="dins.place_call.gave_up")
def place_call_given_up(sender, *, task_name: str, kwargs: dict, **extra) -> None:
    """The broker never took the call in time: nothing reached the carrier. Say so."""
    if task_name not in PLACE_CALL_TASK_NAMES:
        return
    with scopes_disabled():
        call = (
            OutboundCall.objects.filter(pk=kwargs["call_id"], status=CallState.QUEUED)
            .select_related("tenant")
            .first()
        )
        if call is None:
            return
        with translation.override(call.tenant.language):
            reason = _(
                "Not placed: the task queue could not be reached in time, so nothing was sent "
                "to the carrier. Place it again if it is still needed."
            )
        call_fail(call, reason=reason, from_statuses=[CallState.QUEUED])


# --- Place ------------------------------------------------------------------------------------


def _may_have_been_placed(error: xoxzo.XoxzoError) -> bool:
    if error.outcome_unknown:
        return True
    # A success status whose body made no sense: the carrier took the call.
    return isinstance(error, xoxzo.XoxzoBadResponse) and (error.status or 200) < 300


# Why a call failed, in the company's words, where the carrier's own text follows them.
CARRIER_REFUSED = gettext_lazy("The carrier refused the call.")
CARRIER_ERROR = gettext_lazy("The carrier answered with an error.")
CARRIER_UNREACHABLE = gettext_lazy(
    "Not placed: the carrier could not be reached. Nothing was sent."
)
CREDENTIALS_REJECTED = gettext_lazy(
    "The carrier rejected the portal's credentials (error 401); operators were told."
)


def carrier_failure(words: str, carrier_text: str) -> str:
    """A failure reason in the company's words, the carrier's own (English) on a line of its
    own after ``TROUBLE_CARRIER``: pages show them apart, the second behind a toggle."""
    return f"{words}\n{TROUBLE_CARRIER}{carrier_text}"[:300]


def call_fail(call: OutboundCall, *, reason: str, from_statuses) -> bool:
    now = timezone.now()
    changed = OutboundCall.objects.filter(pk=call.pk, status__in=from_statuses).update(
        status=CallState.FAILED, failure_reason=reason[:300], ended_at=now, updated_at=now
    )
    if changed:
        audit_record(
            action="outbound_call.fail", obj=call, tenant=call.tenant, after={"reason": reason}
        )
        outbound_call_finished.send(sender=OutboundCall, call=call)
    return bool(changed)


def _carrier_request(call: OutboundCall) -> dict:
    """What the carrier is sent for ``call`` (``simple_playback``'s arguments)."""
    if call.message_kind == MessageKind.AUDIO:
        message = {"recording_url": call.recording_url}
    else:
        message = {"tts_message": call.tts_text, "tts_lang": call.tts_lang}
    return {
        "caller": call.caller_sent,
        "recipient": call.recipient,
        "callbackurl": callback_url_for(call),
        "local_caller_id": call.local_caller_id,
        **message,
    }


def _worker_failed(call: OutboundCall, error: Exception) -> None:
    """Our own worker failed before anything left for the carrier: say so, tell operators."""
    logger.exception("outbound call %s: the worker failed before sending it", call.pk)
    with translation.override(call.tenant.language):
        reason = _(
            "Not placed: the portal's worker failed before sending the call to the carrier "
            "(an error of the portal, not of the carrier; operators were told). Nothing was "
            "sent, so nobody was rung."
        )
    call_fail(call, reason=reason, from_statuses=[CallState.QUEUED])
    platform_alert_raise(
        kind=PlatformAlertKind.TASK_FAILED,
        subject=outbox_subject(call.pk),
        message=f"Placing outbound call {call.pk} failed in the worker before anything was "
        f"sent to the carrier: {type(error).__name__}: {error}",
        link=people_path("admin:callflows_outboundcall_change", call.pk),
    )


def outbound_call_place(*, call_id: int) -> None:
    """Place the call at the carrier, once (the ``callflows.place_call`` task body).

    Raises only ``XoxzoUnavailable`` / ``XoxzoRateLimited`` that prove the call was not sent,
    after putting the row back in ``queued``: the task may retry those, and only those.
    """
    call = (
        OutboundCall.objects.filter(pk=call_id, status=CallState.QUEUED)
        .select_related("tenant")
        .first()
    )
    if call is None:
        return  # a redelivered task: the first delivery claimed it
    try:
        request = _carrier_request(call)
    except Exception as error:  # a fault of ours, before anything could leave
        _worker_failed(call, error)
        return
    now = timezone.now()
    claimed = OutboundCall.objects.filter(pk=call.pk, status=CallState.QUEUED).update(
        status=CallState.PLACING, placing_at=now, updated_at=now
    )
    if not claimed:
        return
    # Committed (tasks run in autocommit): from here a crash leaves "placing", which the
    # sweep turns into "unknown", never back into "queued".
    try:
        callid = xoxzo.get_client().simple_playback(**request)
    except xoxzo.XoxzoValidationError as error:
        # In the carrier's own words (e.g. "caller: Japanese caller IDs … are only allowed with
        # the local caller ID option …"); the pages add translated context around it.
        reason = carrier_failure(str(CARRIER_REFUSED), _carrier_words(error))
        call_fail(call, reason=reason, from_statuses=[CallState.PLACING])
        return
    except xoxzo.XoxzoAuthError:
        call_fail(
            call,
            reason=str(CREDENTIALS_REJECTED),
            from_statuses=[CallState.PLACING],
        )
        return
    except xoxzo.XoxzoError as error:
        if _may_have_been_placed(error):
            changed = OutboundCall.objects.filter(pk=call.pk, status=CallState.PLACING).update(
                status=CallState.UNKNOWN,
                trouble=f"{TROUBLE_CARRIER}{str(error)[:250]}",
                updated_at=timezone.now(),
            )
            if changed:
                audit_record(
                    action="outbound_call.unknown",
                    obj=call,
                    tenant=call.tenant,
                    after={"why": str(error)[:300]},
                )
            return
        if isinstance(error, xoxzo.XoxzoUnavailable | xoxzo.XoxzoRateLimited):
            OutboundCall.objects.filter(pk=call.pk, status=CallState.PLACING).update(
                status=CallState.QUEUED,
                placing_at=None,
                trouble=f"{TROUBLE_CARRIER}{str(error)[:250]}",
                updated_at=timezone.now(),
            )
            raise
        reason = carrier_failure(str(CARRIER_ERROR), str(error))
        call_fail(call, reason=reason, from_statuses=[CallState.PLACING])
        return
    now = timezone.now()
    # "unknown" too: a slow answer may arrive after the sweep gave the worker up for dead.
    OutboundCall.objects.filter(
        pk=call.pk, status__in=[CallState.PLACING, CallState.UNKNOWN], callid__isnull=True
    ).update(status=CallState.IN_PROGRESS, callid=callid, placed_at=now, updated_at=now)


def outbound_call_give_up(*, call_id: int, reason: str) -> None:
    """The carrier stayed unreachable through every retry: the call was never sent."""
    call = OutboundCall.objects.filter(pk=call_id).first()
    if call is not None:
        reason = carrier_failure(str(CARRIER_UNREACHABLE), reason)
        call_fail(call, reason=reason, from_statuses=[CallState.QUEUED])
