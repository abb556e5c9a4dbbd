"""What numbers and calls cost, in credits: the one place every page reads prices from.

The search results, the subscribe and keep confirmations, the number page, the outbound call
form and the costs pages all ask here, so a price a person decides on is the price the portal
computes everywhere else (``dins.subscriptions.common.trial_price_for`` for the 24-hour price,
``minute_cost_for`` for outbound minutes).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from dins.subscriptions.common import trial_price_for


@dataclass(frozen=True)
class NumberPrice:
    """A number's prices: a month, the 24-hour trial, and what a trial released in time saves."""

    monthly: Decimal
    trial: Decimal
    per_minute: Decimal

    @property
    def rebate(self) -> Decimal:
        """What the carrier gives back when a trial is released within 24 hours."""
        return self.monthly - self.trial


def number_price(*, monthly_cost: Decimal, minute_cost: Decimal) -> NumberPrice:
    return NumberPrice(
        monthly=Decimal(monthly_cost),
        trial=trial_price_for(Decimal(monthly_cost)),
        per_minute=Decimal(minute_cost),
    )


def subscription_price(subscription) -> NumberPrice:
    """Prices as stored when the number was subscribed (the carrier's own at that time)."""
    return NumberPrice(
        monthly=subscription.monthly_cost,
        trial=subscription.trial_price,
        per_minute=subscription.minute_cost,
    )


@dataclass(frozen=True)
class OutboundRates:
    normal: Decimal  # credits per started minute
    local_caller_id: Decimal  # with the Japanese local-caller-ID option


def outbound_rates() -> OutboundRates:
    return OutboundRates(
        normal=minute_cost_for(local_caller_id=False),
        local_caller_id=minute_cost_for(local_caller_id=True),
    )


def minute_cost_for(*, local_caller_id: bool) -> Decimal:
    """The estimate shown on the form, in credits per started minute."""
    rate = (
        settings.OUTBOUND_LOCAL_CALLER_ID_MINUTE_COST
        if local_caller_id
        else settings.OUTBOUND_MINUTE_COST
    )
    return Decimal(str(rate)).quantize(Decimal("0.01"))
