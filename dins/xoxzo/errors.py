"""What can go wrong talking to Xoxzo: one exception class per kind of answer."""

from __future__ import annotations


class XoxzoError(Exception):
    """Any failure talking to Xoxzo.

    ``outcome_unknown`` is true when a call that is not retried may have taken effect at Xoxzo
    although no success answer arrived (read timeout, dropped connection, a 5xx after the
    request was delivered): look before repeating it.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        outcome_unknown: bool = False,
    ):
        super().__init__(message)
        self.status = status
        self.outcome_unknown = outcome_unknown


class XoxzoAuthError(XoxzoError):
    """401: the SID or auth token was refused."""


class XoxzoValidationError(XoxzoError):
    """400: Xoxzo refused a field; ``errors`` maps field name to messages (DRF style)."""

    def __init__(self, message: str, *, errors: dict[str, list[str]], status: int = 400):
        super().__init__(message, status=status)
        self.errors = errors


class XoxzoNotFound(XoxzoError):
    """404: unknown din_uid or callid (or not this account's)."""


class XoxzoRateLimited(XoxzoError):
    """429: too many requests; ``retry_after`` in seconds when Xoxzo said so."""

    def __init__(self, message: str, *, retry_after: float | None, status: int = 429):
        super().__init__(message, status=status)
        self.retry_after = retry_after


class XoxzoUnavailable(XoxzoError):
    """Xoxzo could not be reached or failed: 5xx, timeout, connection error."""


class XoxzoBadResponse(XoxzoError):
    """Xoxzo answered with a status or a body this client does not understand."""
