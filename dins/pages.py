"""What the numbers app shows on the portal's pages (``portal.pages``).

Imported by ``DinsConfig.ready``, once every model is loaded.
"""

from dins.models import Subscription, SubscriptionStatus
from dins.selectors import numbers_figures
from portal.audit_words import choice_words, describe_values
from portal.pages import provide


def _dashboard(*, request) -> dict:
    return {"numbers": numbers_figures()}


def _alert_email(*, alert) -> dict:
    """The number an alert e-mail is about, as it is now (its trial's deadline, release time)."""
    number = Subscription.objects.filter(pk=alert.number_id).first() if alert.number_id else None
    return {"subscription": number}


def connect() -> None:
    provide("dashboard", _dashboard)
    provide("alert_email", _alert_email)
    # The audit log's values in words (portal.audit_words).
    describe_values("subscription", "status", choice_words(SubscriptionStatus))
