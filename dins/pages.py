"""What the numbers app shows on the portal's pages (``portal.pages``).

Imported by ``DinsConfig.ready``, once every model is loaded.
"""

from django.utils.translation import gettext_lazy

from dins.models import OutboundCall, SubscriptionStatus
from dins.selectors import numbers_figures
from portal.audit_words import describe_values
from portal.pages import provide

# How an outbound call's end was learnt (``outbound_call.settle``).
SETTLED_BY = {
    "callback": gettext_lazy("the carrier's report"),
    "poll": gettext_lazy("asking the carrier"),
}


def _dashboard(*, request) -> dict:
    return {"numbers": numbers_figures()}


def _label(choices):
    return lambda value: str(choices(value).label) if value in choices.values else None


def connect() -> None:
    provide("dashboard", _dashboard)
    # The audit log's values in words (portal.audit_words).
    describe_values("subscription", "status", _label(SubscriptionStatus))
    describe_values("outboundcall", "status", _label(OutboundCall.Status))
    describe_values("outboundcall", "message", _label(OutboundCall.MessageKind))
    describe_values(
        "outboundcall",
        "source",
        lambda value: str(SETTLED_BY[value]) if value in SETTLED_BY else None,
    )
