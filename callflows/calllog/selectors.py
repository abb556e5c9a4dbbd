"""Read-side queries for the call log: the list and its filters, the chart, the dashboard panel.

Calls are written by ``callflows.edge.runtime.call_log_buffer``; nothing here writes. Days are the
tenant's days: a call at 23:30 in Tokyo belongs to that Tokyo date whatever UTC says, so every
day boundary is computed in the zone of the active tenant (``current_tenant().zone``) rather
than the request's activated zone, which a CSV stream or a task does not have.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, ExpressionWrapper, F, FloatField, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from callflows.flows.words import annotate_calls
from callflows.models import CallLog
from dins.models import Subscription, SubscriptionStatus
from portal.scoping import current_tenant

# What ``CallLog.source`` holds (set by ``callflows.edge.runtime.answer``), in the users' words.
SOURCE_CHOICES = [
    ("flow", _("Call flow")),
    ("override", _("Override")),
    ("stale", _("Call flow (cached copy)")),
    ("fallback", _("Fallback")),
]
SOURCE_LABELS = dict(SOURCE_CHOICES)

# Which calls: callers' calls, the flow page's test calls (``CallLog.is_test``), or both.
KIND_CHOICES = [
    ("", _("All")),
    ("callers", _("Callers' calls")),
    ("tests", _("Test calls")),
]

CHART_DAYS = 30
# The rule menu lists the labels seen in this window: a DISTINCT over a tenant's whole call
# history would read every row it ever logged, on every page view.
RULE_FACET_DAYS = 90


def tenant_today() -> datetime.date:
    """Today's date in the active tenant's time zone."""
    return timezone.localdate(timezone=current_tenant().zone)


def tenant_day_start(day: datetime.date) -> datetime.datetime:
    """The instant the tenant's ``day`` begins (midnight in the tenant's time zone)."""
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=current_tenant().zone)


def call_log_list(
    *,
    subscription: Subscription | None = None,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    caller: str = "",
    anonymous: bool = False,
    rule: str = "",
    source: str = "",
    kind: str = "",
) -> QuerySet[CallLog]:
    """The active tenant's calls, newest first, filtered; ``since``/``until`` are tenant days.

    ``until`` includes the whole day. ``caller`` is matched as digits, which is how the log
    stores callers ("" = anonymous). ``kind``: "callers" or "tests" (``KIND_CHOICES``).
    """
    calls = CallLog.objects.select_related("subscription").annotate(
        latency_ms=ExpressionWrapper(F("latency_us") / 1000.0, output_field=FloatField())
    )
    if subscription is not None:
        calls = calls.filter(subscription=subscription)
    if since is not None:
        calls = calls.filter(at__gte=tenant_day_start(since))
    if until is not None:
        calls = calls.filter(at__lt=tenant_day_start(until + datetime.timedelta(days=1)))
    if anonymous:
        calls = calls.filter(caller="")
    if caller:
        calls = calls.filter(caller__contains=caller)
    if rule:
        calls = calls.filter(rule=rule)
    if source:
        calls = calls.filter(source=source)
    if kind == "callers":
        calls = calls.filter(is_test=False)
    elif kind == "tests":
        calls = calls.filter(is_test=True)
    return calls.order_by("-at", "-id")


def calls_recent_for_number(*, subscription: Subscription, limit: int = 10) -> list[CallLog]:
    """The last ``limit`` calls of one number (the number page's "recent calls" box)."""
    return annotate_calls(call_log_list(subscription=subscription)[:limit])


def call_log_numbers() -> list[Subscription]:
    """The tenant's numbers that can have calls, for the number filter.

    Released numbers stay: their calls are still in the log. Subscriptions that never reached
    the carrier (failed) cannot have been called.
    """
    return list(
        Subscription.objects.exclude(status=SubscriptionStatus.FAILED).order_by(
            "din", "-created_at", "-id"
        )
    )


def call_rule_labels(*, subscription: Subscription | None = None) -> list[str]:
    """Rule labels that answered calls in the last ``RULE_FACET_DAYS`` days, for the menu."""
    since = tenant_day_start(tenant_today() - datetime.timedelta(days=RULE_FACET_DAYS))
    calls = CallLog.objects.filter(at__gte=since).exclude(rule="")
    if subscription is not None:
        calls = calls.filter(subscription=subscription)
    return sorted(set(calls.order_by().values_list("rule", flat=True).distinct()))


@dataclass(frozen=True)
class DayCount:
    day: datetime.date
    count: int


def call_counts_per_day(
    calls: QuerySet[CallLog] | None = None, *, days: int = CHART_DAYS
) -> list[DayCount]:
    """Callers' calls per tenant day over the last ``days`` days (today included), zero-filled.

    One query: the database truncates each call's time to the tenant's date. ``calls`` narrows
    the count (e.g. the list's filters); its own date bounds, if any, still apply. Test calls
    are not counted: figures are about callers.
    """
    zone = current_tenant().zone
    today = tenant_today()
    first = today - datetime.timedelta(days=days - 1)
    calls = CallLog.objects.all() if calls is None else calls
    counted = dict(
        calls.filter(at__gte=tenant_day_start(first), is_test=False)
        .annotate(day=TruncDate("at", tzinfo=zone))
        .order_by()
        .values("day")
        .annotate(count=Count("id"))
        .values_list("day", "count")
    )
    return [
        DayCount(day, counted.get(day, 0))
        for day in (first + datetime.timedelta(days=n) for n in range(days))
    ]


def calls_today_figures() -> dict:
    """Today's callers' calls (tenant day) for the dashboard: total, per rule, fallback answers.

    One grouped query on the (tenant, -at) index; test calls are left out.
    """
    start = tenant_day_start(tenant_today())
    rows = list(
        CallLog.objects.filter(at__gte=start, is_test=False)
        .order_by()
        .values("rule")
        .annotate(count=Count("id"), fallback=Count("id", filter=Q(source="fallback")))
        .values_list("rule", "count", "fallback")
    )
    by_rule = sorted(
        ((rule, count) for rule, count, _fallback in rows), key=lambda r: (-r[1], r[0])
    )
    return {
        "total": sum(count for _rule, count in by_rule),
        "by_rule": by_rule,
        "fallback": sum(fallback for _rule, _count, fallback in rows),
    }
