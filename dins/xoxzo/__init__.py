"""The portal's client for Xoxzo's Dial-In-Numbers and voice API.

Only ``dins`` services call this module. It speaks HTTP Basic ``SID:AUTH_TOKEN`` with
form-encoded bodies, reads its settings at call time (tests point ``XOXZO_API_URL`` at the
sandbox's live server), puts a connect and a read timeout on every request and turns every
failure into a ``XoxzoError`` subclass.

Retries: only calls that are safe to repeat (GETs, unsubscribe, setting the action URL) are
retried, a few times with a short backoff, on 5xx, 429, timeouts and connection errors.
Subscribing and placing a call are never retried, because a second attempt can buy a second
number or ring someone twice. When such a call fails after the request may have reached Xoxzo
(a read timeout, a dropped connection, any 5xx), the error says ``outcome_unknown=True`` and
the caller must look (list subscriptions, check the call) before trying again.

The auth token never appears in log lines, exception messages or reprs.
"""

from dins.xoxzo.client import (
    BACKOFF_SECONDS,
    MAX_ATTEMPTS,
    MAX_RETRY_AFTER_SECONDS,
    XoxzoClient,
    call_status_from_callback,
    close_client,
    error_kind,
    get_client,
    page_budget,
)
from dins.xoxzo.errors import (
    XoxzoAuthError,
    XoxzoBadResponse,
    XoxzoError,
    XoxzoNotFound,
    XoxzoRateLimited,
    XoxzoUnavailable,
    XoxzoValidationError,
)
from dins.xoxzo.results import (
    CALL_ANSWERED,
    CALL_FAILED,
    CALL_IN_PROGRESS,
    CALL_NO_ANSWER,
    FINAL_CALL_STATUSES,
    CallStatus,
    Din,
    Subscription,
)

__all__ = [
    "BACKOFF_SECONDS",
    "CALL_ANSWERED",
    "CALL_FAILED",
    "CALL_IN_PROGRESS",
    "CALL_NO_ANSWER",
    "FINAL_CALL_STATUSES",
    "MAX_ATTEMPTS",
    "MAX_RETRY_AFTER_SECONDS",
    "CallStatus",
    "Din",
    "Subscription",
    "XoxzoAuthError",
    "XoxzoBadResponse",
    "XoxzoClient",
    "XoxzoError",
    "XoxzoNotFound",
    "XoxzoRateLimited",
    "XoxzoUnavailable",
    "XoxzoValidationError",
    "call_status_from_callback",
    "close_client",
    "error_kind",
    "get_client",
    "page_budget",
]
