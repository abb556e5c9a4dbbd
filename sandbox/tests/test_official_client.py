"""Xoxzo's own Python client (xoxzo.cloudpy, unmodified) against the live sandbox.

It builds its URLs as ``api_host + "/voice/…"`` and asks for ``/voice/calls/<callid>``
without a trailing slash; it treats only 200 and 201 as success.
"""

import pytest
from xoxzo.cloudpy import XoxzoClient as OfficialClient

from sandbox.tests.fixtures import SANDBOX_SID, SANDBOX_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)

MP3 = "http://media.example.com/sample.mp3"


@pytest.fixture
def official(sandbox_url) -> OfficialClient:
    return OfficialClient(SANDBOX_SID, SANDBOX_TOKEN, api_host=sandbox_url)


def test_it_serves_the_whole_number_lifecycle_to_the_official_client(official):
    before = official.get_subscription_list()
    dins = official.get_din_list("country=JP")
    din_uid = official.get_din_list("prefix=8150").messages[0]["din_uid"]

    subscribed = official.subscribe_din(din_uid=din_uid)
    listed = official.get_subscription_list()
    action = official.set_action_url(din_uid, "http://example.com/dummy_action")
    with_action = official.get_subscription_list()
    released = official.unsubscribe_din(din_uid)
    after = official.get_subscription_list()

    assert before.errors is None and before.messages == []
    assert dins.errors is None and "monthly_cost" in dins.messages[0]
    assert subscribed.errors is None
    assert [item["din_uid"] for item in listed.messages] == [din_uid]
    assert action.errors is None
    assert with_action.messages[0]["action"]["url"] == "http://example.com/dummy_action"
    assert released.errors is None
    assert after.messages == []


def test_it_serves_calls_and_their_status_to_the_official_client(official):
    mp3 = official.call_simple_playback("+14155550123", "+818012345678", MP3)
    tts = official.call_tts_playback("+14155550123", "+818012345678", "Hello", "en")

    callid = mp3.messages[0]["callid"]
    status = official.get_simple_playback_status(callid)  # no trailing slash

    assert mp3.errors is None and tts.errors is None
    assert "callid" in tts.messages[0]
    assert status.errors is None
    assert status.message["callid"] == callid
    assert status.message["status"] == "IN PROGRESS"
    assert set(status.message) == {
        "callid",
        "caller",
        "recipient",
        "start_time",
        "end_time",
        "duration",
        "cost",
        "status",
        "url",
    }


def test_it_gives_the_official_client_its_documented_errors(official, sandbox_url):
    bad_sid = OfficialClient("123", "456", api_host=sandbox_url).get_din_list()
    bad_recipient = official.call_simple_playback("+14155550123", "+8108012345678", MP3)
    unknown_call = official.get_simple_playback_status("dabd8e76-390f-421c-87b5-57f31339d0c5")
    unknown_param = official.get_din_list("foo=bar")
    unknown_din = official.subscribe_din(din_uid="JPnosuchnumber00")
    unknown_release = official.unsubscribe_din("JPnosuchnumber00")

    assert bad_sid.errors == 401 and "detail" in bad_sid.message
    assert bad_recipient.errors == 400 and "recipient" in bad_recipient.message
    assert unknown_call.errors == 404
    assert unknown_param.errors == 400 and "foo" in unknown_param.message
    assert unknown_din.errors == 400 and "din_uid" in unknown_din.message
    assert unknown_release.errors == 404
