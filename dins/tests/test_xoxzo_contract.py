"""Contract tests: the portal's Xoxzo client against the sandbox carrier, over real HTTP.

Every endpoint of Xoxzo's API, its success and failure statuses and its error bodies. Where the
client cannot produce a request (an unknown query parameter, no credentials), plain
``requests`` calls the live sandbox directly.
"""

import re
from decimal import Decimal

import pytest
import requests

from dins.xoxzo import (
    CALL_ANSWERED,
    CALL_FAILED,
    CALL_IN_PROGRESS,
    CALL_NO_ANSWER,
    XoxzoAuthError,
    XoxzoClient,
    XoxzoNotFound,
    XoxzoValidationError,
)
from sandbox.models import SandboxAccount, SandboxCall, SandboxLedgerEntry
from sandbox.tasks import complete_call
from sandbox.tests.fixtures import SANDBOX_SID, SANDBOX_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)

MP3 = "https://media.example.com/greetings/hello-world_1.mp3"
US_CALLER = "+14155550123"


def _first_free(xoxzo, prefix: str):
    return xoxzo.search_dins(prefix=prefix)[0]


def _as_other_account(settings) -> None:
    """Switch the settings (hence client and sandbox alike) to a second account."""
    settings.XOXZO_SID = "SANDBOXOTHERSID00000000000000002"
    settings.XOXZO_AUTH_TOKEN = "other-token"


def _finish(enqueued, callid: str) -> None:
    """Run the completion the sandbox enqueued for ``callid``, as the worker would."""
    options = next(item for item in enqueued if item["kwargs"]["callid"] == callid)
    complete_call(**options["kwargs"])


# --- Authentication ---------------------------------------------------------------------------


def test_it_refuses_a_wrong_token_with_401_and_detail(xoxzo, sandbox_url):
    with (
        XoxzoClient(auth_token="not-the-token", sleep=lambda seconds: None) as wrong,
        pytest.raises(XoxzoAuthError) as caught,
    ):
        wrong.search_dins()
    response = requests.get(sandbox_url + "/voice/dins/", auth=(SANDBOX_SID, "wrong"), timeout=5)

    assert caught.value.status == 401
    assert response.status_code == 401
    assert set(response.json()) == {"detail"}
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert not SandboxAccount.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic !!!"}, {"Authorization": "Bearer abc"}],
)
def test_it_refuses_missing_or_malformed_credentials(sandbox_url, headers):
    response = requests.get(sandbox_url + "/voice/dins/subscriptions/", headers=headers, timeout=5)

    assert response.status_code == 401
    assert "detail" in response.json()


# --- Search -----------------------------------------------------------------------------------


def test_it_searches_numbers_by_country(xoxzo):
    japanese = xoxzo.search_dins(country="JP")
    everything = xoxzo.search_dins()

    assert japanese
    assert {number.country_code for number in japanese} == {"81"}
    assert {number.prefix for number in japanese} == {"50", "120", "800"}
    assert {number.country_code for number in everything} >= {"81", "1", "44"}
    for number in everything:
        assert re.fullmatch(r"[A-Z]{2}[a-z2-7]{14}", number.din_uid)
        assert number.din.isdigit()
        assert number.din.startswith(number.country_code + number.prefix)


def test_it_searches_numbers_by_prefix_including_the_country_code(xoxzo):
    ip_phones = xoxzo.search_dins(prefix="8150")
    toll_free = xoxzo.search_dins(prefix="81120")

    assert ip_phones and toll_free
    assert all(number.din.startswith("8150") and len(number.din) == 12 for number in ip_phones)
    assert {(n.monthly_cost, n.minute_cost) for n in ip_phones} == {(Decimal(650), Decimal(1))}
    assert all(n.monthly_cost > 650 and n.minute_cost > 1 for n in toll_free)


def test_it_answers_the_search_item_exactly_as_documented(sandbox_url, xoxzo):
    response = requests.get(
        sandbox_url + "/voice/dins/?prefix=8150", auth=(SANDBOX_SID, SANDBOX_TOKEN), timeout=5
    )

    item = response.json()[0]
    assert set(item) == {"country_code", "din", "din_uid", "minute_cost", "monthly_cost", "prefix"}
    assert item["monthly_cost"] == 650.0 and item["minute_cost"] == 1
    assert item["prefix"] == "50" and item["country_code"] == "81"


def test_it_refuses_an_unknown_query_parameter_with_400_by_name(sandbox_url):
    response = requests.get(
        sandbox_url + "/voice/dins/?country=JP&foo=bar",
        auth=(SANDBOX_SID, SANDBOX_TOKEN),
        timeout=5,
    )

    assert response.status_code == 400
    assert list(response.json()) == ["foo"]
    assert isinstance(response.json()["foo"], list)


def test_it_refuses_a_malformed_prefix_or_country(xoxzo):
    with pytest.raises(XoxzoValidationError) as caught:
        xoxzo.search_dins(country="Japan", prefix="81-50")

    assert set(caught.value.errors) == {"country", "prefix"}


# --- Subscriptions ----------------------------------------------------------------------------


def test_it_subscribes_lists_sets_the_action_url_and_unsubscribes(xoxzo):
    number = _first_free(xoxzo, "8150")

    xoxzo.subscribe(din_uid=number.din_uid)
    [subscription] = xoxzo.list_subscriptions()
    xoxzo.set_action_url(din_uid=number.din_uid, action_url="https://portal.example/a/t0k3n")
    [with_action] = xoxzo.list_subscriptions()
    xoxzo.unsubscribe(din_uid=number.din_uid)

    assert subscription.din_uid == number.din_uid
    assert subscription.din == number.din
    assert subscription.prefix == "50"
    assert subscription.action_url == ""
    assert subscription.subscribed_at is not None
    assert with_action.action_url == "https://portal.example/a/t0k3n"
    assert xoxzo.list_subscriptions() == []
    assert number.din_uid in {n.din_uid for n in xoxzo.search_dins(prefix="8150")}


def test_it_answers_201_to_subscribe_and_200_to_the_rest(sandbox_url, xoxzo):
    auth = (SANDBOX_SID, SANDBOX_TOKEN)
    base = sandbox_url + "/voice/dins/subscriptions/"
    din_uid = _first_free(xoxzo, "8150").din_uid

    created = requests.post(base, data={"din_uid": din_uid}, auth=auth, timeout=5)
    listed = requests.get(base, auth=auth, timeout=5)
    updated = requests.post(
        f"{base}{din_uid}/", data={"action_url": "https://a.example/x"}, auth=auth, timeout=5
    )
    deleted = requests.delete(f"{base}{din_uid}/", auth=auth, timeout=5)

    assert created.status_code == 201
    assert listed.status_code == 200
    assert listed.json()[0]["action"] == {"url": None}
    assert listed.json()[0]["din_uid"] == din_uid
    assert updated.status_code == 200
    assert updated.json()["action"] == {"url": "https://a.example/x"}
    assert deleted.status_code == 200


def test_it_hides_a_subscribed_number_from_everyone_and_refuses_it_as_taken(xoxzo, settings):
    number = _first_free(xoxzo, "8150")
    xoxzo.subscribe(din_uid=number.din_uid)

    _as_other_account(settings)
    visible_to_other = {n.din_uid for n in xoxzo.search_dins()}
    with pytest.raises(XoxzoValidationError) as caught:
        xoxzo.subscribe(din_uid=number.din_uid)

    assert number.din_uid not in visible_to_other
    assert caught.value.status == 400
    assert list(caught.value.errors) == ["din_uid"]
    assert xoxzo.list_subscriptions() == []


def test_it_refuses_a_number_the_account_already_holds(xoxzo):
    number = _first_free(xoxzo, "8150")
    xoxzo.subscribe(din_uid=number.din_uid)
    balance = SandboxAccount.objects.get().balance

    with pytest.raises(XoxzoValidationError) as caught:
        xoxzo.subscribe(din_uid=number.din_uid)

    assert list(caught.value.errors) == ["din_uid"]
    assert len(xoxzo.list_subscriptions()) == 1
    assert SandboxAccount.objects.get().balance == balance


@pytest.mark.parametrize("din_uid", ["JPdoesnotexist00", ""])
def test_it_refuses_an_unknown_or_missing_din_uid(xoxzo, din_uid):
    with pytest.raises(XoxzoValidationError) as caught:
        xoxzo.subscribe(din_uid=din_uid)

    assert list(caught.value.errors) == ["din_uid"]
    assert xoxzo.list_subscriptions() == []


def test_it_answers_404_for_unknown_or_foreign_subscriptions(xoxzo, settings):
    number = _first_free(xoxzo, "8150")
    xoxzo.subscribe(din_uid=number.din_uid)
    _as_other_account(settings)

    for attempt in (
        lambda: xoxzo.set_action_url(din_uid=number.din_uid, action_url="https://evil.example/"),
        lambda: xoxzo.unsubscribe(din_uid=number.din_uid),
        lambda: xoxzo.set_action_url(din_uid="JPnosuchnumber00", action_url="https://a.example"),
        lambda: xoxzo.unsubscribe(din_uid="JPnosuchnumber00"),
    ):
        with pytest.raises(XoxzoNotFound) as caught:
            attempt()
        assert caught.value.status == 404

    settings.XOXZO_SID, settings.XOXZO_AUTH_TOKEN = SANDBOX_SID, SANDBOX_TOKEN
    [still_mine] = xoxzo.list_subscriptions()
    assert still_mine.action_url == ""


def test_it_answers_404_to_a_second_unsubscribe(xoxzo):
    number = _first_free(xoxzo, "8150")
    xoxzo.subscribe(din_uid=number.din_uid)
    xoxzo.unsubscribe(din_uid=number.din_uid)

    with pytest.raises(XoxzoNotFound):
        xoxzo.unsubscribe(din_uid=number.din_uid)


def test_it_refuses_an_action_url_that_is_not_http(xoxzo):
    number = _first_free(xoxzo, "8150")
    xoxzo.subscribe(din_uid=number.din_uid)

    with pytest.raises(XoxzoValidationError) as caught:
        xoxzo.set_action_url(din_uid=number.din_uid, action_url="ftp://files.example/x")

    assert list(caught.value.errors) == ["action_url"]
    assert xoxzo.list_subscriptions()[0].action_url == ""


# --- Outbound calls ---------------------------------------------------------------------------


def test_it_places_an_mp3_call_that_ends_answered(xoxzo, enqueued_completions):
    callid = xoxzo.simple_playback(caller=US_CALLER, recipient="+818012345678", recording_url=MP3)
    during = xoxzo.call_status(callid=callid)
    _finish(enqueued_completions, callid)
    after = xoxzo.call_status(callid=callid)

    assert during.status == CALL_IN_PROGRESS and not during.is_final
    assert during.end_time is None
    assert during.url == MP3
    assert (during.caller, during.recipient) == (US_CALLER, "+818012345678")
    assert after.status == CALL_ANSWERED
    assert after.duration == 42
    assert after.cost == Decimal(10)
    assert after.end_time >= after.start_time
    assert enqueued_completions[0]["countdown"] > 0


def test_it_places_a_tts_call(xoxzo, enqueued_completions):
    callid = xoxzo.simple_playback(
        caller=US_CALLER, recipient="+447700900123", tts_message="Hello there", tts_lang="en"
    )
    _finish(enqueued_completions, callid)

    call = SandboxCall.objects.get(callid=callid)
    assert call.tts_message == "Hello there" and call.tts_lang == "en"
    assert xoxzo.call_status(callid=callid).status == CALL_ANSWERED


@pytest.mark.parametrize(
    ("recipient", "status"),
    [("+818012340000", CALL_NO_ANSWER), ("+818012349999", CALL_FAILED)],
)
def test_it_ends_unanswered_and_failed_calls_without_charge(
    xoxzo, enqueued_completions, recipient, status
):
    callid = xoxzo.simple_playback(caller=US_CALLER, recipient=recipient, recording_url=MP3)
    _finish(enqueued_completions, callid)

    result = xoxzo.call_status(callid=callid)
    assert result.status == status
    assert result.duration == 0
    assert result.cost == 0
    assert not SandboxLedgerEntry.objects.filter(kind=SandboxLedgerEntry.Kind.CALL).exists()


def test_it_posts_the_final_status_to_the_callback_url(
    xoxzo, enqueued_completions, callback_server
):
    callid = xoxzo.simple_playback(
        caller=US_CALLER,
        recipient="+818012345678",
        recording_url=MP3,
        callbackurl=callback_server.url,
    )
    assert callback_server.received == []

    _finish(enqueued_completions, callid)

    [posted] = callback_server.received
    assert posted["path"] == "/calls/done"
    assert posted["content_type"] == "application/x-www-form-urlencoded"
    assert posted["form"]["callid"] == callid
    assert posted["form"]["status"] == CALL_ANSWERED
    assert posted["form"]["duration"] == "42"
    assert SandboxCall.objects.get(callid=callid).callback_result == "HTTP 204"


def test_it_refuses_a_recipient_with_the_trunk_zero_after_the_country_code(xoxzo):
    with pytest.raises(XoxzoValidationError) as caught:
        xoxzo.simple_playback(caller=US_CALLER, recipient="+8108012345678", recording_url=MP3)

    assert list(caught.value.errors) == ["recipient"]
    assert not SandboxCall.objects.exists()


@pytest.mark.parametrize("recipient", ["08012345678", "818012345678", "+81 80 1234 5678", ""])
def test_it_refuses_a_recipient_not_in_e164_with_plus(xoxzo, recipient):
    with pytest.raises(XoxzoValidationError) as caught:
        xoxzo.simple_playback(caller=US_CALLER, recipient=recipient, recording_url=MP3)

    assert "recipient" in caught.value.errors


@pytest.mark.parametrize(
    "recording_url",
    [
        "https://media.example.com/greetings/hello world.mp3",
        "https://media.example.com/greetings/hello.wav",
        "https://media.example.com/greetings/héllo.mp3",
        "ftp://media.example.com/hello.mp3",
        "not a url",
    ],
)
def test_it_refuses_an_mp3_url_xoxzo_would_not_fetch(xoxzo, recording_url):
    with pytest.raises(XoxzoValidationError) as caught:
        xoxzo.simple_playback(
            caller=US_CALLER, recipient="+818012345678", recording_url=recording_url
        )

    assert list(caught.value.errors) == ["recording_url"]


def test_it_refuses_a_tts_language_other_than_ja_or_en(xoxzo):
    with pytest.raises(XoxzoValidationError) as caught:
        xoxzo.simple_playback(
            caller=US_CALLER, recipient="+818012345678", tts_message="Bonjour", tts_lang="fr"
        )

    assert list(caught.value.errors) == ["tts_lang"]


def test_it_reports_every_bad_field_at_once(sandbox_url):
    response = requests.post(
        sandbox_url + "/voice/simple/playbacks/",
        data={"caller": "0312345678", "recipient": "+8108012345678", "tts_message": "x"},
        auth=(SANDBOX_SID, SANDBOX_TOKEN),
        timeout=5,
    )

    assert response.status_code == 400
    assert set(response.json()) == {"caller", "recipient", "tts_lang"}
    assert all(isinstance(messages, list) for messages in response.json().values())


def test_it_refuses_an_outbound_call_under_50_credits(xoxzo, settings):
    settings.SANDBOX_INITIAL_BALANCE = 49
    _as_other_account(settings)  # a fresh account, opened with 49 credits

    with pytest.raises(XoxzoValidationError) as caught:
        xoxzo.simple_playback(caller=US_CALLER, recipient="+818012345678", recording_url=MP3)

    assert caught.value.status == 400
    assert list(caught.value.errors) == ["non_field_errors"]
    assert "50" in caught.value.errors["non_field_errors"][0]
    assert not SandboxCall.objects.exists()


def test_it_places_a_call_at_exactly_50_credits(xoxzo, settings):
    settings.SANDBOX_INITIAL_BALANCE = 50
    _as_other_account(settings)

    assert xoxzo.simple_playback(caller=US_CALLER, recipient="+818012345678", recording_url=MP3)


@pytest.mark.parametrize("caller", ["+815012345678", "05012345678", "0312345678"])
def test_it_refuses_a_japanese_caller_id_without_the_local_option(xoxzo, caller):
    with pytest.raises(XoxzoValidationError) as caught:
        xoxzo.simple_playback(caller=caller, recipient="+818012345678", recording_url=MP3)

    assert list(caught.value.errors) == ["caller"]


def test_it_refuses_an_own_japanese_din_as_caller_without_the_local_option(xoxzo):
    number = _first_free(xoxzo, "8150")
    xoxzo.subscribe(din_uid=number.din_uid)

    with pytest.raises(XoxzoValidationError) as caught:
        xoxzo.simple_playback(caller="+" + number.din, recipient="+818012345678", recording_url=MP3)

    assert list(caught.value.errors) == ["caller"]
    assert not SandboxCall.objects.exists()


def test_it_refuses_the_local_option_with_a_japanese_number_not_subscribed(xoxzo, settings):
    number = _first_free(xoxzo, "8150")
    _as_other_account(settings)
    xoxzo.subscribe(din_uid=number.din_uid)  # held, but by another account
    settings.XOXZO_SID, settings.XOXZO_AUTH_TOKEN = SANDBOX_SID, SANDBOX_TOKEN

    with pytest.raises(XoxzoValidationError) as caught:
        xoxzo.simple_playback(
            caller="+" + number.din,
            recipient="+818012345678",
            recording_url=MP3,
            local_caller_id=True,
        )

    assert list(caught.value.errors) == ["caller"]


def test_it_refuses_the_local_option_with_a_foreign_caller(xoxzo):
    with pytest.raises(XoxzoValidationError) as caught:
        xoxzo.simple_playback(
            caller=US_CALLER, recipient="+818012345678", recording_url=MP3, local_caller_id=True
        )

    assert list(caught.value.errors) == ["caller"]


@pytest.mark.parametrize("form", ["+{din}", "0{national}"])
def test_it_allows_an_own_japanese_din_as_caller_with_the_local_option(
    xoxzo, enqueued_completions, form
):
    number = _first_free(xoxzo, "8150")
    xoxzo.subscribe(din_uid=number.din_uid)
    caller = form.format(din=number.din, national=number.din[2:])

    callid = xoxzo.simple_playback(
        caller=caller, recipient="+818012345678", recording_url=MP3, local_caller_id=True
    )
    _finish(enqueued_completions, callid)

    assert xoxzo.call_status(callid=callid).cost == Decimal(15)  # local caller ID rate


def test_it_honours_the_configured_name_of_the_local_caller_id_option(xoxzo, settings):
    settings.XOXZO_LOCAL_CALLER_ID_PARAM = "jp_caller_option"
    number = _first_free(xoxzo, "8150")
    xoxzo.subscribe(din_uid=number.din_uid)

    callid = xoxzo.simple_playback(
        caller="+" + number.din, recipient="+818012345678", recording_url=MP3, local_caller_id=True
    )

    assert SandboxCall.objects.get(callid=callid).is_local_caller_id


def test_it_answers_404_for_unknown_malformed_and_foreign_callids(xoxzo, settings):
    callid = xoxzo.simple_playback(caller=US_CALLER, recipient="+818012345678", recording_url=MP3)

    for unknown in ("dabd8e76-390f-421c-87b5-57f31339d0c5", "not-a-uuid"):
        with pytest.raises(XoxzoNotFound):
            xoxzo.call_status(callid=unknown)
    _as_other_account(settings)
    with pytest.raises(XoxzoNotFound):
        xoxzo.call_status(callid=callid)


def test_it_answers_405_to_a_method_the_endpoint_lacks(sandbox_url):
    response = requests.put(
        sandbox_url + "/voice/dins/", auth=(SANDBOX_SID, SANDBOX_TOKEN), timeout=5
    )

    assert response.status_code == 405
    assert "detail" in response.json()


def test_it_answers_without_redirecting_whether_or_not_the_path_ends_in_a_slash(sandbox_url):
    options = {"auth": (SANDBOX_SID, SANDBOX_TOKEN), "allow_redirects": False}
    form = {"caller": US_CALLER, "recipient": "+818012345678", "recording_url": MP3}

    placed = requests.post(sandbox_url + "/voice/simple/playbacks", data=form, timeout=5, **options)
    callid = placed.json()[0]["callid"]
    without = requests.get(f"{sandbox_url}/voice/calls/{callid}", timeout=5, **options)
    with_slash = requests.get(f"{sandbox_url}/voice/calls/{callid}/", timeout=5, **options)

    assert placed.status_code == 201
    assert without.status_code == with_slash.status_code == 200
    assert without.json() == with_slash.json()
