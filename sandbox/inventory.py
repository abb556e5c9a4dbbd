"""The sandbox's number inventory: deterministic, so every install offers the same numbers.

Prices are credits (1 credit = 1 JPY). The 050 price is the one Xoxzo's docs show; the
toll-free and foreign prices are our choice, toll-free deliberately dearer.
"""

import base64
import hashlib
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Offer:
    country: str  # ISO 3166 alpha-2
    country_code: str
    prefix: str  # without trunk 0 and country code
    subscriber_digits: int  # digits after country code and prefix
    monthly_cost: Decimal
    minute_cost: Decimal
    count: int


OFFERS = (
    Offer("JP", "81", "50", 8, Decimal("650"), Decimal("1"), 12),  # 050 IP phone
    Offer("JP", "81", "120", 6, Decimal("4500"), Decimal("18"), 4),  # 0120 toll-free
    Offer("JP", "81", "800", 7, Decimal("3500"), Decimal("15"), 4),  # 0800 toll-free
    Offer("US", "1", "415", 7, Decimal("300"), Decimal("2"), 3),
    Offer("US", "1", "212", 7, Decimal("300"), Decimal("2"), 3),
    Offer("GB", "44", "20", 8, Decimal("400"), Decimal("3"), 3),
)


@dataclass(frozen=True)
class Number:
    din_uid: str
    din: str
    country: str
    country_code: str
    prefix: str
    monthly_cost: Decimal
    minute_cost: Decimal


def din_uid_for(*, country: str, din: str) -> str:
    """``JPafr34rafic76tf``-shaped: country, then 14 base32 characters derived from the number."""
    digest = hashlib.sha256(f"sandbox-din:{din}".encode()).digest()
    return country + base64.b32encode(digest).decode().lower()[:14]


def _subscriber_number(offer: Offer, index: int) -> str:
    # Spread the numbers out like real allocations instead of 0001, 0002, ...
    seed = int.from_bytes(hashlib.sha256(f"{offer.prefix}:{index}".encode()).digest()[:8], "big")
    low = 10 ** (offer.subscriber_digits - 1)
    return str(low + seed % (9 * low))


def numbers() -> list[Number]:
    """Every number the sandbox sells, in a stable order."""
    result = []
    for offer in OFFERS:
        for index in range(offer.count):
            din = offer.country_code + offer.prefix + _subscriber_number(offer, index)
            result.append(
                Number(
                    din_uid=din_uid_for(country=offer.country, din=din),
                    din=din,
                    country=offer.country,
                    country_code=offer.country_code,
                    prefix=offer.prefix,
                    monthly_cost=offer.monthly_cost,
                    minute_cost=offer.minute_cost,
                )
            )
    return result
