"""Read-side queries for the call log: the list and its filters, the chart, the dashboard panel.

Calls are written by ``callflows.edge.call_log``; nothing here writes. Figures (the chart, the
rule menu, today's calls) come from the daily counts kept by ``callflows.calllog.rollup``. Days
are the tenant's days: a call at 23:30 in Tokyo belongs to that Tokyo date whatever UTC says, so
every day boundary is computed in the zone of the active tenant (``current_tenant().zone``) rather
than the request's activated zone, which a CSV stream or a task does not have.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import (
    CharField,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Reverse, TruncDate
from django.db.models.lookups import StartsWith
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from callflows.flows.words import annotate_calls
from callflows.models import CallDay, CallLog, NumberCallDay
from dins.models import Subscription, SubscriptionStatus
from portal.phone import NumberSearch, number_search
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
# The rule menu lists the labels that answered callers in this window (from the daily counts).
RULE_FACET_DAYS = 90
# A caller search needs this many digits: fewer match most of the log and tell nobody anything.
CALLER_SEARCH_MIN_DIGITS = 3
# Suggestions of the call log's number box.
NUMBER_SUGGESTIONS = 10


# What someone typed to find a caller: its start, its last digits, or either (``portal.phone``).
# Found through an index: ``calllog_tenant_caller`` (the start) and ``calllog_tenant_caller_end``
# (the last digits, PostgreSQL).
CallerSearch = NumberSearch
caller_search = number_search


def call_log_search(calls: QuerySet, *, search: CallerSearch) -> QuerySet:
    """``calls`` narrowed to callers that match ``search`` (the page, the API, Django admin)."""
    match = Q()
    if search.start is not None:
        match |= Q(caller__startswith=search.start)
    if search.end is not None:
        # The reversed caller starts with the reversed digits: the expression the index holds.
        match |= Q(StartsWith(Reverse("caller"), search.end[::-1]))
    return calls.filter(match)


def tenant_today() -> datetime.date:
    """Today's date in the active tenant's time zone."""
    return timezone.localdate(timezone=current_tenant().zone)


def tenant_day_start(day: datetime.date) -> datetime.datetime:
    """The instant the tenant's ``day`` begins (midnight in the tenant's time zone)."""
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=current_tenant().zone)


def call_log_list(
    *,
    subscriptions: list[Subscription] | None = None,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    caller: CallerSearch | None = None,
    anonymous: bool = False,
    rule: str = "",
    source: str = "",
    kind: str = "",
) -> QuerySet[CallLog]:
    """The active tenant's calls, newest first, filtered; ``since``/``until`` are tenant days.

    ``until`` includes the whole day. ``subscriptions``: calls to these numbers only (one
    number, or each subscription a number had). ``caller``: see ``caller_search``. ``kind``:
    "callers" or "tests" (``KIND_CHOICES``). Every filter is served by an index of the log
    (``CallLog.Meta``), so a page costs the same at a million calls as at a hundred.
    """
    calls = CallLog.objects.select_related("subscription").annotate(
        latency_ms=ExpressionWrapper(F("latency_us") / 1000.0, output_field=FloatField())
    )
    if subscriptions is not None:
        calls = (
            calls.filter(subscription=subscriptions[0])
            if len(subscriptions) == 1
            else calls.filter(subscription__in=subscriptions)
        )
    if since is not None:
        calls = calls.filter(at__gte=tenant_day_start(since))
    if until is not None:
        calls = calls.filter(at__lt=tenant_day_start(until + datetime.timedelta(days=1)))
    if anonymous:
        calls = calls.filter(caller="")
    if caller is not None:
        calls = call_log_search(calls, search=caller)
    if rule:
        calls = calls.filter(rule=rule)
    if source:
        calls = calls.filter(source=source)
    if kind == "callers":
        calls = calls.filter(is_test=False)
    elif kind == "tests":
        calls = calls.filter(is_test=True)
    return calls.order_by("-at", "-id")


class IsoTime(Func):
    """A time as ISO 8601 to the second in the session's time zone, as
    ``portal.formats.time_text`` writes it (PostgreSQL; the CSV export sets the zone for its
    transaction): the database writes the text, so the export builds no ``datetime`` per row."""

    template = "to_char(%(expressions)s, 'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM')"
    output_field = CharField()


def call_log_rows(calls: QuerySet[CallLog], *, times_as_text: bool = False):
    """The export's rows as tuples (no model per row): the columns of ``CALL_LOG_ROW``.

    ``times_as_text``: the time as ISO 8601 text written by PostgreSQL (``IsoTime``).
    """
    if not times_as_text:
        return calls.values_list(*CALL_LOG_ROW)
    return calls.annotate(at_text=IsoTime("at")).values_list("at_text", *CALL_LOG_ROW[1:])


# The columns of a call in the CSV export, read straight from the database.
CALL_LOG_ROW = (
    "at",
    "subscription__din",
    "subscription__code",
    "subscription__label",
    "caller",
    "recipient",
    "rule",
    "source",
    "command",
    "latency_us",
    "flow_version",
    "is_test",
)


def calls_recent_for_number(*, subscription: Subscription, limit: int = 10) -> list[CallLog]:
    """The last ``limit`` calls of one number (the number page's "recent calls" box)."""
    return annotate_calls(call_log_list(subscriptions=[subscription])[:limit])


def _callable_numbers() -> QuerySet[Subscription]:
    # Released numbers stay: their calls are still in the log. Subscriptions that never
    # reached the carrier (failed) cannot have been called.
    return Subscription.objects.exclude(status=SubscriptionStatus.FAILED)


def call_log_number_suggestions(
    *, text: str, limit: int = NUMBER_SUGGESTIONS
) -> list[Subscription]:
    """The tenant's numbers that match what was typed in the call log's number box: the
    number from its start (050-12…), digits it holds, or words of its label; at most
    ``limit``, one a number however often it was subscribed. Reads the tenant's numbers only
    (``subscription_tenant_status``), never the call log."""
    text = text.strip()[:40]
    if not text:
        return []
    match = Q(label__icontains=text)
    search = caller_search(text)
    if search is not None:
        match |= Q(din__contains=search.digits)
        if search.start is not None:
            match |= Q(din__startswith=search.start)
    found: dict[str, Subscription] = {}
    numbers = _callable_numbers().filter(match).order_by("din", "-created_at", "-id")
    for subscription in numbers[: limit * 3]:
        found.setdefault(subscription.din, subscription)
    return list(found.values())[:limit]


def call_log_numbers_for(text: str) -> list[Subscription]:
    """The tenant's subscriptions a typed number means (every subscription it had; the newest
    first), or [] when it is none of the tenant's numbers."""
    search = caller_search(text)
    if search is None:
        return []
    din = search.start or search.digits
    if search.start is None and not din.startswith("81") and len(din) in (9, 10):
        din = "81" + din  # a Japanese number typed without its trunk 0
    return list(_callable_numbers().filter(din=din).order_by("-created_at", "-id")[:20])


def call_rule_labels(*, subscriptions: list[Subscription] | None = None) -> list[str]:
    """Rule labels that answered callers in the last ``RULE_FACET_DAYS`` days, for the menu.

    Read from the daily counts: a few rows a day, however many calls there were.
    """
    since = tenant_today() - datetime.timedelta(days=RULE_FACET_DAYS)
    counts = _day_counts(subscriptions).filter(day__gte=since).exclude(rule="")
    return sorted(set(counts.order_by().values_list("rule", flat=True).distinct()))


def _day_counts(subscriptions: list[Subscription] | None) -> QuerySet:
    """The daily counts of the tenant, or of these numbers."""
    if subscriptions is None:
        return CallDay.objects.all()
    return NumberCallDay.objects.filter(subscription__in=subscriptions)


@dataclass(frozen=True)
class DayCount:
    day: datetime.date
    count: int


def call_counts_per_day(
    *,
    subscriptions: list[Subscription] | None = None,
    caller: CallerSearch | None = None,
    anonymous: bool = False,
    rule: str = "",
    source: str = "",
    kind: str = "",
    days: int = CHART_DAYS,
    **_ignored,
) -> list[DayCount]:
    """Callers' calls per tenant day over the last ``days`` days (today included), zero-filled,
    narrowed by the call log's filters (its dates aside: ``_ignored``).

    One query on the daily counts (``CallDay``, or ``NumberCallDay`` for numbers), whatever the
    size of the log. A caller search counts the matching calls of the log itself, through the
    caller indexes (the counts do not know callers). Test calls are not counted: figures are
    about callers.
    """
    today = tenant_today()
    first = today - datetime.timedelta(days=days - 1)
    counted: dict[datetime.date, int] = {}
    if kind == "tests":
        pass  # test calls are in no figure
    elif caller is not None:
        calls = call_log_list(
            subscriptions=subscriptions,
            caller=caller,
            anonymous=anonymous,
            rule=rule,
            source=source,
        )
        counted = dict(
            calls.filter(at__gte=tenant_day_start(first), is_test=False)
            .annotate(day=TruncDate("at", tzinfo=current_tenant().zone))
            .order_by()
            .values("day")
            .annotate(count=Count("id"))
            .values_list("day", "count")
        )
    else:
        counts = _day_counts(subscriptions).filter(day__gte=first)
        if anonymous:
            counts = counts.filter(anonymous=True)
        if rule:
            counts = counts.filter(rule=rule)
        if source:
            counts = counts.filter(source=source)
        counted = dict(
            counts.order_by().values("day").annotate(count=Sum("calls")).values_list("day", "count")
        )
    return [
        DayCount(day, counted.get(day, 0))
        for day in (first + datetime.timedelta(days=n) for n in range(days))
    ]


def calls_in_last_days(*, subscription: Subscription, days: int = 30) -> int:
    """A number's callers' calls in its tenant's last ``days`` days (the release page)."""
    since = tenant_today() - datetime.timedelta(days=days - 1)
    total = NumberCallDay.objects.filter(subscription=subscription, day__gte=since).aggregate(
        calls=Sum("calls")
    )["calls"]
    return total or 0


def calls_today_figures() -> dict:
    """Today's callers' calls (tenant day) for the dashboard: total, per rule, fallback answers.

    One grouped query on the daily counts; test calls are not in them.
    """
    rows = list(
        CallDay.objects.filter(day=tenant_today())
        .order_by()
        .values("rule")
        .annotate(count=Sum("calls"), fallback=Sum("calls", filter=Q(source="fallback")))
        .values_list("rule", "count", "fallback")
    )
    by_rule = sorted(
        ((rule, count) for rule, count, _fallback in rows), key=lambda r: (-r[1], r[0])
    )
    return {
        "total": sum(count for _rule, count in by_rule),
        "by_rule": by_rule,
        "fallback": sum(fallback or 0 for _rule, _count, fallback in rows),
    }
