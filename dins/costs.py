"""What a company's numbers and calls cost this month (read side; prices from ``dins.pricing``).

"This month" is the calendar month in the company's time zone. The total is what the company
has committed to: numbers it keeps (a month each), running trials at their 24-hour price (the
portal releases them in time), trials released this month (their 24-hour price) and outbound
calls placed this month (the carrier's cost where known, else the estimate per minute).
Operators see the same figures for every company, to bill them: kept a company a row
(``MonthCosts``) by the worker every ``MONTH_COSTS_INTERVAL_SECONDS``, so that their page reads
one row a company instead of summing every company's numbers and calls on each visit.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from dins import pricing
from dins.models import MonthCosts, Subscription, SubscriptionStatus
from portal.models import Tenant
from portal.pages import page_context
from portal.scoping import scopes_disabled, tenant_scope

# Trials released this month listed by name on the costs page (all of them are in the totals).
RELEASED_SHOWN = 10


@dataclass
class NumberCost:
    subscription: Subscription
    price: pricing.NumberPrice
    is_running_trial: bool
    committed: Decimal  # this month


@dataclass
class TenantCosts:
    """A company's month in totals, each summed by the database (a company may hold 10,000
    numbers: no figure here is a loop over them). The numbers one by one are paged apart
    (``number_costs_list``)."""

    tenant: Tenant
    month_start: datetime.date
    numbers_count: int = 0  # active numbers, trials included
    numbers_total: Decimal = Decimal(0)  # kept numbers a month each, running trials 24 hours
    running_trials: int = 0
    trial_rebates: Decimal = Decimal(0)  # what running trials give back when released in time
    released_count: int = 0
    released_total: Decimal = Decimal(0)
    released_trials: list[Subscription] = field(default_factory=list)  # the latest few
    outbound_count: int = 0
    outbound_seconds: int = 0
    outbound_cost: Decimal = Decimal(0)
    outbound_open: int = 0  # calls without a final cost yet

    @property
    def total(self) -> Decimal:
        return self.numbers_total + self.released_total + self.outbound_cost


def _month_start(tenant: Tenant, now: datetime.datetime) -> datetime.datetime:
    local = timezone.localtime(now, tenant.zone)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def tenant_costs(tenant: Tenant, *, now: datetime.datetime | None = None) -> TenantCosts:
    """This month's costs of ``tenant`` (opens its scope): a fixed number of queries."""
    now = now or timezone.now()
    start = _month_start(tenant, now)
    with tenant_scope(tenant):
        costs = _costs_of([tenant], start=start)[tenant.pk]
        costs.released_trials = list(
            _released_this_month(start).order_by("-released_at", "-id")[:RELEASED_SHOWN]
        )
    return costs


def costs_by_tenant(*, now: datetime.datetime | None = None) -> list[TenantCosts]:
    """Every company's costs this month, for operators, by name.

    Grouped by the database per month start (companies in one time zone share it): three
    queries for each distinct time zone, however many companies there are.
    """
    now = now or timezone.now()
    tenants = list(Tenant.objects.order_by("name", "pk"))
    by_start: dict[datetime.datetime, list[Tenant]] = defaultdict(list)
    for tenant in tenants:
        by_start[_month_start(tenant, now)].append(tenant)
    found: dict[int, TenantCosts] = {}
    with scopes_disabled():
        for start, group in by_start.items():
            found.update(_costs_of(group, start=start))
    return [found[tenant.pk] for tenant in tenants]


# The figures a ``MonthCosts`` row keeps (every ``TenantCosts`` figure but the named trials).
KEPT_FIGURES = (
    "numbers_count",
    "numbers_total",
    "running_trials",
    "trial_rebates",
    "released_count",
    "released_total",
    "outbound_count",
    "outbound_seconds",
    "outbound_cost",
    "outbound_open",
)


@dataclass
class CompaniesCosts:
    """Every company's month for operators, and how old the kept figures are."""

    companies: list[TenantCosts]
    as_of: datetime.datetime | None  # the oldest kept row shown; None: every figure summed now
    summed_now: int  # companies summed on the page (no fresh row kept)

    @property
    def total(self) -> Decimal:
        return sum((c.total for c in self.companies), Decimal(0))


def month_costs_refresh(*, now: datetime.datetime | None = None) -> int:
    """Sum every company's month again and keep it (``MonthCosts``): the worker's task.

    Three grouped queries a time zone and one upsert, whatever the number of companies;
    running it twice keeps the same rows. Returns how many companies were kept.
    """
    now = now or timezone.now()
    rows = [
        MonthCosts(
            tenant=costs.tenant,
            month_start=costs.month_start,
            computed_at=now,
            **{name: getattr(costs, name) for name in KEPT_FIGURES},
        )
        for costs in costs_by_tenant(now=now)
    ]
    with scopes_disabled():
        MonthCosts.objects.bulk_create(
            rows,
            batch_size=500,
            update_conflicts=True,
            unique_fields=["tenant", "month_start"],
            update_fields=[*KEPT_FIGURES, "computed_at"],
        )
    return len(rows)


def costs_by_tenant_kept(*, now: datetime.datetime | None = None) -> CompaniesCosts:
    """Every company's costs this month, by name, from the rows the worker keeps.

    Two queries. A company whose row is missing or older than ``MONTH_COSTS_FRESH_SECONDS``
    (a new company, a worker that stopped) is summed here, grouped as ``costs_by_tenant`` does,
    so the page is right either way and slower only for those companies.
    """
    now = now or timezone.now()
    tenants = list(Tenant.objects.order_by("name", "pk"))
    starts = {tenant.pk: _month_start(tenant, now) for tenant in tenants}
    fresh_after = now - datetime.timedelta(seconds=settings.MONTH_COSTS_FRESH_SECONDS)
    found: dict[int, TenantCosts] = {}
    oldest: datetime.datetime | None = None
    with scopes_disabled():
        kept = MonthCosts.objects.filter(
            month_start__in={start.date() for start in starts.values()},
            computed_at__gte=fresh_after,
        )
        by_tenant = {tenant.pk: tenant for tenant in tenants}
        for row in kept:
            tenant = by_tenant.get(row.tenant_id)
            if tenant is None or row.month_start != starts[tenant.pk].date():
                continue  # a company in another zone whose month starts that day
            found[tenant.pk] = TenantCosts(
                tenant=tenant,
                month_start=row.month_start,
                **{name: getattr(row, name) for name in KEPT_FIGURES},
            )
            oldest = row.computed_at if oldest is None else min(oldest, row.computed_at)
        missing: dict[datetime.datetime, list[Tenant]] = defaultdict(list)
        for tenant in tenants:
            if tenant.pk not in found:
                missing[starts[tenant.pk]].append(tenant)
        for start, group in missing.items():
            found.update(_costs_of(group, start=start))
    return CompaniesCosts(
        companies=[found[tenant.pk] for tenant in tenants],
        as_of=oldest,
        summed_now=sum(len(group) for group in missing.values()),
    )


def _released_this_month(start: datetime.datetime) -> QuerySet[Subscription]:
    return Subscription.objects.filter(
        status=SubscriptionStatus.RELEASED, trial_deadline__isnull=False, released_at__gte=start
    )


@dataclass(frozen=True)
class CallSums:
    """A company's outbound calls placed since a month start, summed: what the app that keeps
    them (``callflows/outbound/pages.py``) contributes to the page ``costs_calls``."""

    calls: int = 0
    seconds: int = 0
    cost: Decimal = Decimal(0)
    open: int = 0  # calls without a final cost yet


def _costs_of(tenants: list[Tenant], *, start: datetime.datetime) -> dict[int, TenantCosts]:
    """Costs of ``tenants`` (one month start), three grouped queries in the active scope; the
    calls' come from the app that keeps them, by tenant id (``page_context("costs_calls")``)."""
    costs = {t.pk: TenantCosts(tenant=t, month_start=start.date()) for t in tenants}
    ids = list(costs)
    trial = Q(is_trial=True)
    numbers = (
        Subscription.objects.filter(tenant_id__in=ids, status=SubscriptionStatus.ACTIVE)
        .order_by()
        .values("tenant_id")
        .annotate(
            count=Count("id"),
            kept=Sum("monthly_cost", filter=~trial),
            trials=Count("id", filter=trial),
            trial_prices=Sum("trial_price", filter=trial),
            rebates=Sum(F("monthly_cost") - F("trial_price"), filter=trial),
        )
    )
    for row in numbers:
        entry = costs[row["tenant_id"]]
        entry.numbers_count = row["count"]
        entry.numbers_total = (row["kept"] or Decimal(0)) + (row["trial_prices"] or Decimal(0))
        entry.running_trials = row["trials"]
        entry.trial_rebates = row["rebates"] or Decimal(0)
    released = (
        _released_this_month(start)
        .filter(tenant_id__in=ids)
        .order_by()
        .values("tenant_id")
        .annotate(count=Count("id"), total=Sum("trial_price"))
    )
    for row in released:
        costs[row["tenant_id"]].released_count = row["count"]
        costs[row["tenant_id"]].released_total = row["total"] or Decimal(0)
    for tenant_id, sums in page_context("costs_calls", tenant_ids=ids, start=start).items():
        entry = costs[tenant_id]
        entry.outbound_count = sums.calls
        entry.outbound_seconds = sums.seconds
        entry.outbound_cost = sums.cost
        entry.outbound_open = sums.open
    return costs


def number_costs_list() -> QuerySet[Subscription]:
    """The active tenant's active numbers for the costs page, by number (paged by
    ``portal.paging`` on the index ``subscription_tenant_number``)."""
    return Subscription.objects.filter(status=SubscriptionStatus.ACTIVE).order_by("din", "id")


def number_cost(subscription: Subscription) -> NumberCost:
    """What one number commits this month: a month, or its 24-hour price while a trial."""
    price = pricing.subscription_price(subscription)
    return NumberCost(
        subscription=subscription,
        price=price,
        is_running_trial=subscription.is_trial,
        committed=price.trial if subscription.is_trial else price.monthly,
    )
