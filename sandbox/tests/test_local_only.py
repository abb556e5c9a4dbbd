"""The sandbox keeps to this machine: it answers loopback requests only, unless exposed, and
POSTs call results only to the portal it serves."""

import base64

import pytest

from portal.models import User
from sandbox import accounts, calls, errors
from sandbox.models import SandboxCall

pytestmark = pytest.mark.django_db

SID, TOKEN = "LOCALSID", "local-token"
OUTSIDE = {"REMOTE_ADDR": "203.0.113.5"}
PROXIED = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}


@pytest.fixture
def api(sandbox_client, settings):
    settings.XOXZO_SID, settings.XOXZO_AUTH_TOKEN = SID, TOKEN
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    auth = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()

    def get(path, **extra):
        return sandbox_client.get(path, HTTP_AUTHORIZATION=auth, **extra)

    return get


def test_it_answers_on_this_machine(api):
    assert api("/sandbox/voice/dins/").status_code == 200


@pytest.mark.parametrize("origin", [OUTSIDE, PROXIED], ids=["another address", "via a proxy"])
def test_it_refuses_requests_from_elsewhere(api, sandbox_client, origin):
    response = api("/sandbox/voice/dins/", **origin)
    assert response.status_code == 403
    assert "only on this machine" in response.content.decode()

    operator = User.objects.create_superuser(email="operator@example.com")
    sandbox_client.force_login(operator)
    assert sandbox_client.get("/sandbox/account/", **origin).status_code == 403


def test_it_answers_everyone_once_exposed_on_purpose(api, settings):
    settings.SANDBOX_EXPOSED = True
    assert api("/sandbox/voice/dins/", **OUTSIDE).status_code == 200


def test_the_portals_own_pages_are_not_affected(client, personas):
    client.force_login(personas.owner_a)
    assert client.get("/members/", **OUTSIDE).status_code == 200


@pytest.fixture
def account(settings):
    settings.XOXZO_SID = SID
    settings.PUBLIC_BASE_URL = "https://portal.example.com"
    return accounts.sandbox_account_get_or_create(sid=SID)


def _call(account, callbackurl):
    return calls.sandbox_call_start(
        account=account,
        params={
            "caller": "+14155550123",
            "recipient": "+818012345678",
            "tts_message": "hello",
            "tts_lang": "en",
            "callbackurl": callbackurl,
        },
    )


@pytest.mark.parametrize(
    "callbackurl",
    [
        "https://attacker.example/collect",
        "http://portal.example.com/c/token/",  # the right host, the wrong scheme
        "https://portal.example.com@attacker.example/c/token/",
        "https://portal.example.com.attacker.example/c/token/",
    ],
)
def test_it_refuses_a_callback_outside_the_portals_base_url(account, callbackurl):
    with pytest.raises(errors.SandboxValidationError) as caught:
        _call(account, callbackurl)

    assert "calls back only the portal it serves" in caught.value.errors["callbackurl"][0]
    assert not SandboxCall.objects.exists()


def test_it_accepts_a_callback_to_the_portal(account):
    call = _call(account, "https://portal.example.com/c/abc/")
    assert call.callbackurl == "https://portal.example.com/c/abc/"


def test_it_does_not_post_when_the_portal_moved_since_the_call_was_placed(account, settings):
    call = _call(account, "https://portal.example.com/c/abc/")
    settings.PUBLIC_BASE_URL = "https://portal.example.org"

    done = calls.sandbox_call_complete(callid=str(call.callid))

    assert done.callback_result == "refused: not the portal's address"
