"""Unit tests of the Xoxzo client's transport: retries, timeouts, error mapping, secrecy.

HTTP is simulated with ``responses`` here; the contract tests talk to the live sandbox.
"""

import base64
import logging
import socket
import threading
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import requests
import responses

from dins import xoxzo
from dins.xoxzo import (
    XoxzoAuthError,
    XoxzoBadResponse,
    XoxzoClient,
    XoxzoNotFound,
    XoxzoRateLimited,
    XoxzoUnavailable,
    XoxzoValidationError,
)

API = "https://api.xoxzo.test"
TOKEN = "tok-SECRET-do-not-leak-91"
DIN_ITEM = {
    "country_code": "81",
    "din": "815012345678",
    "din_uid": "JPafr34rafic76tf",
    "minute_cost": 1,
    "monthly_cost": 650.0,
    "prefix": "50",
}


@pytest.fixture(autouse=True)
def xoxzo_settings(settings):
    settings.XOXZO_API_URL = API
    settings.XOXZO_SID = "ACSID123"
    settings.XOXZO_AUTH_TOKEN = TOKEN
    settings.XOXZO_CONNECT_TIMEOUT = 1.5
    settings.XOXZO_READ_TIMEOUT = 7.0
    settings.XOXZO_LOCAL_CALLER_ID_PARAM = "jp_local_cid"
    return settings


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def client(waits):
    with XoxzoClient(sleep=waits.append) as client:
        yield client


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def _form(call) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(call.request.body).items()}


# --- Requests as sent -------------------------------------------------------------------------


def test_it_sends_basic_auth_and_timeouts_from_settings_on_every_call(client, mocked):
    mocked.get(f"{API}/voice/dins/", json=[DIN_ITEM])

    numbers = client.search_dins(country="JP", prefix="8150")

    request = mocked.calls[0].request
    expected = base64.b64encode(f"ACSID123:{TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.req_kwargs["timeout"] == (1.5, 7.0)
    assert parse_qs(request.url.split("?", 1)[1]) == {"country": ["JP"], "prefix": ["8150"]}
    assert numbers == [
        xoxzo.Din(
            din_uid="JPafr34rafic76tf",
            din="815012345678",
            country_code="81",
            prefix="50",
            monthly_cost=Decimal("650.0"),
            minute_cost=Decimal("1"),
        )
    ]


def test_it_reads_settings_at_call_time(client, mocked, settings):
    mocked.get(f"{API}/voice/dins/subscriptions/", json=[])
    mocked.get("https://other.test/voice/dins/subscriptions/", json=[])

    client.list_subscriptions()
    settings.XOXZO_API_URL = "https://other.test/"
    client.list_subscriptions()

    assert [call.request.url for call in mocked.calls] == [
        f"{API}/voice/dins/subscriptions/",
        "https://other.test/voice/dins/subscriptions/",
    ]


def test_it_sends_form_encoded_bodies_and_the_local_caller_id_option(client, mocked):
    mocked.post(f"{API}/voice/simple/playbacks/", json=[{"callid": "c-1"}], status=201)

    callid = client.simple_playback(
        caller="+815012345678",
        recipient="+818012345678",
        tts_message="こんにちは",
        tts_lang="ja",
        callbackurl="https://portal.test/cb",
        local_caller_id=True,
    )

    call = mocked.calls[0]
    assert callid == "c-1"
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert _form(call) == {
        "caller": "+815012345678",
        "recipient": "+818012345678",
        "tts_message": "こんにちは",
        "tts_lang": "ja",
        "callbackurl": "https://portal.test/cb",
        "jp_local_cid": "1",
    }


def test_it_leaves_the_local_caller_id_option_out_unless_asked(client, mocked):
    mocked.post(f"{API}/voice/simple/playbacks/", json=[{"callid": "c-2"}], status=201)

    client.simple_playback(
        caller="+14155550100", recipient="+818012345678", recording_url="https://x.test/a.mp3"
    )

    assert _form(mocked.calls[0]) == {
        "caller": "+14155550100",
        "recipient": "+818012345678",
        "recording_url": "https://x.test/a.mp3",
    }


def test_it_refuses_a_playback_with_both_or_neither_message(client, mocked):
    with pytest.raises(ValueError):
        client.simple_playback(caller="+1", recipient="+2")
    with pytest.raises(ValueError):
        client.simple_playback(
            caller="+1", recipient="+2", recording_url="https://x.test/a.mp3", tts_message="hi"
        )
    assert len(mocked.calls) == 0


def test_it_reads_the_action_url_nested_in_a_subscription(client, mocked):
    mocked.get(
        f"{API}/voice/dins/subscriptions/",
        json=[
            {**DIN_ITEM, "action": {"url": "https://portal.test/a/1"}},
            {"din_uid": "JPother", "action": {"url": None}},
        ],
    )

    first, second = client.list_subscriptions()

    assert first.action_url == "https://portal.test/a/1"
    assert first.din == "815012345678"
    assert second.action_url == ""
    assert second.monthly_cost is None


def test_it_parses_a_call_status(client, mocked):
    mocked.get(
        f"{API}/voice/calls/c-9/",
        json={
            "callid": "c-9",
            "caller": "+14155550100",
            "recipient": "+818012345678",
            "start_time": "2025-04-01 09:00:00",
            "end_time": "2025-04-01T09:00:42+00:00",
            "duration": 42,
            "cost": 10,
            "status": "ANSWERED",
            "url": "https://x.test/a.mp3",
        },
    )

    status = client.call_status(callid="c-9")

    assert status.is_final
    assert status.duration == 42
    assert status.cost == Decimal("10")
    assert status.start_time.tzinfo is not None
    assert (status.end_time - status.start_time).total_seconds() == 42


# --- Error mapping ----------------------------------------------------------------------------


def test_it_maps_400_to_a_validation_error_with_the_field_messages(client, mocked):
    mocked.post(
        f"{API}/voice/simple/playbacks/",
        json={"recipient": ["Bad number."], "caller": "Refused."},
        status=400,
    )

    with pytest.raises(XoxzoValidationError) as caught:
        client.simple_playback(
            caller="0312345678", recipient="+8108012345678", recording_url="https://x.test/a.mp3"
        )

    assert caught.value.errors == {"recipient": ["Bad number."], "caller": ["Refused."]}
    assert caught.value.status == 400
    assert "recipient: Bad number." in str(caught.value)


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, XoxzoAuthError), (404, XoxzoNotFound), (403, XoxzoBadResponse)],
)
def test_it_maps_client_errors_without_retrying(client, mocked, waits, status, error):
    mocked.get(f"{API}/voice/dins/subscriptions/", json={"detail": "nope"}, status=status)

    with pytest.raises(error) as caught:
        client.list_subscriptions()

    assert caught.value.status == status
    assert len(mocked.calls) == 1
    assert waits == []


def test_it_reports_a_body_that_is_not_json(client, mocked):
    mocked.get(f"{API}/voice/dins/", body="<html>gateway</html>", status=200)

    with pytest.raises(XoxzoBadResponse):
        client.search_dins()


def test_it_does_not_follow_redirects(client, mocked):
    mocked.post(
        f"{API}/voice/dins/subscriptions/",
        status=301,
        headers={"Location": f"{API}/elsewhere/"},
    )

    with pytest.raises(XoxzoBadResponse):
        client.subscribe(din_uid="JPa")

    assert len(mocked.calls) == 1


# --- Retries of safe calls --------------------------------------------------------------------


def test_it_retries_a_get_after_5xx_with_backoff(client, mocked, waits):
    url = f"{API}/voice/dins/"
    mocked.get(url, status=502)
    mocked.get(url, body=requests.ConnectionError("reset"))
    mocked.get(url, json=[DIN_ITEM])

    numbers = client.search_dins()

    assert len(numbers) == 1
    assert len(mocked.calls) == 3
    assert waits == [xoxzo.BACKOFF_SECONDS, xoxzo.BACKOFF_SECONDS * 2]


def test_it_gives_up_on_a_safe_call_after_the_last_attempt(client, mocked, waits):
    mocked.get(f"{API}/voice/calls/c-1/", status=500)

    with pytest.raises(XoxzoUnavailable) as caught:
        client.call_status(callid="c-1")

    assert len(mocked.calls) == xoxzo.MAX_ATTEMPTS
    assert len(waits) == xoxzo.MAX_ATTEMPTS - 1
    assert caught.value.status == 500
    assert caught.value.outcome_unknown is False  # a GET changes nothing


@pytest.mark.parametrize(
    "failure", [requests.ReadTimeout("slow"), requests.ConnectTimeout("no route")]
)
def test_it_retries_unsubscribe_and_the_action_url_update(client, mocked, failure):
    detail = f"{API}/voice/dins/subscriptions/JPa/"
    mocked.delete(detail, body=failure)
    mocked.delete(detail, json={})
    mocked.post(detail, body=failure)
    mocked.post(detail, json={})

    client.unsubscribe(din_uid="JPa")
    client.set_action_url(din_uid="JPa", action_url="https://portal.test/a/1")

    assert [call.request.method for call in mocked.calls] == ["DELETE", "DELETE", "POST", "POST"]


def test_it_waits_out_a_short_retry_after(client, mocked, waits):
    url = f"{API}/voice/dins/"
    mocked.get(url, status=429, headers={"Retry-After": "2"})
    mocked.get(url, json=[])

    assert client.search_dins() == []
    assert waits == [2.0]


def test_it_hands_a_long_retry_after_to_the_caller(client, mocked, waits):
    mocked.get(f"{API}/voice/dins/", status=429, headers={"Retry-After": "120"})

    with pytest.raises(XoxzoRateLimited) as caught:
        client.search_dins()

    assert caught.value.retry_after == 120.0
    assert len(mocked.calls) == 1
    assert waits == []


# --- Calls that are never retried -------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "outcome_unknown"),
    [
        ({"status": 500}, True),
        ({"status": 502}, True),
        ({"status": 503}, True),  # a carrier may act, then fail answering
        ({"body": requests.ReadTimeout("slow")}, True),
        ({"body": requests.ConnectionError("reset by peer")}, True),
        ({"body": requests.ConnectTimeout("no route")}, False),
    ],
)
def test_it_never_retries_subscribe_and_says_when_the_outcome_is_unknown(
    client, mocked, waits, response, outcome_unknown
):
    mocked.post(f"{API}/voice/dins/subscriptions/", **response)

    with pytest.raises(XoxzoUnavailable) as caught:
        client.subscribe(din_uid="JPa")

    assert len(mocked.calls) == 1
    assert waits == []
    assert caught.value.outcome_unknown is outcome_unknown
    assert ("outcome is unknown" in str(caught.value)) is outcome_unknown


def test_it_never_retries_an_outbound_call(client, mocked, waits):
    mocked.post(f"{API}/voice/simple/playbacks/", body=requests.ReadTimeout("slow"))

    with pytest.raises(XoxzoUnavailable) as caught:
        client.simple_playback(
            caller="+14155550100", recipient="+818012345678", recording_url="https://x.test/a.mp3"
        )

    assert caught.value.outcome_unknown is True
    assert len(mocked.calls) == 1


def test_it_does_not_retry_a_rate_limited_subscribe(client, mocked, waits):
    mocked.post(f"{API}/voice/dins/subscriptions/", status=429, headers={"Retry-After": "1"})

    with pytest.raises(XoxzoRateLimited) as caught:
        client.subscribe(din_uid="JPa")

    assert caught.value.outcome_unknown is False
    assert len(mocked.calls) == 1
    assert waits == []


# --- Real sockets: was the request sent? ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_it_knows_a_refused_connection_sent_nothing(client, settings):
    settings.XOXZO_API_URL = f"http://127.0.0.1:{_free_port()}"

    with pytest.raises(XoxzoUnavailable) as caught:
        client.subscribe(din_uid="JPa")

    assert caught.value.outcome_unknown is False


@pytest.fixture
def hanging_up_server():
    """Accepts a connection, reads the request, and closes without answering."""
    listener = socket.create_server(("127.0.0.1", 0))
    requests_seen: list[bytes] = []

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                requests_seen.append(connection.recv(65536))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", requests_seen
    listener.close()


def test_it_knows_a_dropped_connection_may_have_delivered_the_call(
    client, settings, hanging_up_server
):
    url, requests_seen = hanging_up_server
    settings.XOXZO_API_URL = url

    with pytest.raises(XoxzoUnavailable) as caught:
        client.simple_playback(
            caller="+14155550100", recipient="+818012345678", recording_url="https://x.test/a.mp3"
        )

    assert caught.value.outcome_unknown is True
    assert len(requests_seen) == 1
    assert requests_seen[0].startswith(b"POST /voice/simple/playbacks/")


def test_it_times_out_reading_with_the_configured_read_timeout(client, settings):
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (backlog) but never answers
    settings.XOXZO_API_URL = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings.XOXZO_READ_TIMEOUT = 0.2
    try:
        with pytest.raises(XoxzoUnavailable) as caught:
            client.subscribe(din_uid="JPa")
    finally:
        listener.close()

    assert caught.value.outcome_unknown is True
    assert "timed out" in str(caught.value)


# --- The token stays secret -------------------------------------------------------------------


def test_it_never_shows_the_auth_token_in_logs_errors_or_reprs(client, mocked, caplog):
    caplog.set_level(logging.DEBUG)
    mocked.get(f"{API}/voice/dins/subscriptions/", json={"detail": TOKEN[:3]}, status=401)
    mocked.post(f"{API}/voice/dins/subscriptions/", body=requests.ReadTimeout("slow"))
    mocked.get(f"{API}/voice/calls/x/", status=500)

    errors = []
    for attempt in (
        client.list_subscriptions,
        lambda: client.subscribe(din_uid="JPa"),
        lambda: client.call_status(callid="x"),
    ):
        with pytest.raises(xoxzo.XoxzoError) as caught:
            attempt()
        errors.append(caught.value)

    assert caplog.records, "the client logs its requests"
    texts = [caplog.text, repr(client), str(client)]
    texts += [text for error in errors for text in (str(error), repr(error), repr(error.args))]
    encoded = base64.b64encode(f"ACSID123:{TOKEN}".encode()).decode()
    for text in texts:
        assert TOKEN not in text
        assert encoded not in text
    assert "ACSID123" in repr(client)
