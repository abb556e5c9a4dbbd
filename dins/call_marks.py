"""The mark of a test call: the portal signs it, the sandbox passes it on, the edge checks it.

A "Test call" from the flow page is rung by the sandbox carrier exactly like a caller's call.
The portal hands the sandbox a short-lived mark, signed with ``SECRET_KEY`` and bound to the
company, which the sandbox adds to the action URL's query (``din_test=…``) on every leg of
that call. The edge logs a call that carries a valid mark as a test (``CallLog.is_test``):
listed and filterable in the call log, left out of its figures, ``"test": true`` in the
``call.answered`` webhook. A mark that is forged, expired or another company's changes
nothing: the call is logged as a real one.
"""

from __future__ import annotations

import hmac
import time

from django.utils.crypto import salted_hmac

PARAM = "din_test"
LIFETIME_SECONDS = 180  # a test call runs for a minute at most (dins.sandbox_calls)
_SALT = "dins.call_marks.test_call"


def _signature(tenant_id: int, expires: int) -> str:
    return salted_hmac(_SALT, f"{tenant_id}.{expires}", algorithm="sha256").hexdigest()[:32]


def mark_for_test_call(tenant_id: int, *, now: float | None = None) -> str:
    """The mark of a test call of company ``tenant_id``, valid for ``LIFETIME_SECONDS``."""
    expires = int(now if now is not None else time.time()) + LIFETIME_SECONDS
    return f"{tenant_id}.{expires}.{_signature(tenant_id, expires)}"


def marks_test_call(mark: str | None, tenant_id: int | None, *, now: float | None = None) -> bool:
    """True when ``mark`` is a valid, unexpired test-call mark of company ``tenant_id``."""
    if not mark or tenant_id is None or len(mark) > 80:
        return False
    owner, _, rest = mark.partition(".")
    expires, _, signature = rest.partition(".")
    if owner != str(tenant_id) or not expires.isdigit():
        return False
    if int(expires) < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(signature, _signature(tenant_id, int(expires)))
