"""The call log's daily counts (``CallDay``, ``NumberCallDay``): what the chart, the rule menu,
the dashboard's "calls today" and a number's release page read instead of the raw log.

Kept up to date from every batch the call-log writer stores (``callflows.signals.calls_logged``,
connected in ``callflows.receivers``): a few queries a batch, whatever the batch holds. Counted
again from the log itself for the last two days every hour (``callflows.call_days_recount``),
which mends what a batch could not add (the database went away between the rows and their
counts), and for a whole company when its time zone changes (its days are other days).

Days are the company's days. Callers' calls only: test calls from the flow page are listed in
the log and left out of every figure, as before.
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo
from collections import Counter
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from callflows.models import CallDay, CallLog, NumberCallDay
from portal.models import Tenant
from portal.scoping import scopes_disabled, tenant_scope

logger = logging.getLogger(__name__)

RECOUNT_DAYS = 2  # today and yesterday, in each company's days
_UPSERT_ROWS = 1000  # rows per INSERT (SQLite allows 32,766 parameters a statement)

# A key of the counts: (day, rule, source, anonymous).
DayKey = tuple[datetime.date, str, str, bool]


def call_days_add(*, calls: Iterable[dict]) -> int:
    """Add a batch of written call-log rows (dicts as the writer keeps them, of many tenants)
    to the daily counts; returns the calls counted.

    Three queries whatever the batch holds: the companies' time zones, then one upsert per
    table, in one transaction. Rows are added in key order, so two edge processes adding at
    once lock the rows they share in the same order (no deadlock).
    """
    callers = [
        call
        for call in calls
        if not call.get("is_test") and call.get("tenant_id") and call.get("subscription_id")
    ]
    if not callers:
        return 0
    with scopes_disabled():
        zones = dict(
            Tenant.objects.filter(pk__in={call["tenant_id"] for call in callers}).values_list(
                "pk", "timezone"
            )
        )
    per_tenant: Counter[tuple] = Counter()
    per_number: Counter[tuple] = Counter()
    counted = 0
    for call in callers:
        zone = _zone(zones.get(call["tenant_id"]))
        at = _instant(call["at"])
        if zone is None or at is None:
            continue  # the company is gone, or a time the writer would not have stored
        key = (at.astimezone(zone).date(), call["rule"], call["source"], not call["caller"])
        per_tenant[(call["tenant_id"], *key)] += 1
        per_number[(call["tenant_id"], call["subscription_id"], *key)] += 1
        counted += 1
    if not counted:
        return 0
    with transaction.atomic():
        _upsert(
            CallDay._meta.db_table,
            ("tenant_id", "day", "rule", "source", "anonymous"),
            unique=("tenant_id", "day", "rule", "source", "anonymous"),
            counts=per_tenant,
        )
        _upsert(
            NumberCallDay._meta.db_table,
            ("tenant_id", "subscription_id", "day", "rule", "source", "anonymous"),
            unique=("subscription_id", "day", "rule", "source", "anonymous"),
            counts=per_number,
        )
    return counted


def _zone(name: str | None) -> zoneinfo.ZoneInfo | None:
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _instant(value) -> datetime.datetime | None:
    if isinstance(value, str):  # a row that waited in a file (JSON) before it was written
        value = parse_datetime(value)
    if not isinstance(value, datetime.datetime) or timezone.is_naive(value):
        return None
    return value


def _upsert(table: str, columns: tuple[str, ...], *, unique: tuple[str, ...], counts) -> None:
    """INSERT … ON CONFLICT DO UPDATE adding to ``calls`` (PostgreSQL and SQLite ≥ 3.24)."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(name) for name in (*columns, "calls"))
    target = ", ".join(quote(name) for name in unique)
    row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    items = sorted(counts.items())
    add = f"ON CONFLICT ({target}) DO UPDATE SET calls = {quote(table)}.calls + EXCLUDED.calls"
    with connection.cursor() as cursor:
        for start in range(0, len(items), _UPSERT_ROWS):
            chunk = items[start : start + _UPSERT_ROWS]
            values = ", ".join([row] * len(chunk))
            sql = f"INSERT INTO {quote(table)} ({names}) VALUES {values} {add}"  # noqa: S608
            cursor.execute(sql, [value for key, calls in chunk for value in (*key, calls)])


def call_days_rebuild(*, tenant: Tenant, since: datetime.date | None = None) -> int:
    """Count ``tenant``'s calls again from the log, from its day ``since`` (every day without);
    returns the calls counted. Replaces what the counts held for those days.

    The log is grouped by the database (one query on the tenant's index, the company's day
    computed in its time zone), the groups are written in batches.
    """
    zone = tenant.zone
    with tenant_scope(tenant), transaction.atomic():
        calls = CallLog.objects.filter(is_test=False)
        numbers = NumberCallDay.objects.all()
        days = CallDay.objects.all()
        if since is not None:
            start = datetime.datetime.combine(since, datetime.time.min, tzinfo=zone)
            calls = calls.filter(at__gte=start)
            numbers = numbers.filter(day__gte=since)
            days = days.filter(day__gte=since)
        numbers.delete()
        days.delete()
        groups = (
            calls.annotate(
                day=TruncDate("at", tzinfo=zone),
                anonymous=ExpressionWrapper(Q(caller=""), output_field=BooleanField()),
            )
            .order_by()
            .values_list("subscription_id", "day", "rule", "source", "anonymous")
            .annotate(calls=Count("id"))
        )
        per_tenant: Counter[DayKey] = Counter()
        batch: list[NumberCallDay] = []
        counted = 0
        for subscription_id, day, rule, source, anonymous, count in groups.iterator(5000):
            if since is not None and day < since:
                continue  # the first instant of ``since`` is on ``since`` itself; belt and braces
            key = (day, rule, source, bool(anonymous))
            per_tenant[key] += count
            counted += count
            batch.append(
                NumberCallDay(
                    tenant=tenant,
                    subscription_id=subscription_id,
                    day=day,
                    rule=rule,
                    source=source,
                    anonymous=bool(anonymous),
                    calls=count,
                )
            )
            if len(batch) >= 5000:
                NumberCallDay.objects.bulk_create(batch)
                batch = []
        NumberCallDay.objects.bulk_create(batch)
        CallDay.objects.bulk_create(
            [
                CallDay(
                    tenant=tenant, day=day, rule=rule, source=source, anonymous=anon, calls=count
                )
                for (day, rule, source, anon), count in sorted(per_tenant.items())
            ],
            batch_size=5000,
        )
    return counted


def call_days_recount(*, now: datetime.datetime | None = None) -> int:
    """Count the last ``RECOUNT_DAYS`` days again for every company that had calls in them
    (hourly). Returns the companies recounted."""
    now = now or timezone.now()
    since_utc = now - datetime.timedelta(days=RECOUNT_DAYS)
    with scopes_disabled():
        busy = set(
            CallLog.objects.filter(at__gte=since_utc)
            .order_by()
            .values_list("tenant_id", flat=True)
            .distinct()
        )
        busy |= set(
            CallDay.objects.filter(day__gte=since_utc.date() - datetime.timedelta(days=1))
            .order_by()
            .values_list("tenant_id", flat=True)
            .distinct()
        )
        tenants = list(Tenant.objects.filter(pk__in=busy).order_by("pk"))
    for tenant in tenants:
        today = timezone.localdate(now, timezone=tenant.zone)
        try:
            call_days_rebuild(
                tenant=tenant, since=today - datetime.timedelta(days=RECOUNT_DAYS - 1)
            )
        except Exception:  # one company's failure must not keep the others stale
            logger.exception("call days: recounting tenant %s failed", tenant.pk)
    return len(tenants)
