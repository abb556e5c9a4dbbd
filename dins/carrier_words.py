"""What a person can do about a carrier error, in their words (never the carrier's raw error):
the numbers' pages, the flow editor's test calls and the API say the same."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dins.xoxzo import XoxzoError, XoxzoValidationError, error_kind

CARRIER_PROBLEMS = {
    "credentials": gettext_lazy(
        "The carrier rejected the portal's credentials. An operator must update "
        "the carrier account's credentials; nothing was changed."
    ),
    "rate_limited": gettext_lazy("The carrier asks us to slow down. Try again in a minute."),
    "unavailable": gettext_lazy(
        "The carrier is unavailable right now. Try again in a few minutes."
    ),
    "unexpected": gettext_lazy("The carrier answered unexpectedly. Try again later."),
}


def carrier_problem(error: XoxzoError) -> str:
    """What a user can do about a carrier error, in their words (never the raw error)."""
    if isinstance(error, XoxzoValidationError):
        return _("The carrier refused the request: %(why)s") % {
            "why": "; ".join(" ".join(m) for m in error.errors.values())
        }
    return str(CARRIER_PROBLEMS[error_kind(error)])
