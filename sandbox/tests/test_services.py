"""The sandbox services on their own: inventory, outcomes, completion, callbacks."""

import re
import socket
from decimal import Decimal

import pytest
from django.core.management import call_command

from sandbox import accounts, calls, errors, inventory, subscriptions
from sandbox.models import SandboxCall, SandboxDin, SandboxLedgerEntry

US_CALLER = "+14155550123"
MP3 = "https://media.example.com/a.mp3"


@pytest.fixture
def account(settings):
    settings.XOXZO_SID = "SVCSID"
    settings.SANDBOX_INITIAL_BALANCE = 1_000
    return accounts.sandbox_account_get_or_create(sid="SVCSID")


def _call(account, **params) -> SandboxCall:
    return calls.sandbox_call_start(
        account=account,
        params={"caller": US_CALLER, "recipient": "+818012345678", "recording_url": MP3, **params},
    )


def test_it_builds_the_same_inventory_every_time():
    first, second = inventory.numbers(), inventory.numbers()

    assert first == second
    assert len({number.din for number in first}) == len(first)
    assert len({number.din_uid for number in first}) == len(first)
    assert all(re.fullmatch(r"[A-Z]{2}[a-z2-7]{14}", n.din_uid) for n in first)
    ip_phones = [n for n in first if n.prefix == "50"]
    assert all(len(n.din) == 12 and n.din.startswith("8150") for n in ip_phones)
    assert {n.country for n in first} == {"JP", "US", "GB"}


@pytest.mark.django_db
def test_it_seeds_the_inventory_once():
    added = subscriptions.sandbox_inventory_ensure()
    again = subscriptions.sandbox_inventory_ensure()

    assert added == len(inventory.numbers()) == SandboxDin.objects.count()
    assert again == 0


@pytest.mark.django_db
def test_it_seeds_from_the_management_command(capsys):
    call_command("sandbox_seed")

    assert SandboxDin.objects.count() == len(inventory.numbers())
    assert f"{len(inventory.numbers())} numbers added" in capsys.readouterr().out


@pytest.mark.django_db
def test_it_tops_up_from_the_management_command(settings, capsys):
    settings.XOXZO_SID = "CMDSID"
    settings.SANDBOX_INITIAL_BALANCE = 100

    call_command("sandbox_top_up", "250")

    assert "350.00" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("number", "digits"),
    [
        ("+815012345678", "815012345678"),
        ("815012345678", "815012345678"),
        ("05012345678", "815012345678"),
        ("+8105012345678", "815012345678"),
        ("+14155550123", None),
        ("4420712345678", None),
    ],
)
def test_it_recognises_japanese_numbers_in_every_spelling(number, digits):
    assert calls.japanese_number_digits(number) == digits


@pytest.mark.parametrize(
    ("recipient", "status"),
    [
        ("+818012340000", SandboxCall.Status.NO_ANSWER),
        ("+818012349999", SandboxCall.Status.FAILED),
        ("+818012345678", SandboxCall.Status.ANSWERED),
        ("+818012340001", SandboxCall.Status.ANSWERED),
    ],
)
def test_it_decides_the_outcome_by_the_recipient(recipient, status):
    assert calls.call_outcome_for(recipient) == status


@pytest.mark.django_db
def test_it_enqueues_the_completion_only_after_commit(
    account, enqueued_completions, django_capture_on_commit_callbacks, settings
):
    settings.SANDBOX_CALL_COMPLETION_DELAY = 7

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call = _call(account)
    assert enqueued_completions == []
    for callback in callbacks:
        callback()

    assert enqueued_completions == [{"kwargs": {"callid": str(call.callid)}, "countdown": 7}]


@pytest.mark.django_db
def test_it_ignores_a_completion_for_an_unknown_call():
    assert calls.sandbox_call_complete(callid="dabd8e76-390f-421c-87b5-57f31339d0c5") is None


@pytest.mark.django_db
def test_it_completes_a_call_once(account):
    call = _call(account)

    first = calls.sandbox_call_complete(callid=str(call.callid))
    end_time = first.end_time
    second = calls.sandbox_call_complete(callid=str(call.callid))

    assert first.status == SandboxCall.Status.ANSWERED
    assert second.end_time == end_time
    assert SandboxLedgerEntry.objects.filter(kind=SandboxLedgerEntry.Kind.CALL).count() == 1
    account.refresh_from_db()
    assert account.balance == Decimal(990)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db
def test_it_records_a_callback_that_could_not_be_delivered(account, settings):
    settings.PUBLIC_BASE_URL = f"http://127.0.0.1:{_closed_port()}"
    call = _call(account, callbackurl=f"{settings.PUBLIC_BASE_URL}/cb")

    done = calls.sandbox_call_complete(callid=str(call.callid))

    assert done.status == SandboxCall.Status.ANSWERED
    assert done.callback_sent_at is not None
    assert done.callback_result == "ConnectionError"


@pytest.mark.django_db
def test_it_does_not_call_back_a_second_time(account, callback_server):
    call = _call(account, callbackurl=callback_server.url)

    calls.sandbox_call_complete(callid=str(call.callid))
    calls.sandbox_call_complete(callid=str(call.callid))

    assert len(callback_server.received) == 1


@pytest.mark.django_db
def test_it_refuses_both_an_mp3_and_a_tts_message(account):
    with pytest.raises(errors.SandboxValidationError) as caught:
        _call(account, tts_message="hi", tts_lang="en")

    assert list(caught.value.errors) == ["non_field_errors"]


@pytest.mark.django_db
def test_it_refuses_a_call_with_neither_message(account):
    with pytest.raises(errors.SandboxValidationError) as caught:
        calls.sandbox_call_start(
            account=account, params={"caller": US_CALLER, "recipient": "+818012345678"}
        )

    assert list(caught.value.errors) == ["recording_url"]


@pytest.mark.django_db
def test_it_refuses_a_callback_url_that_is_not_http(account):
    with pytest.raises(errors.SandboxValidationError) as caught:
        _call(account, callbackurl="javascript:alert(1)")

    assert list(caught.value.errors) == ["callbackurl"]
    assert not SandboxCall.objects.exists()
