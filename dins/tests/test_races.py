"""Keep against release, both at once, on real database connections (PostgreSQL locks)."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import RequestFactory

from dins.models import Subscription, SubscriptionStatus
from dins.subscriptions.request import subscription_keep, subscription_request
from dins.subscriptions.sweep import trial_sweep
from dins.tests.factories import SubscriptionFactory
from portal.scoping import scopes_disabled, tenant_scope
from portal.services import ServiceError

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row locks need PostgreSQL (CI runs it); SQLite serialises whole transactions",
    ),
]


def _race(subscription, user) -> tuple[bool, bool]:
    """Run keep and the sweep at the same instant; answer (keep won, sweep claimed it)."""
    barrier = threading.Barrier(2)
    outcome = {}
    request = RequestFactory().post("/")
    request.user = user

    def keep():
        barrier.wait()
        try:
            with tenant_scope(subscription.tenant):
                subscription_keep(subscription=subscription, request=request)
            outcome["keep"] = True
        except ServiceError:
            outcome["keep"] = False
        finally:
            connection.close()

    def sweep():
        barrier.wait()
        try:
            outcome["sweep"] = subscription.pk in trial_sweep().claimed
        finally:
            connection.close()

    threads = [threading.Thread(target=keep), threading.Thread(target=sweep)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcome["keep"], outcome["sweep"]


def test_it_lets_exactly_one_of_keep_and_release_win_every_time(personas, task_queue):
    winners = {"keep": 0, "release": 0}
    for _round in range(15):
        subscription = SubscriptionFactory(tenant=personas.tenant_a, trial=True)
        with time_machine.travel(subscription.release_at + timedelta(seconds=1), tick=True):
            kept, released = _race(subscription, personas.owner_a)
        subscription.refresh_from_db()
        # exactly one side won, and the row says the same as the side that won
        assert kept != released
        if kept:
            assert (subscription.status, subscription.is_trial) == (
                SubscriptionStatus.ACTIVE,
                False,
            )
            winners["keep"] += 1
        else:
            assert (subscription.status, subscription.is_trial) == (
                SubscriptionStatus.RELEASING,
                True,
            )
            winners["release"] += 1
        with scopes_disabled():
            Subscription.objects.filter(pk=subscription.pk).update(
                status=SubscriptionStatus.RELEASED
            )
    assert sum(winners.values()) == 15


def test_it_creates_one_subscription_when_two_people_click_at_once(
    personas, sandbox_url, xoxzo, task_queue
):
    din = xoxzo.search_dins(country="JP", prefix="8150")[0]
    barrier = threading.Barrier(2)
    results = []

    def click(user):
        barrier.wait()
        try:
            with tenant_scope(personas.tenant_a):
                results.append(subscription_request(din_uid=din.din_uid, is_trial=True, by=user))
        except ServiceError as error:
            results.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=click, args=(user,))
        for user in (personas.owner_a, personas.admin_a)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    with scopes_disabled():
        assert Subscription.objects.filter(din_uid=din.din_uid).count() == 1
    # both clicks land on the same subscription: nobody sees an error
    assert [r.pk for r in results if isinstance(r, Subscription)] == [results[0].pk] * 2
    assert task_queue.names() == ["dins.subscribe"]
