"""The call log's daily counts (``CallDay``, ``NumberCallDay``): what the chart, the rule menu,
the dashboard's "calls today" and a number's release page read instead of the raw log.

Counted from the log itself by the worker, never by the edge: ``callflows.call_days_catch_up``
(every ``CALL_DAYS_INTERVAL_SECONDS``) adds the calls logged since it last ran, by primary key
(``CallDayProgress``), so its work follows the calls made meanwhile, not the size of the log.
Adding them from the call-log writer's batches instead cost the edge process about 30 µs of
CPU a call (measured at L: 150 ms for a 5,000-call batch), beside the 7 µs of the write itself.

A call is counted once: every task that writes the counts holds the progress row's lock, and
counts only calls up to where the progress says. Calls are counted once their row is
``SETTLE_SECONDS`` old, so that a batch still being written by one edge process is not passed
over by one another process committed first. What slips through anyway (a write held up for
longer) is mended by the hourly recount of the last two days (``callflows.call_days_recount``);
a company's whole history is counted again when its time zone changes (its days are other days).

Days are the company's days. Callers' calls only: test calls from the flow page are listed in
the log and left out of every figure, as before.
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Max, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from callflows.models import CallDay, CallDayProgress, CallLog, NumberCallDay
from portal.models import Tenant
from portal.scoping import scopes_disabled, tenant_scope

logger = logging.getLogger(__name__)

RECOUNT_DAYS = 2  # today and yesterday, in each company's days
SETTLE_SECONDS = 10
_UPSERT_ROWS = 1000  # rows per INSERT (SQLite allows 32,766 parameters a statement)

# A key of the counts: (day, rule, source, anonymous).
DayKey = tuple[datetime.date, str, str, bool]


def _progress() -> CallDayProgress:
    """The progress row, locked until the transaction ends (call inside ``atomic``)."""
    progress = CallDayProgress.objects.select_for_update().filter(pk=1).first()
    if progress is None:
        progress, _created = CallDayProgress.objects.get_or_create(pk=1)
        progress = CallDayProgress.objects.select_for_update().get(pk=1)
    return progress


def call_days_catch_up(
    *, now: datetime.datetime | None = None, settle_seconds: float = SETTLE_SECONDS
) -> int:
    """Add the calls logged since the last run to the daily counts; returns the calls read.

    Reads only the new rows (a range of the primary key): on PostgreSQL grouped and added by
    two INSERT … SELECT … ON CONFLICT statements, each company's day computed in its time
    zone; elsewhere grouped here.
    """
    now = now or timezone.now()
    settled = now - datetime.timedelta(seconds=settle_seconds)
    with transaction.atomic(), scopes_disabled():
        progress = _progress()
        start = progress.counted_to
        end = CallLog.objects.filter(pk__gt=start, created_at__lte=settled).aggregate(
            end=Max("pk")
        )["end"]
        if end is None:
            return 0
        if connection.vendor == "postgresql":
            read = _add_range_in_database(start, end)
        else:
            rows = CallLog.objects.filter(pk__gt=start, pk__lte=end).values(
                "tenant_id", "subscription_id", "at", "caller", "rule", "source", "is_test"
            )
            read = len(rows)
            call_days_add(calls=rows)
        progress.counted_to, progress.counted_at = end, now
        progress.save(update_fields=["counted_to", "counted_at"])
    return read


def _add_range_in_database(start: int, end: int) -> int:
    log, tenants = CallLog._meta.db_table, Tenant._meta.db_table
    numbers, days = NumberCallDay._meta.db_table, CallDay._meta.db_table
    grouped = f"""
        SELECT l.tenant_id, l.subscription_id, (l.at AT TIME ZONE t.timezone)::date AS day,
               l.rule, l.source, l.caller = '' AS anonymous, count(*) AS calls
        FROM {log} l JOIN {tenants} t ON t.id = l.tenant_id
        WHERE l.id > %s AND l.id <= %s AND NOT l.is_test
        GROUP BY 1, 2, 3, 4, 5, 6
    """  # noqa: S608 (table names are the models')
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {numbers} (tenant_id, subscription_id, day, rule, source, anonymous, calls)
            SELECT * FROM ({grouped}) g ORDER BY 2, 3, 4, 5, 6
            ON CONFLICT (subscription_id, day, rule, source, anonymous)
            DO UPDATE SET calls = {numbers}.calls + EXCLUDED.calls
            """,  # noqa: S608
            [start, end],
        )
        cursor.execute(
            f"""
            INSERT INTO {days} (tenant_id, day, rule, source, anonymous, calls)
            SELECT tenant_id, day, rule, source, anonymous, sum(calls) FROM ({grouped}) g
            GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
            ON CONFLICT (tenant_id, day, rule, source, anonymous)
            DO UPDATE SET calls = {days}.calls + EXCLUDED.calls
            """,  # noqa: S608
            [start, end],
        )
        cursor.execute(f"SELECT count(*) FROM {log} WHERE id > %s AND id <= %s", [start, end])  # noqa: S608
        return cursor.fetchone()[0]


def call_days_add(*, calls: Iterable[Mapping[str, Any]]) -> int:
    """Add call-log rows (dicts of the log's fields, of many tenants) to the daily counts;
    returns the calls counted.

    Three queries whatever the rows are: the companies' time zones, then one upsert per table
    (in batches), in one transaction, in key order.
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

    Counts the calls the catch-up has counted (up to its progress, whose lock it holds), so
    that none is counted twice. The log is grouped by the database (one query on the
    tenant's index, the company's day computed in its time zone); the groups are written in
    batches.
    """
    zone = tenant.zone
    with transaction.atomic():
        with scopes_disabled():
            counted_to = _progress().counted_to
        with tenant_scope(tenant):
            calls = CallLog.objects.filter(is_test=False, pk__lte=counted_to)
            numbers = NumberCallDay.objects.all()
            days = CallDay.objects.all()
            if since is not None:
                start = datetime.datetime.combine(since, datetime.time.min, tzinfo=zone)
                calls = calls.filter(at__gte=start)
                numbers = numbers.filter(day__gte=since)
                days = days.filter(day__gte=since)
            numbers.delete()
            days.delete()
            return _write_groups(tenant, calls)


def _write_groups(tenant: Tenant, calls) -> int:
    groups = (
        calls.annotate(
            day=TruncDate("at", tzinfo=tenant.zone),
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
            CallDay(tenant=tenant, day=day, rule=rule, source=source, anonymous=anon, calls=count)
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
