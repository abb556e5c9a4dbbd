"""The action URL as a bare WSGI application: the hot path of every incoming call.

Served by the edge (``config.wsgi.edge``) without Django's request and response objects or
request signals, which cost more than finding and evaluating the flow itself
(``bench/action_url.py``). It never answers 5xx.

No request signals means no ``close_old_connections`` per call: the database is only read on
a miss, by ``runtime``'s loader threads, which keep their own connections.
"""

import logging
import re
from urllib.parse import unquote_plus

from callflows import grammar
from callflows.edge import runtime
from dins.call_marks import PARAM as TEST_MARK
from portal.headers import CARRIER_RESPONSE_HEADERS

logger = logging.getLogger(__name__)

_PATH = re.compile(r"^/a/([^/]+)/$")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{16,64}")
_TEXT = [("Content-Type", "text/plain; charset=utf-8"), *CARRIER_RESPONSE_HEADERS]


def _params(query: str) -> tuple[str | None, str | None, str | None]:
    """``caller`` and ``recipient`` from the query string (the only two the carrier sends),
    and the mark of a test call (``dins.call_marks``: only the portal's test calls have one)."""
    caller = recipient = mark = None
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "caller":
            caller = unquote_plus(value)
        elif name == "recipient":
            recipient = unquote_plus(value)
        elif name == TEST_MARK:
            mark = unquote_plus(value)
    return caller, recipient, mark


def _respond(start_response, status: str, body: bytes, method: str, extra=()):
    headers = [*_TEXT, ("Content-Length", str(len(body))), *extra]
    start_response(status, headers)
    return [] if method == "HEAD" else [body]


def application(environ, start_response):
    method = environ.get("REQUEST_METHOD", "GET")
    match = _PATH.match(environ.get("PATH_INFO", ""))
    if match is None:
        return _respond(start_response, "404 Not Found", b"", method)
    if method not in ("GET", "HEAD"):
        return _respond(
            start_response, "405 Method Not Allowed", b"", method, [("Allow", "GET, HEAD")]
        )
    try:
        caller, recipient, mark = _params(environ.get("QUERY_STRING", ""))
        request_id = environ.get("HTTP_X_REQUEST_ID", "")
        result = runtime.answer(
            match[1],
            caller,
            recipient,
            test_mark=mark,
            # The proxy's id of the carrier's request, the same on its retries (one row a call).
            request_id=request_id if _REQUEST_ID.fullmatch(request_id) else None,
        )
    except Exception:  # the last line of defence of a live phone call
        logger.exception("action URL failed; answering the fallback")
        return _respond(start_response, "200 OK", (grammar.FALLBACK + "\n").encode(), method)
    if result is None:
        return _respond(start_response, "404 Not Found", b"", method)
    return _respond(start_response, "200 OK", (result.command + "\n").encode(), method)
