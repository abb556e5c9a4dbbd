"""Concurrent subscribes against the sandbox's books (PostgreSQL: real row locks)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from sandbox import accounts, errors, faults, subscriptions
from sandbox.models import (
    SandboxAccount,
    SandboxDin,
    SandboxFault,
    SandboxLedgerEntry,
    SandboxSubscription,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row locks need PostgreSQL; SQLite serialises whole transactions",
    ),
]


def _run_together(*jobs) -> list:
    """Start the jobs at the same moment, each in its own thread and database session."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(index, job):
        barrier.wait()
        try:
            results[index] = job()
        except Exception as exc:  # the outcome is what the test compares
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.fixture
def setup(settings):
    settings.SANDBOX_INITIAL_BALANCE = 10_000
    subscriptions.sandbox_inventory_ensure()
    first = accounts.sandbox_account_get_or_create(sid="RACE-A")
    second = accounts.sandbox_account_get_or_create(sid="RACE-B")
    numbers = list(SandboxDin.objects.filter(prefix="50").order_by("din")[:6])
    return first, second, numbers


@pytest.mark.parametrize("attempt", range(3))
def test_it_gives_a_number_to_exactly_one_of_two_concurrent_subscribers(setup, attempt):
    first, second, numbers = setup
    din_uid = numbers[0].din_uid

    results = _run_together(
        lambda: subscriptions.sandbox_subscription_create(account=first, din_uid=din_uid),
        lambda: subscriptions.sandbox_subscription_create(account=second, din_uid=din_uid),
    )

    refused = [r for r in results if isinstance(r, errors.SandboxValidationError)]
    assert len(refused) == 1, results
    assert list(refused[0].errors) == ["din_uid"]
    assert SandboxSubscription.objects.filter(din__din_uid=din_uid).count() == 1
    charged = SandboxLedgerEntry.objects.filter(kind=SandboxLedgerEntry.Kind.SUBSCRIPTION)
    assert charged.count() == 1


def test_it_keeps_the_balance_exact_under_concurrent_charges(setup):
    first, _, numbers = setup

    results = _run_together(
        *[
            (
                lambda din_uid=number.din_uid: subscriptions.sandbox_subscription_create(
                    account=first, din_uid=din_uid
                )
            )
            for number in numbers
        ]
    )

    assert all(isinstance(result, SandboxSubscription) for result in results), results
    account = SandboxAccount.objects.get(pk=first.pk)
    assert account.balance == Decimal(10_000 - 650 * len(numbers))
    entries = SandboxLedgerEntry.objects.filter(account=account)
    assert sum(entry.amount for entry in entries) == account.balance
    balances_after = sorted(entries.values_list("balance_after", flat=True))
    assert len(set(balances_after)) == len(balances_after)  # every change saw the one before


@pytest.mark.parametrize("attempt", range(2))
def test_it_spends_a_fault_exactly_as_often_as_it_allows_under_concurrency(attempt):
    fault = faults.sandbox_fault_add(method="DELETE", path_pattern="^/voice/", status=503, times=3)

    results = _run_together(
        *[
            lambda: faults.sandbox_fault_claim(method="DELETE", path="/voice/dins/subscriptions/x/")
            for _ in range(8)
        ]
    )

    claimed = [result for result in results if result is not None]
    assert len(claimed) == 3, results
    assert all(result.pk == fault.pk for result in claimed)
    assert SandboxFault.objects.get().remaining == 0
