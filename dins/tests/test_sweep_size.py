"""The trial sweep's cost follows nothing but a fixed plan: the same queries for 3 due trials
and for 40, every release handed to the task queue, none twice."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dins.models import Subscription, SubscriptionStatus
from dins.subscriptions.sweep import trial_sweep
from dins.tests.factories import SubscriptionFactory
from portal.models import OutboxMessage
from portal.scoping import scopes_disabled


def _due_trials(personas, count: int) -> list[Subscription]:
    trials = [
        SubscriptionFactory(
            tenant=personas.tenant_a if n % 2 else personas.tenant_b, trial=True, published=False
        )
        for n in range(count)
    ]
    with scopes_disabled():
        Subscription.objects.filter(pk__in=[t.pk for t in trials]).update(
            release_at=timezone.now() - timedelta(minutes=1)
        )
    return trials


def _sweep(django_capture_on_commit_callbacks):
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = trial_sweep()
    return result, [q["sql"] for q in queries]


@pytest.mark.parametrize("count", [3, 40])
def test_it_claims_and_hands_over_every_due_trial_in_a_fixed_number_of_queries(
    personas, task_queue, django_capture_on_commit_callbacks, count
):
    # given trials due for release in two companies, and numbers that are not due
    SubscriptionFactory.create_batch(5, tenant=personas.tenant_a, trial=True, published=False)
    SubscriptionFactory.create_batch(5, tenant=personas.tenant_a, published=False)
    due = _due_trials(personas, count)

    # when the sweep runs
    result, queries = _sweep(django_capture_on_commit_callbacks)

    # then each due trial is claimed once and its release handed to the task queue once
    assert sorted(result.claimed) == sorted(t.pk for t in due)
    assert sorted(kwargs["subscription_id"] for _task, _args, kwargs in task_queue.sent) == sorted(
        t.pk for t in due
    )
    with scopes_disabled():
        assert Subscription.objects.filter(status=SubscriptionStatus.RELEASING).count() == count
    messages = OutboxMessage.objects.filter(task_name="dins.release")
    assert messages.count() == count
    assert not messages.filter(sent_at__isnull=True).exists()
    # in the same queries whatever the count: one INSERT and one UPDATE for all the messages
    inserts = [q for q in queries if re.match(r'INSERT INTO "?portal_outboxmessage\b', q)]
    updates = [q for q in queries if re.match(r'UPDATE "?portal_outboxmessage\b', q)]
    assert len(inserts) == 1 and len(updates) == 1
    statements = [q for q in queries if not q.startswith(("SAVEPOINT", "RELEASE"))]
    assert len(statements) <= 12, statements


def test_its_queries_do_not_grow_with_the_due_trials(
    personas, task_queue, django_capture_on_commit_callbacks
):
    counts = []
    for count in (2, 30):
        _due_trials(personas, count)
        _result, queries = _sweep(django_capture_on_commit_callbacks)
        counts.append(len(queries))

    assert counts[0] == counts[1], counts


def test_a_broker_that_fails_mid_hand_over_leaves_the_rest_to_the_outbox_sweep(
    personas, task_queue, django_capture_on_commit_callbacks, monkeypatch
):
    from celery import Celery

    from portal.outbox import outbox_sweep

    due = _due_trials(personas, 5)
    handed = []

    def flaky(app, name, args=None, kwargs=None, **options):
        if len(handed) == 2:
            raise ConnectionRefusedError("broker gone")
        handed.append(kwargs["subscription_id"])

    monkeypatch.setattr(Celery, "send_task", flaky)

    _sweep(django_capture_on_commit_callbacks)

    messages = OutboxMessage.objects.filter(task_name="dins.release")
    assert messages.filter(sent_at__isnull=False).count() == 2
    assert messages.filter(sent_at__isnull=True).count() == 3
    assert messages.filter(last_error__contains="broker gone").count() == 1
    # and the outbox sweep hands over the rest once the broker is back
    monkeypatch.setattr(
        Celery,
        "send_task",
        lambda app, name, kwargs=None, **o: handed.append(kwargs["subscription_id"]),
    )
    later = timezone.now() + timedelta(minutes=5)
    assert len(outbox_sweep(now=later).sent) == 3
    assert sorted(handed) == sorted(t.pk for t in due)
