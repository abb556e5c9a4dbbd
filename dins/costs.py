"""What a company's numbers and calls cost this month (read side; prices from ``dins.pricing``).

"This month" is the calendar month in the company's time zone. The total is what the company
has committed to: numbers it keeps (a month each), running trials at their 24-hour price (the
portal releases them in time), trials released this month (their 24-hour price) and outbound
calls placed this month (the carrier's cost where known, else the estimate per minute).
Operators see the same figures for every company, to bill them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone

from dins import pricing
from dins.models import OutboundCall, Subscription, SubscriptionStatus
from portal.models import Tenant
from portal.scoping import tenant_scope


@dataclass
class NumberCost:
    subscription: Subscription
    price: pricing.NumberPrice
    is_running_trial: bool
    committed: Decimal  # this month


@dataclass
class TenantCosts:
    tenant: Tenant
    month_start: datetime.date
    numbers: list[NumberCost] = field(default_factory=list)
    released_trials: list[Subscription] = field(default_factory=list)
    outbound_count: int = 0
    outbound_seconds: int = 0
    outbound_cost: Decimal = Decimal(0)
    outbound_open: int = 0  # calls without a final cost yet

    @property
    def numbers_total(self) -> Decimal:
        return sum((n.committed for n in self.numbers), Decimal(0))

    @property
    def trial_rebates(self) -> Decimal:
        """What running trials give back when released in time (the portal does it)."""
        return sum((n.price.rebate for n in self.numbers if n.is_running_trial), Decimal(0))

    @property
    def released_total(self) -> Decimal:
        return sum((s.trial_price for s in self.released_trials), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.numbers_total + self.released_total + self.outbound_cost


def _month_start(tenant: Tenant, now: datetime.datetime) -> datetime.datetime:
    local = timezone.localtime(now, tenant.zone)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def tenant_costs(tenant: Tenant, *, now: datetime.datetime | None = None) -> TenantCosts:
    """This month's costs of ``tenant`` (opens its scope; also used across tenants)."""
    now = now or timezone.now()
    start = _month_start(tenant, now)
    costs = TenantCosts(tenant=tenant, month_start=start.date())
    with tenant_scope(tenant):
        for subscription in Subscription.objects.filter(status=SubscriptionStatus.ACTIVE).order_by(
            "din"
        ):
            price = pricing.subscription_price(subscription)
            running_trial = subscription.is_trial
            costs.numbers.append(
                NumberCost(
                    subscription=subscription,
                    price=price,
                    is_running_trial=running_trial,
                    committed=price.trial if running_trial else price.monthly,
                )
            )
        costs.released_trials = list(
            Subscription.objects.filter(
                status=SubscriptionStatus.RELEASED,
                trial_deadline__isnull=False,
                released_at__gte=start,
            ).order_by("-released_at")
        )
        calls = OutboundCall.objects.filter(created_at__gte=start).aggregate(
            calls=Count("id"),
            seconds=Sum("duration"),
            billed=Sum("cost"),
            unbilled=Count(
                "id", filter=Q(cost__isnull=True) & ~Q(status=OutboundCall.Status.FAILED)
            ),
        )
    costs.outbound_count = calls["calls"] or 0
    costs.outbound_seconds = calls["seconds"] or 0
    costs.outbound_cost = calls["billed"] or Decimal(0)
    costs.outbound_open = calls["unbilled"] or 0
    return costs


def costs_by_tenant(*, now: datetime.datetime | None = None) -> list[TenantCosts]:
    """Every company's costs this month, for operators (one scope per company)."""
    return [tenant_costs(tenant, now=now) for tenant in Tenant.objects.order_by("name")]
