"""What outbound calls show on the pages of the apps below (``portal.pages``): their sums on the
costs pages (``dins/costs.py``), the calls stuck on the operators' page, and their values in
the audit log's words.

Connected by ``callflows/pages.py:connect``, once every model is loaded.
"""

from __future__ import annotations

import datetime
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils.translation import gettext_lazy

from callflows.outbound.models import OutboundCall
from dins.costs import CallSums
from dins.operators.selectors import STUCK_LIMIT, StuckItem
from portal.audit_words import choice_words, describe_values
from portal.outbox import outbox_waiting
from portal.pages import provide

# An outbound call that has not reached the carrier this long after it was asked for is stuck.
CALL_STUCK_AFTER = timedelta(minutes=1)
# A call the carrier took but never reported on this long after.
CALL_UNCONFIRMED_AFTER = timedelta(minutes=30)

# How an outbound call's end was learnt (``outbound_call.settle``).
SETTLED_BY = {
    "callback": gettext_lazy("the carrier's report"),
    "poll": gettext_lazy("asking the carrier"),
}


def _costs_calls(*, tenant_ids: list[int], start: datetime.datetime) -> dict[int, CallSums]:
    """Calls placed since ``start`` by each of ``tenant_ids``, one grouped query."""
    rows = (
        OutboundCall.objects.filter(tenant_id__in=tenant_ids, created_at__gte=start)
        .order_by()
        .values("tenant_id")
        .annotate(
            calls=Count("id"),
            seconds=Sum("duration"),
            billed=Sum("cost"),
            unbilled=Count(
                "id", filter=Q(cost__isnull=True) & ~Q(status=OutboundCall.Status.FAILED)
            ),
        )
    )
    return {
        row["tenant_id"]: CallSums(
            calls=row["calls"] or 0,
            seconds=row["seconds"] or 0,
            cost=row["billed"] or Decimal(0),
            open=row["unbilled"] or 0,
        )
        for row in rows
    }


def _operators_stuck(*, now) -> dict:
    return {"stuck": _stuck_calls(now)}


def _stuck_calls(now) -> list[StuckItem]:
    """Outbound calls that have not reached the carrier within a minute, with why; and calls
    the carrier took but never reported on."""
    OPEN = OutboundCall.Status
    calls = list(
        OutboundCall.objects.select_related("subscription__tenant")
        .filter(
            Q(
                status__in=[OPEN.QUEUED, OPEN.PLACING, OPEN.UNKNOWN],
                created_at__lt=now - CALL_STUCK_AFTER,
            )
            | Q(status=OPEN.IN_PROGRESS, placed_at__lt=now - CALL_UNCONFIRMED_AFTER)
        )
        .order_by("created_at")[:STUCK_LIMIT]
    )
    waiting = outbox_waiting(call.outbox_subject for call in calls)
    items = []
    for call in calls:
        items.append(
            StuckItem(
                "call",
                call.subscription,
                call.created_at,
                _call_trouble(call, queued_in_outbox=call.outbox_subject in waiting),
                reverse("admin:callflows_outboundcall_change", args=[call.pk]),
            )
        )
    return items


def _call_trouble(call: OutboundCall, *, queued_in_outbox: bool) -> str:
    """Who is holding the call up, in an operator's words."""
    status = OutboundCall.Status
    if call.status == status.QUEUED:
        if queued_in_outbox:
            return "queued: the task queue (broker) has not taken it yet"
        if call.trouble.startswith(OutboundCall.TROUBLE_CARRIER):
            error = call.trouble.removeprefix(OutboundCall.TROUBLE_CARRIER)
            return f"queued again: the carrier could not be reached ({error})"
        return "queued: handed to the task queue, but no worker has taken it (workers down?)"
    if call.status == status.PLACING:
        return f"placing since {call.placing_at:%H:%M:%S}: a worker took it and has not finished"
    if call.status == status.UNKNOWN:
        who = (
            "the worker stopped"
            if call.trouble.startswith(OutboundCall.TROUBLE_WORKER)
            else "the carrier"
        )
        return f"outcome unknown ({who}: {call.trouble.partition(': ')[2] or 'no answer'})"
    return "the carrier took it but never reported how it ended"


def connect() -> None:
    provide("costs_calls", _costs_calls)
    provide("operators_stuck", _operators_stuck)
    # The audit log's values in words (portal.audit_words).
    describe_values("outboundcall", "status", choice_words(OutboundCall.Status))
    describe_values("outboundcall", "message", choice_words(OutboundCall.MessageKind))
    describe_values(
        "outboundcall",
        "source",
        lambda value: str(SETTLED_BY[value]) if value in SETTLED_BY else None,
    )
