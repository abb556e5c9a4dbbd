"""Billing of the sandbox carrier, driven through the portal's client over real HTTP."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dins.xoxzo import XoxzoValidationError
from sandbox import accounts
from sandbox.models import SandboxAccount, SandboxLedgerEntry
from sandbox.tasks import complete_call

pytestmark = pytest.mark.django_db(transaction=True)

START = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)


def _account() -> SandboxAccount:
    return SandboxAccount.objects.get()


def _kinds() -> list[str]:
    return list(SandboxLedgerEntry.objects.order_by("id").values_list("kind", flat=True))


def _assert_ledger_adds_up(account: SandboxAccount) -> None:
    entries = list(SandboxLedgerEntry.objects.filter(account=account).order_by("id"))
    assert sum(entry.amount for entry in entries) == account.balance
    assert entries[-1].balance_after == account.balance


def test_it_opens_the_account_with_the_configured_credit(xoxzo, settings):
    settings.SANDBOX_INITIAL_BALANCE = 12_345

    xoxzo.list_subscriptions()

    account = _account()
    assert account.balance == Decimal(12_345)
    assert _kinds() == [SandboxLedgerEntry.Kind.INITIAL_CREDIT]


def test_it_charges_the_monthly_cost_on_subscribing(xoxzo):
    number = xoxzo.search_dins(prefix="8150")[0]

    xoxzo.subscribe(din_uid=number.din_uid)

    account = _account()
    assert account.balance == Decimal(50_000 - 650)
    charge = SandboxLedgerEntry.objects.get(kind=SandboxLedgerEntry.Kind.SUBSCRIPTION)
    assert charge.amount == Decimal(-650)
    assert charge.subscription.din.din_uid == number.din_uid
    _assert_ledger_adds_up(account)


def test_it_refunds_down_to_the_24_hour_price_when_released_within_24_hours(xoxzo, time_machine):
    time_machine.move_to(START)
    number = xoxzo.search_dins(prefix="81120")[0]  # toll-free, 4,500 a month
    xoxzo.subscribe(din_uid=number.din_uid)

    time_machine.shift(timedelta(hours=23, minutes=59))
    xoxzo.unsubscribe(din_uid=number.din_uid)

    trial_price = Decimal("4500") * Decimal("0.05")
    account = _account()
    assert account.balance == Decimal(50_000) - trial_price
    refund = SandboxLedgerEntry.objects.get(kind=SandboxLedgerEntry.Kind.TRIAL_REFUND)
    assert refund.amount == Decimal(4500) - trial_price
    _assert_ledger_adds_up(account)


def test_it_keeps_the_whole_month_when_released_after_24_hours(xoxzo, time_machine):
    time_machine.move_to(START)
    number = xoxzo.search_dins(prefix="8150")[0]
    xoxzo.subscribe(din_uid=number.din_uid)

    time_machine.shift(timedelta(hours=24, minutes=1))
    xoxzo.unsubscribe(din_uid=number.din_uid)

    assert _account().balance == Decimal(50_000 - 650)
    assert SandboxLedgerEntry.Kind.TRIAL_REFUND not in _kinds()


def test_it_uses_the_configured_trial_price_ratio(xoxzo, settings):
    settings.SANDBOX_TRIAL_PRICE_RATIO = 0.5
    number = xoxzo.search_dins(prefix="8150")[0]
    xoxzo.subscribe(din_uid=number.din_uid)

    xoxzo.unsubscribe(din_uid=number.din_uid)

    assert _account().balance == Decimal(50_000 - 325)


def test_it_refuses_a_subscription_the_balance_cannot_pay(xoxzo, settings):
    settings.SANDBOX_INITIAL_BALANCE = 600
    number = xoxzo.search_dins(prefix="8150")[0]

    with pytest.raises(XoxzoValidationError) as caught:
        xoxzo.subscribe(din_uid=number.din_uid)

    assert list(caught.value.errors) == ["non_field_errors"]
    assert _account().balance == Decimal(600)
    assert xoxzo.list_subscriptions() == []
    assert number.din_uid in {n.din_uid for n in xoxzo.search_dins(prefix="8150")}


def test_it_charges_an_answered_call_once_per_started_minute(xoxzo, enqueued_completions):
    callid = xoxzo.simple_playback(
        caller="+14155550123",
        recipient="+818012345678",
        recording_url="https://media.example.com/a.mp3",
    )

    complete_call(callid=callid)
    complete_call(callid=callid)  # a redelivered task must not charge twice

    account = _account()
    assert account.balance == Decimal(50_000 - 10)
    [charge] = SandboxLedgerEntry.objects.filter(kind=SandboxLedgerEntry.Kind.CALL)
    assert charge.amount == Decimal(-10)
    assert str(charge.call.callid) == callid
    _assert_ledger_adds_up(account)


def test_it_lets_a_call_end_below_50_credits(xoxzo, settings):
    settings.SANDBOX_INITIAL_BALANCE = 55
    callid = xoxzo.simple_playback(
        caller="+14155550123",
        recipient="+818012345678",
        recording_url="https://media.example.com/a.mp3",
    )

    complete_call(callid=callid)

    assert _account().balance == Decimal(45)
    with pytest.raises(XoxzoValidationError):
        xoxzo.simple_playback(
            caller="+14155550123",
            recipient="+818012345678",
            recording_url="https://media.example.com/a.mp3",
        )


def test_it_tops_up_with_a_ledger_entry(xoxzo):
    xoxzo.list_subscriptions()

    accounts.sandbox_account_top_up(account=_account(), amount=Decimal("1000.50"))

    account = _account()
    assert account.balance == Decimal("51000.50")
    assert _kinds()[-1] == SandboxLedgerEntry.Kind.TOP_UP
    _assert_ledger_adds_up(account)
