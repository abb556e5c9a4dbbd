"""POST /sandbox/internal/test-call/: the portal's "Test call" button, over real HTTP."""

import pytest
import requests
from django.conf import settings

from sandbox import accounts, incoming_calls, subscriptions
from sandbox.models import SandboxDin, SandboxIncomingCall

pytestmark = pytest.mark.django_db(transaction=True)

CALLER = "+819012345678"


@pytest.fixture
def din(sandbox_url, action_server) -> SandboxDin:
    account = accounts.sandbox_account_get_or_create(sid=settings.XOXZO_SID)
    subscriptions.sandbox_inventory_ensure()
    din = SandboxDin.objects.filter(prefix="50").first()
    subscriptions.sandbox_subscription_create(account=account, din_uid=din.din_uid)
    subscriptions.sandbox_subscription_set_action_url(
        account=account, din_uid=din.din_uid, action_url=action_server.url("/voicemail-say")
    )
    return din


def post(sandbox_url, data, auth="configured"):
    if auth == "configured":
        auth = (settings.XOXZO_SID, settings.XOXZO_AUTH_TOKEN)
    with requests.Session() as session:  # closed at once: no kept-alive server thread
        return session.post(sandbox_url + "/internal/test-call/", data=data, auth=auth, timeout=10)


def test_it_rings_the_number_and_answers_the_transcript(sandbox_url, din):
    response = post(sandbox_url, {"to": f"0{din.din[2:]}", "from": CALLER})

    assert response.status_code == 200
    body = response.json()
    call = SandboxIncomingCall.objects.get()
    assert body["call_id"] == str(call.call_id)
    assert body["transcript"] == call.transcript
    assert body["transcript"]["outcome"] == "voicemail"
    assert body["transcript"]["caller"] == CALLER
    assert body["text"].startswith(f"Incoming call from {CALLER} to {din.din}\n")
    assert "Outcome: voicemail" in body["text"]


def test_it_answers_200_for_a_failed_call(sandbox_url, din):
    response = post(sandbox_url, {"to": "+815099999999", "from": "anonymous"})

    assert response.status_code == 200
    body = response.json()
    assert body["transcript"]["outcome"] == "failed"
    assert body["transcript"]["failure_reason"] == "number not in service"
    assert body["transcript"]["caller"] == ""
    assert SandboxIncomingCall.objects.get().call_id.hex == body["call_id"].replace("-", "")


@pytest.mark.parametrize(
    "data,field",
    [
        ({"from": CALLER}, "to"),
        ({"to": "hello", "from": CALLER}, "to"),
        ({"to": "+815012345678", "from": "Alice"}, "from"),
        ({"to": "+815012345678", "from": "1" * 40}, "from"),
    ],
)
def test_it_answers_400_with_field_errors(sandbox_url, din, data, field):
    response = post(sandbox_url, data)

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert isinstance(response.json()[field][0], str)
    assert not SandboxIncomingCall.objects.exists()


@pytest.mark.parametrize("auth", [None, ("wrong", "credentials")])
def test_it_answers_401_without_the_sandbox_account(sandbox_url, din, auth):
    response = post(sandbox_url, {"to": f"+{din.din}", "from": CALLER}, auth=auth)

    assert response.status_code == 401
    assert "detail" in response.json()
    assert not SandboxIncomingCall.objects.exists()


def test_it_refuses_other_methods(sandbox_url, din):
    auth = (settings.XOXZO_SID, settings.XOXZO_AUTH_TOKEN)
    with requests.Session() as session:
        response = session.get(sandbox_url + "/internal/test-call/", auth=auth, timeout=5)

    assert response.status_code == 405


def test_it_never_answers_500(sandbox_url, din, monkeypatch):
    def broken(**options):
        raise RuntimeError("database is gone")

    monkeypatch.setattr(incoming_calls, "sandbox_incoming_call", broken)

    response = post(sandbox_url, {"to": f"+{din.din}", "from": CALLER})

    assert response.status_code == 200
    body = response.json()
    assert body["call_id"] is None
    assert body["transcript"]["outcome"] == "failed"
    assert body["transcript"]["failure_reason"] == "sandbox error: RuntimeError"
    assert "Outcome: failed: sandbox error: RuntimeError" in body["text"]
