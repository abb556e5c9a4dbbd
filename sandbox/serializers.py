"""The JSON shapes of the sandbox API, as Xoxzo documents them."""

from decimal import Decimal

from sandbox.models import SandboxCall, SandboxDin, SandboxSubscription


def _number(value: Decimal) -> int | float:
    """1 stays 1 and 1.5 stays 1.5, as in Xoxzo's examples (``"minute_cost": 1``)."""
    return int(value) if value == value.to_integral_value() else float(value)


def _time(value) -> str | None:
    return value.isoformat() if value else None


def din_data(din: SandboxDin) -> dict:
    """A search item, field for field as in Xoxzo's docs."""
    return {
        "country_code": din.country_code,
        "din": din.din,
        "din_uid": din.din_uid,
        "minute_cost": _number(din.minute_cost),
        "monthly_cost": float(din.monthly_cost),  # the docs show 650.0
        "prefix": din.prefix,
    }


def subscription_data(subscription: SandboxSubscription) -> dict:
    """The search fields plus the action URL nested as Xoxzo's clients read it (action.url).

    ``subscribed_at`` is our choice: Xoxzo does not document further fields.
    """
    return {
        **din_data(subscription.din),
        "action": {"url": subscription.action_url or None},
        "subscribed_at": _time(subscription.subscribed_at),
    }


def call_data(call: SandboxCall) -> dict:
    return {
        "callid": str(call.callid),
        "caller": call.caller,
        "recipient": call.recipient,
        "start_time": _time(call.start_time),
        "end_time": _time(call.end_time),
        "duration": call.duration,
        "cost": _number(call.cost),
        "status": call.status,
        "url": call.recording_url,
    }
