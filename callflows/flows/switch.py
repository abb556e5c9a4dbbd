"""The day/night switch: answer as outside hours (the flow's default) until the next opening,
found from the flow reduced to its schedule, for one number or the dashboard's whole list."""

from __future__ import annotations

import datetime as dt
from datetime import datetime

from django.utils import timezone

from callflows.flows import week
from callflows.flows.closed import closed_days
from callflows.flows.compiler import DEFAULT_DOCUMENT
from callflows.flows.documents import CompiledCondition, CompiledFlow, CompiledRule, FlowDocument
from callflows.flows.rules import minutes_of
from callflows.flows.selectors import asset_names, describe_action, not_answering_reason
from callflows.models import CallFlow
from dins.models import Subscription, SubscriptionStatus

NEXT_OPENING_DAYS = 14  # how far the day/night switch looks for the next opening


def next_opening(subscription: Subscription, compiled: CompiledFlow, *, now: datetime) -> datetime:
    """When the flow next opens after today: the first hours rule answering on a later day.

    The one-tap "closed now" switch lasts until then (e.g. tomorrow 9:00, or Monday 9:00 on a
    Friday evening, skipping closed dates); 9:00 tomorrow when no hours rule ever answers.
    """
    zone = subscription.tenant.zone
    today = timezone.localtime(now, zone).date()
    plain = week.without_override(compiled)
    hours_labels = {rule["label"] for rule in plain["rules"] if rule["when"]["type"] == "hours"}
    for offset in range(1, NEXT_OPENING_DAYS + 1):
        day = today + dt.timedelta(days=offset)
        for segment in week.day_segments(plain, day, caller=week.ORDINARY_CALLER):
            if segment.rule in hours_labels:
                return datetime.combine(day, dt.time(segment.start // 60, segment.start % 60), zone)
    return datetime.combine(today + dt.timedelta(days=1), dt.time(9, 0), zone)


def schedule_of(document: FlowDocument, *, tz: str, closed_dates: set[str]) -> CompiledFlow:
    """A flow reduced to when each rule matches, in the compiled shape ``evaluate`` reads.

    Enough to tell which rule answers when (the day/night switch), without resolving what
    rules play: no query per number. Callers in lists are left out (no list matches).
    """
    rules: list[CompiledRule] = []
    for index, rule in enumerate(document.get("rules", [])):
        when = rule["when"]
        kind = when["type"]
        condition: CompiledCondition
        if kind == "hours":
            condition = {
                "type": kind,
                "weekdays": sorted(set(when["weekdays"])),
                "start": minutes_of(when["start"], "start"),
                "end": minutes_of(when["end"], "end"),
            }
        elif kind == "holiday":
            condition = {"type": kind, "dates": sorted(closed_dates)}
        elif kind == "caller_list":
            condition = {"type": kind, "numbers": []}
        else:
            condition = {"type": kind}
        rules.append(
            {"label": rule.get("label") or f"#{index + 1}", "when": condition, "command": ""}
        )
    return {"tz": tz, "rules": rules, "default": "", "override": None}


def _switch(subscription, flow, *, names: dict, closed_dates: set[str], now: datetime) -> dict:
    state: dict = {"subscription": subscription, "override": None}
    not_answering = not_answering_reason(subscription)
    if not_answering:
        # Released or failed: no switch to press, and no override that still seems to hold.
        state["not_answering"] = not_answering
        return state
    if flow and flow.override_document and flow.override_until and flow.override_until > now:
        state["override"] = {
            "until": flow.override_until,
            "words": describe_action(flow.override_document, names),
        }
        return state
    document = flow.document if flow else DEFAULT_DOCUMENT
    try:
        schedule = schedule_of(document, tz=subscription.tenant.timezone, closed_dates=closed_dates)
    except ValueError:
        return state
    state["closed_until"] = next_opening(subscription, schedule, now=now)
    state["closed_words"] = describe_action(document["default"], names)
    return state


def override_switch(subscription: Subscription, *, now: datetime | None = None) -> dict:
    """The one-tap day/night switch of a number: on (until when, answering what) or off (and
    until when a tap would close it)."""
    return override_switches(numbers=[subscription], now=now)[0]


def override_switches(
    *, numbers: list[Subscription] | None = None, limit: int = 10, now: datetime | None = None
) -> list[dict]:
    """The day/night switch of each number (default: the tenant's active numbers, for the
    dashboard), in a fixed number of queries however many numbers there are."""
    now = now or timezone.now()
    if numbers is None:
        numbers = list(
            Subscription.objects.filter(status=SubscriptionStatus.ACTIVE)
            .select_related("tenant")
            .order_by("din")[:limit]
        )
    if not numbers:
        return []
    flows = {
        flow.subscription_id: flow for flow in CallFlow.objects.filter(subscription__in=numbers)
    }
    names = asset_names()
    today = timezone.localdate(timezone=numbers[0].tenant.zone)
    closed_dates = {
        day.isoformat() for day in closed_days(today, today + dt.timedelta(days=NEXT_OPENING_DAYS))
    }
    return [
        _switch(s, flows.get(s.pk), names=names, closed_dates=closed_dates, now=now)
        for s in numbers
    ]
