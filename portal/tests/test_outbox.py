"""The outbox: saved with the work, handed over after commit, swept when the broker is back."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from config.celery import app as celery_app
from portal.models import OutboxMessage
from portal.outbox import outbox_enqueue, outbox_prune, outbox_sweep
from testing.scaffolding import broker_unreachable

pytestmark = pytest.mark.django_db(transaction=True)

TASK = "portal.prune_invitations"  # a real task that needs no arguments


def test_a_message_is_handed_over_only_after_commit(task_queue):
    with transaction.atomic():
        message = outbox_enqueue(TASK, kwargs={})
        assert task_queue.names() == []
    assert task_queue.names() == [TASK]
    message.refresh_from_db()
    assert message.sent_at is not None and message.attempts == 1


def test_a_rolled_back_change_leaves_no_message(task_queue):
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox_enqueue(TASK, kwargs={})
        raise RuntimeError("the work failed")
    assert not OutboxMessage.objects.exists()
    assert task_queue.names() == []


@pytest.mark.real_broker
def test_a_broker_that_refuses_leaves_the_message_for_the_sweep():
    with broker_unreachable(celery_app):
        message = outbox_enqueue(TASK, kwargs={})  # no exception reaches the caller
        message.refresh_from_db()
        assert message.sent_at is None and message.attempts == 1
        assert "refused" in message.last_error.lower() or "111" in message.last_error

        # the next click, right after, does not try: the sweep will
        second = outbox_enqueue(TASK, kwargs={})
        second.refresh_from_db()
        assert second.sent_at is None and second.attempts == 0
        # a sweep while it is still down stops at the first failure and keeps the rest
        later = timezone.now() + timedelta(minutes=1)
        result = outbox_sweep(now=later)
        assert result.sent == [] and len(result.failed) == 2
        second.refresh_from_db()
        assert second.attempts == 0  # not tried in the same run after the first failed

    result = outbox_sweep(now=timezone.now() + timedelta(minutes=2))
    assert sorted(result.sent) == [message.pk, second.pk]
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()


def test_a_sweep_leaves_a_message_another_sweep_just_claimed(task_queue, settings):
    settings.OUTBOX_RETRY_AFTER_SECONDS = 10
    message = OutboxMessage.objects.create(task_name=TASK, kwargs={}, task_id="x" * 32)
    now = timezone.now() + timedelta(minutes=1)
    OutboxMessage.objects.filter(pk=message.pk).update(attempted_at=now - timedelta(seconds=2))
    assert outbox_sweep(now=now).sent == []
    assert outbox_sweep(now=now + timedelta(seconds=20)).sent == [message.pk]
    assert task_queue.names() == [TASK]


def test_old_handed_over_messages_are_pruned(task_queue):
    kept = outbox_enqueue(TASK, kwargs={})
    old = outbox_enqueue(TASK, kwargs={})
    unsent = OutboxMessage.objects.create(
        task_name=TASK, kwargs={}, task_id="u" * 32, created_at=timezone.now() - timedelta(days=30)
    )
    OutboxMessage.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    assert outbox_prune() == 1
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {kept.pk, unsent.pk}
