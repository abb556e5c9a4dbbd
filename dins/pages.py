"""What the numbers app shows on the portal's pages (``portal.pages``).

Imported by ``DinsConfig.ready``, once every model is loaded.
"""

from dins.models import SubscriptionStatus
from dins.selectors import numbers_figures
from portal.audit_words import describe_values
from portal.pages import provide


def _dashboard(*, request) -> dict:
    return {"numbers": numbers_figures()}


def _label(choices):
    return lambda value: str(choices(value).label) if value in choices.values else None


def connect() -> None:
    provide("dashboard", _dashboard)
    # The audit log's values in words (portal.audit_words).
    describe_values("subscription", "status", _label(SubscriptionStatus))
