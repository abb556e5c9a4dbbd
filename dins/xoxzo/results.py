"""What Xoxzo answers, as plain values, and how its JSON is read into them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from dins.xoxzo.errors import XoxzoBadResponse

# Call statuses as Xoxzo spells them.
CALL_IN_PROGRESS = "IN PROGRESS"
CALL_ANSWERED = "ANSWERED"
CALL_NO_ANSWER = "NO ANSWER"
CALL_FAILED = "FAILED"
FINAL_CALL_STATUSES = frozenset({CALL_ANSWERED, CALL_NO_ANSWER, CALL_FAILED})


@dataclass(frozen=True)
class Din:
    """A number offered by the search (``din`` is E.164 digits without ``+``)."""

    din_uid: str
    din: str
    country_code: str
    prefix: str
    monthly_cost: Decimal
    minute_cost: Decimal


@dataclass(frozen=True)
class Subscription:
    """A number the account holds; ``action_url`` is "" when none is set."""

    din_uid: str
    din: str
    country_code: str
    prefix: str
    monthly_cost: Decimal | None
    minute_cost: Decimal | None
    action_url: str
    subscribed_at: datetime | None


@dataclass(frozen=True)
class CallStatus:
    callid: str
    caller: str
    recipient: str
    status: str
    start_time: datetime | None
    end_time: datetime | None
    duration: int | None
    cost: Decimal | None
    url: str

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_CALL_STATUSES


# --- Parsing ----------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise XoxzoBadResponse(f"Xoxzo sent a cost that is not a number: {value!r:.40}") from None


def _cost(value: Any) -> Decimal:
    """A cost the carrier must send: missing is as bad as malformed."""
    cost = _decimal(value)
    if cost is None:
        raise XoxzoBadResponse("Xoxzo sent a number without its cost.")
    return cost


def _datetime(value: Any) -> datetime | None:
    """Xoxzo does not document its time format: accept ISO 8601 with or without a zone (UTC)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise XoxzoBadResponse(f"Xoxzo sent a time that is not ISO 8601: {value!r:.40}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def din_from(item: dict) -> Din:
    try:
        return Din(
            din_uid=str(item["din_uid"]),
            din=str(item["din"]).lstrip("+"),
            country_code=str(item["country_code"]),
            prefix=str(item["prefix"]),
            monthly_cost=_cost(item["monthly_cost"]),
            minute_cost=_cost(item["minute_cost"]),
        )
    except (KeyError, TypeError) as exc:
        raise XoxzoBadResponse(f"Xoxzo sent a number without {exc}.") from None


def subscription_from(item: dict) -> Subscription:
    # Only din_uid and action.url are known from Xoxzo's own clients; the rest is read if there.
    try:
        din_uid = str(item["din_uid"])
    except (KeyError, TypeError):
        raise XoxzoBadResponse("Xoxzo sent a subscription without din_uid.") from None
    action = item.get("action") or {}
    return Subscription(
        din_uid=din_uid,
        din=str(item.get("din") or "").lstrip("+"),
        country_code=str(item.get("country_code") or ""),
        prefix=str(item.get("prefix") or ""),
        monthly_cost=_decimal(item.get("monthly_cost")),
        minute_cost=_decimal(item.get("minute_cost")),
        action_url=str(action.get("url") or "") if isinstance(action, dict) else "",
        subscribed_at=_datetime(item.get("subscribed_at")),
    )


def call_status_from(item: dict) -> CallStatus:
    try:
        duration = item.get("duration")
        return CallStatus(
            callid=str(item["callid"]),
            caller=str(item.get("caller") or ""),
            recipient=str(item.get("recipient") or ""),
            status=str(item["status"]),
            start_time=_datetime(item.get("start_time")),
            end_time=_datetime(item.get("end_time")),
            duration=None if duration is None or duration == "" else int(duration),
            cost=_decimal(item.get("cost")),
            url=str(item.get("url") or ""),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise XoxzoBadResponse(f"Xoxzo sent a call status that does not parse: {exc}") from None


def field_errors(body: Any) -> dict[str, list[str]]:
    """DRF-style ``{"field": ["message", ...]}``, tolerating a bare string per field."""
    if not isinstance(body, dict):
        return {"non_field_errors": [str(body)[:200]]} if body else {}
    errors: dict[str, list[str]] = {}
    for field, messages in body.items():
        if isinstance(messages, list):
            errors[str(field)] = [str(message) for message in messages]
        else:
            errors[str(field)] = [str(messages)]
    return errors


def retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare enough to treat as "not said"
