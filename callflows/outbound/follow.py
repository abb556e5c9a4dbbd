"""Following a placed call to its end: the carrier's callback, the call-status API, the sweep.

``outbound_call_callback`` (``POST /c/<token>/``) records the final status the carrier sends;
``outbound_call_poll`` asks the call-status API about one call; ``outbound_calls_poll_due``
(beat, every 30 s) settles what the callbacks and the workers left open. Every arrow is a
compare-and-set, as in ``callflows.outbound.services``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from callflows.outbound.models import OutboundCall
from callflows.outbound.services import (
    CARRIER_STATUSES,
    POLL_BATCH,
    POLL_CALL_TASK,
    TROUBLE_CARRIER,
    TROUBLE_WORKER,
    UNSETTLED,
    CallbackRejected,
    CallState,
    call_fail,
    carrier_failure,
    outbox_subject,
)
from callflows.signals import outbound_call_finished
from dins import xoxzo
from portal.outbox import outbox_waiting, send_after_commit
from portal.scoping import scopes_disabled, tenant_scope
from portal.services import audit_record

logger = logging.getLogger(__name__)


def _apply(call: OutboundCall, report: xoxzo.CallStatus, *, source: str) -> bool:
    """Record what the carrier says about ``call`` (whose callid ``report`` is); True if moved."""
    state = CARRIER_STATUSES.get(report.status)
    if state is None:
        logger.warning("outbound call %s: unknown carrier status %r", call.pk, report.status)
        return False
    now = timezone.now()
    if state == CallState.IN_PROGRESS:
        return bool(
            OutboundCall.objects.filter(
                pk=call.pk, status__in=[CallState.PLACING, CallState.UNKNOWN]
            ).update(status=CallState.IN_PROGRESS, placed_at=now, updated_at=now)
        )
    values = {
        "status": state,
        "duration": report.duration or 0,
        "cost": report.cost if report.cost is not None else Decimal("0"),
        "ended_at": report.end_time or now,
        "updated_at": now,
    }
    changed = OutboundCall.objects.filter(pk=call.pk, status__in=UNSETTLED).update(**values)
    if changed:
        outbound_call_finished.send(sender=OutboundCall, call=call)
    if changed and call.status != CallState.IN_PROGRESS:
        # Settling a placement we had lost track of is worth a line in the audit log.
        audit_record(
            action="outbound_call.settle",
            obj=call,
            tenant=call.tenant,
            after={"status": state, "callid": report.callid, "source": source},
        )
    return bool(changed)


def outbound_call_callback(*, token: str, data: dict) -> OutboundCall:
    """Record the status the carrier POSTs to ``/c/<token>/``; safe to receive twice.

    Raises ``OutboundCall.DoesNotExist`` for an unknown token and ``CallbackRejected`` for a
    body that does not fit the call. A call whose callid we never learnt (its placement's
    answer was lost) adopts the callid of the callback, but since only the token vouches for
    it, the call-status API confirms it (``callflows.poll_call``) before any outcome is recorded.
    """
    with scopes_disabled():
        call = OutboundCall.objects.select_related("tenant").get(callback_token=token)
    with tenant_scope(call.tenant):
        try:
            report = xoxzo.call_status_from_callback(data)
        except xoxzo.XoxzoBadResponse as error:
            raise CallbackRejected(str(error)) from None
        now = timezone.now()
        OutboundCall.objects.filter(pk=call.pk, callback_received_at__isnull=True).update(
            callback_received_at=now
        )
        if call.callid is None:
            try:
                with transaction.atomic():
                    adopted = OutboundCall.objects.filter(
                        pk=call.pk,
                        callid__isnull=True,
                        status__in=[CallState.PLACING, CallState.UNKNOWN],
                    ).update(callid=report.callid, updated_at=now)
            except IntegrityError:
                raise CallbackRejected("callid belongs to another call") from None
            if adopted:
                send_after_commit(
                    POLL_CALL_TASK, kwargs={"tenant_id": call.tenant_id, "call_id": call.pk}
                )
            return call
        if report.callid != call.callid:
            raise CallbackRejected("callid does not match the call")
        _apply(call, report, source="callback")
    return call


def outbound_call_poll(*, call_id: int) -> bool:
    """Ask the carrier's call-status API about one call (``callflows.poll_call``); True if it
    moved."""
    call = (
        OutboundCall.objects.filter(pk=call_id, status__in=UNSETTLED, callid__isnull=False)
        .select_related("tenant")
        .first()
    )
    if call is None or call.callid is None:
        return False
    OutboundCall.objects.filter(pk=call.pk).update(last_polled_at=timezone.now())
    try:
        report = xoxzo.get_client().call_status(callid=call.callid)
    except xoxzo.XoxzoNotFound:
        if call.status == CallState.IN_PROGRESS:
            return call_fail(
                call,
                reason=str(NOT_AT_THE_CARRIER),
                from_statuses=[CallState.IN_PROGRESS],
            )
        _forget_callid(call, why="the carrier does not know it")
        return False
    if report.recipient and report.recipient.lstrip("+") != call.recipient.lstrip("+"):
        # Only possible for a callid adopted from a callback: it was not this call's.
        _forget_callid(call, why=f"it is a call to {report.recipient}")
        return False
    return _apply(call, report, source="poll")


def _forget_callid(call: OutboundCall, *, why: str) -> None:
    logger.warning("outbound call %s: callid %s not confirmed: %s", call.pk, call.callid, why)
    if call.status != CallState.IN_PROGRESS:
        OutboundCall.objects.filter(pk=call.pk, callid=call.callid).update(callid=None)


def _stale_reason(call: OutboundCall) -> str:
    """Why a call the task queue took was never placed: the carrier, or no worker at all."""
    if call.trouble.startswith(TROUBLE_CARRIER):
        words = _(
            "Not placed: the carrier could not be reached in time. Nothing was sent. "
            "Place it again if it is still needed."
        )
        return carrier_failure(words, call.trouble.removeprefix(TROUBLE_CARRIER))
    return _(
        "Not placed: no worker of the portal took the call in time (the portal's workers may "
        "be stopped; operators can see it). Nothing was sent to the carrier. Place it again "
        "if it is still needed."
    )


def _unknown_reason(call: OutboundCall) -> str:
    """Why a call whose placing was interrupted is given up: our worker, or the carrier."""
    if call.trouble.startswith(TROUBLE_WORKER):
        return _(
            "The portal's worker stopped while placing the call, and the carrier never "
            "reported on it, so it was most likely not placed. It was not retried, so nobody "
            "is rung twice."
        )
    return _(
        "The carrier did not confirm the call and never reported on it, so it was most likely "
        "not placed. It was not retried, so nobody is rung twice."
    )


NOT_AT_THE_CARRIER = gettext_lazy("The carrier has no record of this call.")


@dataclass
class PollDueResult:
    polled: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)  # placements whose worker died
    expired: list[int] = field(default_factory=list)  # queued too long, never sent
    given_up: list[int] = field(default_factory=list)  # unknown, and nothing ever came


def outbound_calls_poll_due(*, now: datetime | None = None) -> PollDueResult:
    """The beat sweep (all tenants): settle what the callbacks and the workers left open.

    One ``callflows.poll_call`` per call to ask about; the rest are single compare-and-sets.
    """
    now = now or timezone.now()
    result = PollDueResult()
    lease = now - timedelta(minutes=settings.OUTBOUND_PLACING_LEASE_MINUTES)
    grace = now - timedelta(minutes=settings.OUTBOUND_UNKNOWN_GRACE_MINUTES)
    expiry = now - timedelta(minutes=settings.OUTBOUND_QUEUED_EXPIRY_MINUTES)
    first_poll = now - timedelta(seconds=settings.OUTBOUND_POLL_AFTER_SECONDS)
    next_poll = now - timedelta(seconds=settings.OUTBOUND_POLL_INTERVAL_SECONDS)
    with scopes_disabled():
        calls = OutboundCall.objects.select_related("tenant")
        for call in calls.filter(status=CallState.PLACING, placing_at__lt=lease):
            moved = OutboundCall.objects.filter(pk=call.pk, status=CallState.PLACING).update(
                status=CallState.UNKNOWN,
                trouble=f"{TROUBLE_WORKER}stopped while placing the call",
                updated_at=now,
            )
            if moved:
                result.unknown.append(call.pk)
                audit_record(
                    action="outbound_call.unknown",
                    obj=call,
                    tenant=call.tenant,
                    after={"why": "the worker stopped while placing the call"},
                )
        stale = list(calls.filter(status=CallState.QUEUED, created_at__lt=expiry))
        # Calls the broker never took are the outbox's to give up, with the true reason.
        waiting = outbox_waiting(outbox_subject(call.pk) for call in stale)
        for call in stale:
            if outbox_subject(call.pk) in waiting:
                continue
            with translation.override(call.tenant.language):
                reason = _stale_reason(call)
            if call_fail(call, reason=reason, from_statuses=[CallState.QUEUED]):
                result.expired.append(call.pk)
        for call in calls.filter(
            status=CallState.UNKNOWN, callid__isnull=True, placing_at__lt=grace
        ):
            with translation.override(call.tenant.language):
                reason = _unknown_reason(call)
            if call_fail(call, reason=reason, from_statuses=[CallState.UNKNOWN]):
                result.given_up.append(call.pk)
        due = (
            OutboundCall.objects.filter(status__in=UNSETTLED, callid__isnull=False)
            .filter(
                Q(status=CallState.UNKNOWN)  # an adopted callid: confirm it at once
                | Q(last_polled_at__isnull=True, placed_at__lt=first_poll)
                | Q(last_polled_at__lt=next_poll)
            )
            .order_by("last_polled_at", "pk")
            .values_list("pk", "tenant_id")[:POLL_BATCH]
        )
        for call_id, tenant_id in due:
            result.polled.append(call_id)
            send_after_commit(POLL_CALL_TASK, kwargs={"tenant_id": tenant_id, "call_id": call_id})
    return result
