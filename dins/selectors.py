"""Read-side queries for numbers; carrier reads go through ``dins.xoxzo``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dins import xoxzo
from dins.models import LIVE_STATUSES, Subscription, SubscriptionStatus
from dins.pricing import number_price
from dins.subscriptions.common import outbox_subject, trial_price_for
from portal import phone
from portal.outbox import outbox_waiting
from portal.scoping import scopes_disabled

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class PrefixChoice:
    key: str
    label: StrOrPromise  # translated when shown
    country: str
    prefix: str  # with the country code, as the carrier's search wants it


# Business words for what the carrier calls prefixes (Xoxzo: 03 numbers are withdrawn).
PREFIX_CHOICES = [
    PrefixChoice("jp-050", _("050 IP phone (Japan)"), "JP", "8150"),
    PrefixChoice("jp-0120", _("0120 toll-free (Japan)"), "JP", "81120"),
    PrefixChoice("jp-0800", _("0800 toll-free (Japan)"), "JP", "81800"),
    PrefixChoice("jp-all", _("All Japanese numbers"), "JP", ""),
    PrefixChoice("us", _("United States"), "US", ""),
    PrefixChoice("all", _("All countries"), "", ""),
]


@dataclass(frozen=True)
class Offer:
    din: xoxzo.Din
    trial_price: Decimal

    @property
    def e164(self) -> str:
        return f"+{self.din.din}"

    @property
    def price(self):
        """What this number costs (``dins.pricing``, the one place pages read prices from)."""
        return number_price(monthly_cost=self.din.monthly_cost, minute_cost=self.din.minute_cost)


def din_search(*, choice: PrefixChoice, digits: str = "") -> list[Offer]:
    """The carrier's free numbers for a business choice; raises ``XoxzoError``.

    ``digits`` narrows the list the way people look for a number: written with its leading 0
    it is the start of a Japanese number (an area code such as 03 or 06, or 050-12…), asked
    of the carrier as a prefix whatever the kind chosen; otherwise it is digits the number
    contains (a memorable 1234).
    """
    if digits.startswith("0"):
        dins = xoxzo.get_client().search_dins(country="JP", prefix="81" + digits[1:])
    else:
        dins = xoxzo.get_client().search_dins(
            country=choice.country or None, prefix=choice.prefix or None
        )
        if digits:
            dins = [d for d in dins if digits in _national_digits(d.din)]
    # A number some company here is subscribing to right now is not offered again (the
    # carrier still lists it until that subscribe lands). Only uids are read across tenants.
    with scopes_disabled():
        busy = set(
            Subscription.objects.filter(
                status__in=LIVE_STATUSES, din_uid__in=[d.din_uid for d in dins]
            ).values_list("din_uid", flat=True)
        )
    dins = sorted((d for d in dins if d.din_uid not in busy), key=lambda d: (d.prefix, d.din))
    return [Offer(din=d, trial_price=trial_price_for(d.monthly_cost)) for d in dins]


def _national_digits(din: str) -> str:
    """Digits people see: 05012345678 for a Japanese number, the E.164 digits otherwise."""
    return "0" + din[2:] if din.startswith("81") else din


def din_offer(din_uid: str) -> Offer | None:
    """The carrier's current offer for one free number (for the subscribe confirmation)."""
    found = next((d for d in xoxzo.get_client().search_dins() if d.din_uid == din_uid), None)
    return Offer(din=found, trial_price=trial_price_for(found.monthly_cost)) if found else None


def subscription_list(*, query: str = "") -> QuerySet[Subscription]:
    """The company's numbers, newest first (failed attempts older than a week left out).

    ``query``: words of a label, or a number as people type it (its start, digits it holds).
    Paged by ``portal.paging`` on the index ``subscription_tenant_recent``.
    """
    numbers = Subscription.objects.exclude(
        status=SubscriptionStatus.FAILED, created_at__lt=_days_ago(7)
    )
    query = query.strip()
    if query:
        match = Q(label__icontains=query)
        search = phone.number_search(query)
        if search is not None:
            match |= Q(din__contains=search.digits)
            if search.start is not None:
                match |= Q(din__startswith=search.start)
        numbers = numbers.filter(match)
    return numbers.order_by("-created_at", "-id")


def _days_ago(days: int) -> datetime:
    return timezone.now() - timedelta(days=days)


def next_renewal(subscription: Subscription, *, now: datetime | None = None) -> datetime | None:
    """Xoxzo renews every 30 days from the subscription; None for numbers not held."""
    if subscription.status != SubscriptionStatus.ACTIVE or subscription.carrier_accepted_at is None:
        return None
    now = now or timezone.now()
    cycle = timedelta(days=settings.RENEWAL_DAYS)
    elapsed = now - subscription.carrier_accepted_at
    return subscription.carrier_accepted_at + cycle * (elapsed // cycle + 1)


# The dashboard lists this many running trials and numbers needing attention (the figures
# count them all).
DASHBOARD_NUMBERS = 10


def numbers_figures() -> dict:
    """Headline figures of the active tenant's numbers for the dashboard: sums and counts by
    the database, the soonest trials and the numbers needing attention (a few each)."""
    counts = Subscription.objects.aggregate(
        live=Count("id", filter=Q(status__in=LIVE_STATUSES)),
        active=Count("id", filter=Q(status=SubscriptionStatus.ACTIVE)),
        trials=Count("id", filter=Q(status=SubscriptionStatus.ACTIVE, is_trial=True)),
        monthly=Sum("monthly_cost", filter=Q(status=SubscriptionStatus.ACTIVE)),
        saved=Sum(
            F("monthly_cost") - F("trial_price"),
            filter=Q(
                status=SubscriptionStatus.RELEASED,
                trial_deadline__isnull=False,
                released_at__lte=F("trial_deadline"),
            ),
        ),
    )
    attention = Q(overdue_alerted_at__isnull=False, status__in=LIVE_STATUSES) | Q(
        carrier_missing_since__isnull=False, status=SubscriptionStatus.ACTIVE
    )
    return {
        **counts,
        "monthly": counts["monthly"] or Decimal(0),
        "saved": counts["saved"] or Decimal(0),
        "running_trials": list(
            Subscription.objects.filter(status=SubscriptionStatus.ACTIVE, is_trial=True).order_by(
                "release_at", "id"
            )[:DASHBOARD_NUMBERS]
        ),
        "attention": list(
            Subscription.objects.filter(attention).order_by("din")[:DASHBOARD_NUMBERS]
        ),
    }


def release_impact(subscription: Subscription) -> dict:
    """What releasing this number means, shown before the user confirms."""
    now = timezone.now()
    within_trial_window = (
        subscription.carrier_accepted_at is not None
        and now - subscription.carrier_accepted_at < timedelta(hours=24)
    )
    return {
        "within_trial_window": within_trial_window,
        "refund": subscription.monthly_cost - subscription.trial_price
        if within_trial_window
        else Decimal(0),
    }


def subscription_queued(subscription: Subscription) -> bool:
    """True while work on this number waits for the task queue (the broker was down)."""
    subject = outbox_subject(subscription.pk)
    return subject in outbox_waiting([subject])
