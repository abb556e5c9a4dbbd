"""The client: one request to Xoxzo with its timeouts, retries and errors; one client per thread."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import requests
from django.conf import settings
from urllib3.exceptions import NewConnectionError

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
    CallStatus,
    Din,
    Subscription,
    call_status_from,
    din_from,
    field_errors,
    retry_after,
    subscription_from,
)

logger = logging.getLogger(__name__)

# Bounded and short: these retries happen inside a request or a task, never for long.
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = 0.25
# A Retry-After longer than this is not waited out here; the error goes to the caller (a
# Celery task can retry later with its own countdown).
MAX_RETRY_AFTER_SECONDS = 5.0


class XoxzoClient:
    """One object per process is enough: it holds a ``requests.Session`` for keep-alive.

    Every argument left ``None`` is read from settings at each call.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        sid: str | None = None,
        auth_token: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._base_url = base_url
        self._sid = sid
        self._auth_token = auth_token
        self._sleep = sleep
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"<XoxzoClient {self.base_url} sid={self.sid}>"

    def close(self) -> None:
        """Close the kept-alive connections (tests; processes that end)."""
        self._session.close()

    def __enter__(self) -> XoxzoClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        return (self._base_url or settings.XOXZO_API_URL).rstrip("/")

    @property
    def sid(self) -> str:
        return self._sid if self._sid is not None else settings.XOXZO_SID

    def _auth(self) -> tuple[str, str]:
        token = self._auth_token if self._auth_token is not None else settings.XOXZO_AUTH_TOKEN
        return (self.sid, token)

    # -- Numbers --

    def search_dins(self, *, country: str | None = None, prefix: str | None = None) -> list[Din]:
        """Numbers free to subscribe; ``prefix`` includes the country code (``8150``)."""
        params = {
            name: value for name, value in (("country", country), ("prefix", prefix)) if value
        }
        body = self._json("GET", "/voice/dins/", params=params, retry=True)
        return [din_from(item) for item in self._list(body)]

    def subscribe(self, *, din_uid: str) -> None:
        """Buy the number (charged at once). Never retried: see the module docstring.

        Xoxzo does not document the body of its 201, so nothing is read from it; callers that
        need the subscription read ``list_subscriptions()``.
        """
        self._json("POST", "/voice/dins/subscriptions/", data={"din_uid": din_uid}, retry=False)

    def list_subscriptions(self) -> list[Subscription]:
        body = self._json("GET", "/voice/dins/subscriptions/", retry=True)
        return [subscription_from(item) for item in self._list(body)]

    def set_action_url(self, *, din_uid: str, action_url: str) -> None:
        # Setting the same URL twice is harmless, so this one is retried.
        self._json(
            "POST",
            f"/voice/dins/subscriptions/{din_uid}/",
            data={"action_url": action_url},
            retry=True,
        )

    def unsubscribe(self, *, din_uid: str) -> None:
        self._json("DELETE", f"/voice/dins/subscriptions/{din_uid}/", retry=True)

    # -- The sandbox's own extension (not part of Xoxzo's API) --

    def sandbox_test_call(
        self, *, to: str, caller: str, read_timeout: float, mark: str = ""
    ) -> dict:
        """Have the sandbox carrier place a simulated incoming call; its transcript as JSON.

        The sandbox answers once the whole call ran: ``read_timeout`` says how long to wait.
        ``mark`` (``dins.call_marks``) is passed on to the action URL, so the call is logged as
        a test.
        """
        body = self._json(
            "POST",
            "/internal/test-call/",
            data={"to": to, "from": caller, **({"mark": mark} if mark else {})},
            retry=False,
            read_timeout=read_timeout,
        )
        if not isinstance(body, dict) or "transcript" not in body:
            raise XoxzoBadResponse("sandbox test call: unexpected answer")
        return body

    # -- Calls --

    def simple_playback(
        self,
        *,
        caller: str,
        recipient: str,
        recording_url: str | None = None,
        tts_message: str | None = None,
        tts_lang: str | None = None,
        callbackurl: str | None = None,
        local_caller_id: bool = False,
    ) -> str:
        """Place an outbound call playing an MP3 or a TTS message; returns the callid.

        ``local_caller_id`` shows one of the account's Japanese DINs (given as ``caller``) as
        caller ID, through the option named by ``XOXZO_LOCAL_CALLER_ID_PARAM``.
        Never retried: a second attempt rings the recipient twice.
        """
        if (recording_url is None) == (tts_message is None):
            raise ValueError("Give either recording_url or tts_message (with tts_lang).")
        data = {"caller": caller, "recipient": recipient}
        if recording_url is not None:
            data["recording_url"] = recording_url
        else:
            data["tts_message"] = tts_message or ""
            data["tts_lang"] = tts_lang or ""
        if callbackurl:
            data["callbackurl"] = callbackurl
        if local_caller_id:
            data[settings.XOXZO_LOCAL_CALLER_ID_PARAM] = "1"
        body = self._json("POST", "/voice/simple/playbacks/", data=data, retry=False)
        try:
            return str(self._list(body)[0]["callid"])
        except (IndexError, KeyError, TypeError):
            raise XoxzoBadResponse("Xoxzo accepted the call but sent no callid.") from None

    def call_status(self, *, callid: str) -> CallStatus:
        body = self._json("GET", f"/voice/calls/{callid}/", retry=True)
        if not isinstance(body, dict):
            raise XoxzoBadResponse("Xoxzo sent a call status that is not an object.")
        return call_status_from(body)

    # -- Transport --

    @staticmethod
    def _list(body: Any) -> list:
        if not isinstance(body, list):
            raise XoxzoBadResponse("Xoxzo sent something other than a list.")
        return body

    def _json(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        data: dict | None = None,
        retry: bool,
        read_timeout: float | None = None,
    ) -> Any:
        response = self._send(
            method, path, params=params, data=data, retry=retry, read_timeout=read_timeout
        )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise XoxzoBadResponse(
                f"Xoxzo {method} {path}: HTTP {response.status_code} with a body that is not JSON.",
                status=response.status_code,
            ) from None

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict | None,
        data: dict | None,
        retry: bool,
        read_timeout: float | None = None,
    ) -> requests.Response:
        attempts = MAX_ATTEMPTS if retry else 1
        deadline = _page_deadline.get()
        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            connect = settings.XOXZO_CONNECT_TIMEOUT
            read = read_timeout or settings.XOXZO_READ_TIMEOUT
            if deadline is not None:  # a page waits for the carrier within its budget only
                left = deadline - started
                if left < 0.2:
                    raise XoxzoUnavailable(
                        f"Xoxzo {method} {path}: no answer within the page's budget.",
                        outcome_unknown=attempt > 1 and not retry,
                    )
                connect, read = min(connect, left), min(read, left)
            try:
                response = self._session.request(
                    method,
                    self.base_url + path,
                    params=params,
                    data=data,
                    auth=self._auth(),
                    timeout=(connect, read),
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                error = self._transport_error(method, path, exc, retry=retry)
                logger.warning("xoxzo %s %s attempt %d: %s", method, path, attempt, error)
                wait = BACKOFF_SECONDS * 2 ** (attempt - 1)
            else:
                elapsed_ms = (time.monotonic() - started) * 1000
                logger.info(
                    "xoxzo %s %s -> %d in %.0f ms", method, path, response.status_code, elapsed_ms
                )
                if response.status_code < 300:
                    return response
                error = self._status_error(method, path, response, retry=retry)
                if isinstance(error, XoxzoRateLimited):
                    if (
                        error.retry_after is not None
                        and error.retry_after > MAX_RETRY_AFTER_SECONDS
                    ):
                        raise error
                    wait = error.retry_after
                    if wait is None:
                        wait = BACKOFF_SECONDS * 2 ** (attempt - 1)
                elif isinstance(error, XoxzoUnavailable):
                    wait = BACKOFF_SECONDS * 2 ** (attempt - 1)
                else:
                    raise error
            if attempt == attempts:
                raise error
            if deadline is not None and time.monotonic() + wait >= deadline:
                raise error  # no time left in the page's budget for another try
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _transport_error(
        method: str, path: str, exc: requests.RequestException, *, retry: bool
    ) -> XoxzoError:
        # Did the request leave? A connect timeout or a refused/unresolvable connection proves
        # it did not; anything else (read timeout, reset mid-way) may have been processed.
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        never_sent = isinstance(exc, requests.ConnectTimeout) or isinstance(
            reason, NewConnectionError
        )
        if isinstance(exc, requests.Timeout):
            what = "timed out connecting" if never_sent else "timed out waiting for the answer"
        elif isinstance(exc, requests.ConnectionError):
            what = "could not connect" if never_sent else "connection failed"
        else:
            what = f"request failed ({type(exc).__name__})"
            never_sent = True  # InvalidURL and the like fail before anything is sent
        outcome_unknown = not retry and not never_sent
        suffix = " (the outcome is unknown)" if outcome_unknown else ""
        return XoxzoUnavailable(
            f"Xoxzo {method} {path}: {what}{suffix}.", outcome_unknown=outcome_unknown
        )

    @staticmethod
    def _status_error(
        method: str, path: str, response: requests.Response, *, retry: bool
    ) -> XoxzoError:
        status = response.status_code
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text[:200]
        where = f"Xoxzo {method} {path}: HTTP {status}"
        detail = body.get("detail") if isinstance(body, dict) else None
        if status == 400:
            errors = field_errors(body)
            summary = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
            return XoxzoValidationError(f"{where}: {summary[:300]}", errors=errors)
        if status == 401:
            return XoxzoAuthError(f"{where}: {detail or 'credentials refused'}", status=status)
        if status == 404:
            return XoxzoNotFound(f"{where}: not found", status=status)
        if status == 429:
            return XoxzoRateLimited(f"{where}: rate limited", retry_after=retry_after(response))
        if status >= 500:
            # Any 5xx, 503 included, may follow work the carrier already did (it acted, then
            # failed answering): for a request that is not repeated, the outcome is unknown.
            outcome_unknown = not retry
            suffix = " (the outcome is unknown)" if outcome_unknown else ""
            return XoxzoUnavailable(
                f"{where}{suffix}", status=status, outcome_unknown=outcome_unknown
            )
        return XoxzoBadResponse(f"{where}: unexpected status", status=status)


def error_kind(error: XoxzoError) -> str:
    """ "credentials", "rate_limited", "unavailable" or "unexpected": what a person can do."""
    if isinstance(error, XoxzoAuthError):
        return "credentials"
    if isinstance(error, XoxzoRateLimited):
        return "rate_limited"
    if isinstance(error, XoxzoUnavailable):
        return "unavailable"
    return "unexpected"


# --- One client per thread; a budget for pages ------------------------------------------------

# requests.Session is not thread-safe, and the portal's pages run on many threads: each thread
# keeps its own client (and its kept-alive connection).
_local = threading.local()
_clients: weakref.WeakSet[XoxzoClient] = weakref.WeakSet()

# Set while a page is being answered (``page_budget``): every carrier request made on its
# behalf, retries included, ends by then.
_page_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "xoxzo_page_deadline", default=None
)


def get_client() -> XoxzoClient:
    """This thread's client (settings are still read at each call)."""
    client = getattr(_local, "client", None)
    if client is None:
        client = _local.client = XoxzoClient()
        _clients.add(client)
    return client


def close_client() -> None:
    """Close every thread's kept-alive connections (tests, worker shutdown).

    The clients stay usable: the next call opens a new connection.
    """
    for client in list(_clients):
        client.close()


@contextlib.contextmanager
def page_budget(seconds: float):
    """Carrier requests inside this block give up after ``seconds`` in all (a page's wait)."""
    token = _page_deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _page_deadline.reset(token)


def call_status_from_callback(data: dict) -> CallStatus:
    """The final status Xoxzo POSTs to a call's ``callbackurl`` (call-status fields, form-encoded).

    Raises ``XoxzoBadResponse`` when the body does not parse, like a bad call-status answer.
    """
    return call_status_from({key: value for key, value in data.items() if value != ""})
