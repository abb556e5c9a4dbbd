"""What platform operators look at: every company at once (cross-tenant on purpose).

Operators are superusers without a company of their own; their landing page shows the
companies, their numbers, work that is stuck (subscriptions and releases that did not settle,
trials past their deadline, calls never confirmed, e-mails that failed) and open alerts.
Everything here reads across tenants, so it runs under ``scopes_disabled()`` visibly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone

from dins.models import LIVE_STATUSES, CarrierOrphan, Subscription, SubscriptionStatus
from portal.alerts import alert_title
from portal.models import Alert, EmailStatus, Membership, Tenant
from portal.pages import page_context
from portal.platform import platform_alert_open_list
from portal.scoping import scopes_disabled

STUCK_LIMIT = 50


@dataclass(frozen=True)
class StuckItem:
    kind: str  # subscribe, release, trial_overdue, carrier_missing, call, email
    subscription: Subscription | None
    since: object  # datetime
    detail: str = ""
    link: str = ""  # where an operator looks into it (Django admin)


def tenant_overview() -> list[dict]:
    """One row per company: members, live numbers, trials, monthly cost, open alerts."""
    with scopes_disabled():
        numbers = {
            row["tenant"]: row
            for row in Subscription.objects.order_by()
            .values("tenant")
            .annotate(
                live=Count("id", filter=Q(status__in=LIVE_STATUSES)),
                trials=Count("id", filter=Q(status=SubscriptionStatus.ACTIVE, is_trial=True)),
                monthly=Sum(
                    "monthly_cost", filter=Q(status=SubscriptionStatus.ACTIVE, is_trial=False)
                ),
            )
        }
        members = dict(Membership.objects.order_by().values_list("tenant").annotate(n=Count("id")))
        alerts = dict(
            Alert.objects.filter(acknowledged_at__isnull=True)
            .order_by()
            .values_list("tenant")
            .annotate(n=Count("id"))
        )
        tenants = list(Tenant.objects.order_by("name"))
    return [
        {
            "tenant": tenant,
            "members": members.get(tenant.pk, 0),
            "numbers": numbers.get(tenant.pk, {}).get("live", 0),
            "trials": numbers.get(tenant.pk, {}).get("trials", 0),
            "monthly": numbers.get(tenant.pk, {}).get("monthly") or 0,
            "open_alerts": alerts.get(tenant.pk, 0),
        }
        for tenant in tenants
    ]


def stuck_work(*, now=None) -> list[StuckItem]:
    """Work that should have settled by now, oldest first."""
    now = now or timezone.now()
    settle = timedelta(seconds=settings.SUBSCRIBE_SETTLE_AFTER_SECONDS) * 2
    lease = timedelta(minutes=settings.RELEASE_LEASE_MINUTES)
    items: list[StuckItem] = []
    with scopes_disabled():
        for s in Subscription.objects.select_related("tenant").filter(
            status__in=[SubscriptionStatus.PENDING, SubscriptionStatus.SUBSCRIBING],
            updated_at__lt=now - settle,
        )[:STUCK_LIMIT]:
            items.append(StuckItem("subscribe", s, s.updated_at, s.get_status_display()))
        for s in Subscription.objects.select_related("tenant").filter(
            status=SubscriptionStatus.RELEASING, release_claimed_at__lt=now - lease
        )[:STUCK_LIMIT]:
            items.append(StuckItem("release", s, s.release_claimed_at, s.release_error))
        for s in Subscription.objects.select_related("tenant").filter(
            overdue_alerted_at__isnull=False, status__in=LIVE_STATUSES
        )[:STUCK_LIMIT]:
            items.append(StuckItem("trial_overdue", s, s.trial_deadline))
        for s in Subscription.objects.select_related("tenant").filter(
            carrier_missing_since__isnull=False, status=SubscriptionStatus.ACTIVE
        )[:STUCK_LIMIT]:
            items.append(StuckItem("carrier_missing", s, s.carrier_missing_since))
        # Outbound calls not at the carrier in time, from the app that keeps them.
        items += page_context("operators_stuck", now=now).get("stuck", [])
        failed = list(
            Alert.objects.filter(email_status=EmailStatus.FAILED, acknowledged_at__isnull=True)[
                :STUCK_LIMIT
            ]
        )
        numbers = Subscription.objects.select_related("tenant").in_bulk(
            {alert.number_id for alert in failed if alert.number_id}
        )
        for alert in failed:
            items.append(StuckItem("email", numbers.get(alert.number_id), alert.created_at))
    return sorted(items, key=lambda item: (item.since is None, item.since or now))


def operator_alerts(*, limit: int = 20) -> list:
    """The installation's own trouble (``portal.platform``), newest first."""
    return list(platform_alert_open_list()[:limit])


def platform_alerts(*, limit: int = 20) -> list[Alert]:
    """Open alerts of every company, newest first."""
    with scopes_disabled():
        alerts = list(
            Alert.objects.filter(acknowledged_at__isnull=True)
            .select_related("tenant")
            .order_by("-created_at")[:limit]
        )
    for alert in alerts:
        alert.title = alert_title(alert)
    return alerts


def orphan_count() -> int:
    return CarrierOrphan.objects.count()
