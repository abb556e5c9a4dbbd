"""Fault injection: the sandbox API failing on purpose, seen through the portal's real client."""

from decimal import Decimal

import pytest
import requests

from dins.xoxzo import XoxzoRateLimited, XoxzoUnavailable
from sandbox import errors, faults
from sandbox.models import SandboxAccount, SandboxFault, SandboxSubscription

pytestmark = pytest.mark.django_db(transaction=True)

SUBSCRIPTION = r"^/voice/dins/subscriptions/[^/]+/?$"
SUBSCRIPTIONS = r"^/voice/dins/subscriptions/?$"


def _subscribe(xoxzo) -> str:
    din_uid = xoxzo.search_dins(prefix="8150")[0].din_uid
    xoxzo.subscribe(din_uid=din_uid)
    return din_uid


def _active_uids() -> set[str]:
    return set(
        SandboxSubscription.objects.filter(released_at__isnull=True).values_list(
            "din__din_uid", flat=True
        )
    )


def test_it_answers_a_delete_with_503_twice_and_the_clients_retry_gets_through(xoxzo):
    din_uid = _subscribe(xoxzo)
    fault = faults.sandbox_fault_add(
        method="DELETE", path_pattern=SUBSCRIPTION, status=503, times=2
    )

    xoxzo.unsubscribe(din_uid=din_uid)

    fault.refresh_from_db()
    assert fault.remaining == 0
    assert din_uid not in _active_uids()


def test_it_does_not_process_a_request_answered_before(xoxzo):
    din_uid = _subscribe(xoxzo)
    faults.sandbox_fault_add(method="DELETE", path_pattern=SUBSCRIPTION, status=503, times=3)

    with pytest.raises(XoxzoUnavailable) as error:
        xoxzo.unsubscribe(din_uid=din_uid)

    assert error.value.status == 503
    assert error.value.outcome_unknown is False
    assert din_uid in _active_uids()
    assert SandboxFault.objects.get().remaining == 0


def test_it_processes_a_request_answered_after_and_the_client_cannot_know(xoxzo):
    din_uid = xoxzo.search_dins(prefix="8150")[0].din_uid
    faults.sandbox_fault_add(method="POST", path_pattern=SUBSCRIPTIONS, status=500, when="after")

    with pytest.raises(XoxzoUnavailable) as error:
        xoxzo.subscribe(din_uid=din_uid)

    assert error.value.status == 500
    assert error.value.outcome_unknown is True
    assert din_uid in _active_uids()
    balance = SandboxAccount.objects.get().balance
    assert balance == Decimal(50_000 - 650)  # charged: the subscription took effect
    # The fault is used up: the portal's reconciliation sees the number it holds.
    assert din_uid in {item.din_uid for item in xoxzo.list_subscriptions()}


def test_it_delays_the_answer_past_the_clients_read_timeout(xoxzo, settings):
    settings.XOXZO_READ_TIMEOUT = 0.5
    din_uid = xoxzo.search_dins(prefix="8150")[0].din_uid
    faults.sandbox_fault_add(
        method="POST", path_pattern=SUBSCRIPTIONS, when="after", delay_seconds=1.5
    )
    with pytest.raises(XoxzoUnavailable) as error:
        xoxzo.subscribe(din_uid=din_uid)

    assert error.value.outcome_unknown is True
    assert "timed out" in str(error.value)
    assert din_uid in _active_uids()


def test_it_lets_a_429_be_retried_by_the_client(xoxzo):
    faults.sandbox_fault_add(method="GET", path_pattern=r"^/voice/dins/?$", status=429)

    numbers = xoxzo.search_dins(prefix="8150")

    assert numbers
    assert SandboxFault.objects.get().remaining == 0


def test_it_gives_up_on_a_429_every_time(xoxzo):
    faults.sandbox_fault_add(method="*", path_pattern=r"^/voice/dins/", status=429, times=5)

    with pytest.raises(XoxzoRateLimited):
        xoxzo.search_dins(prefix="8150")

    assert SandboxFault.objects.get().remaining == 2  # the client's three attempts


def test_it_leaves_requests_of_another_method_or_path_alone(xoxzo):
    din_uid = _subscribe(xoxzo)
    fault = faults.sandbox_fault_add(method="DELETE", path_pattern=SUBSCRIPTION, status=503)

    xoxzo.list_subscriptions()  # GET, and a path the pattern does not match
    xoxzo.set_action_url(din_uid=din_uid, action_url="https://example.com/a/")  # POST

    fault.refresh_from_db()
    assert fault.remaining == 1


def test_it_applies_the_oldest_matching_fault_first(xoxzo):
    first = faults.sandbox_fault_add(method="*", path_pattern="^/voice/", status=503)
    second = faults.sandbox_fault_add(method="GET", path_pattern="^/voice/dins", status=503)

    xoxzo.search_dins()  # two 503s, then the third attempt succeeds

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.remaining, second.remaining) == (0, 0)


def test_it_does_not_spend_a_fault_on_an_unauthenticated_request(sandbox_url):
    faults.sandbox_fault_add(method="*", path_pattern=".", status=503)

    response = requests.get(sandbox_url + "/voice/dins/", auth=("nobody", "wrong"), timeout=5)

    assert response.status_code == 401
    assert SandboxFault.objects.get().remaining == 1


def test_it_marks_an_injected_answer(sandbox_url, settings):
    faults.sandbox_fault_add(method="GET", path_pattern="^/voice/calls/", status=502)
    auth = (settings.XOXZO_SID, settings.XOXZO_AUTH_TOKEN)

    response = requests.get(sandbox_url + "/voice/calls/nope", auth=auth, timeout=5)
    again = requests.get(sandbox_url + "/voice/calls/nope", auth=auth, timeout=5)

    assert response.status_code == 502
    assert response.json() == {"detail": "Injected sandbox fault: HTTP 502."}
    assert "X-Sandbox-Fault" in response.headers
    assert again.status_code == 404


@pytest.mark.parametrize(
    "options,field",
    [
        ({"method": "FETCH", "path_pattern": "x", "status": 500}, "method"),
        ({"method": "GET", "path_pattern": "(", "status": 500}, "path_pattern"),
        ({"method": "GET", "path_pattern": "", "status": 500}, "path_pattern"),
        ({"method": "GET", "path_pattern": "x", "status": 600}, "status"),
        ({"method": "GET", "path_pattern": "x"}, "status"),
        ({"method": "GET", "path_pattern": "x", "status": 500, "when": "during"}, "when"),
        ({"method": "GET", "path_pattern": "x", "delay_seconds": 61}, "delay_seconds"),
        ({"method": "GET", "path_pattern": "x", "status": 500, "times": 0}, "times"),
    ],
)
def test_it_refuses_a_fault_that_cannot_work(options, field):
    with pytest.raises(errors.SandboxValidationError) as error:
        faults.sandbox_fault_add(**options)

    assert field in error.value.errors
    assert not SandboxFault.objects.exists()


def test_it_clears_every_fault():
    faults.sandbox_fault_add(method="get", path_pattern="x", status=500)
    faults.sandbox_fault_add(method="*", path_pattern="y", delay_seconds=0.1, times=3)

    assert faults.sandbox_faults_clear() == 2
    assert not SandboxFault.objects.exists()
