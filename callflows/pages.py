"""What call flows show on the pages of the apps below (``portal.pages``): the dashboard's
calls today and day/night switches, a number's switch, recent calls and what a release ends.

Imported by ``CallflowsConfig.ready``, once every model is loaded.
"""

from typing import cast

from callflows.calllog.selectors import (
    calls_in_last_days,
    calls_recent_for_number,
    calls_today_figures,
)
from callflows.flows import selectors as flow_selectors
from callflows.flows.documents import Action
from callflows.flows.switch import override_switch, override_switches
from callflows.models import CallFlow
from callflows.outbound import pages as outbound_pages
from dins.models import SubscriptionStatus
from portal.audit_words import describe_values
from portal.pages import provide


def _dashboard(*, request) -> dict:
    return {"calls": calls_today_figures(), "switches": override_switches()}


def _number(*, request, subscription) -> dict:
    is_active = subscription.status == SubscriptionStatus.ACTIVE
    return {"switch": override_switch(subscription) if is_active else None}


def _number_detail(*, request, subscription) -> dict:
    return {"recent_calls": calls_recent_for_number(subscription=subscription)}


def _number_release(*, request, subscription) -> dict:
    return {
        "calls_30_days": calls_in_last_days(subscription=subscription, days=30),
        "flow": CallFlow.objects.filter(subscription=subscription).first(),
    }


def _override_words(action: object) -> str | None:
    """An override's answer in the audit log (``callflow.override``), as the editor says it."""
    if not isinstance(action, dict) or "type" not in action:
        return None
    try:
        # Read as an action; a stored value of another shape fails here and is not described.
        stored = cast(Action, action)
        return flow_selectors.describe_action(stored, flow_selectors.asset_names())
    except (KeyError, TypeError):
        return None


def connect() -> None:
    outbound_pages.connect()
    describe_values("subscription", "action", _override_words)
    provide("dashboard", _dashboard)
    provide("number", _number)
    provide("number_detail", _number_detail)
    provide("number_release", _number_release)
