"""The outbox: work for the task queue is saved with the change that needs it, then handed over.

A click that saves a row and needs a task (subscribe, release, place a call) calls
``outbox_enqueue`` inside its transaction. The message is an ``OutboxMessage`` row, committed
or rolled back with the work itself, and is handed to the broker after commit by task name
(``app.send_task``), so that no service imports the task it starts. A broker that is down at
that moment costs the click well under a second and no 500: the message stays unsent, the
page says the work is queued, and ``outbox_sweep`` (beat, every minute, and once when a worker
starts) hands it over as soon as the broker is back. A broker that accepts connections and
never answers costs no more: the hand-over has a connection of its own with short socket
timeouts (``HAND_OVER_TIMEOUT_SECONDS``) and no retry, and after one failure a process's clicks
leave their messages to the sweep for ``BROKER_BACKOFF_SECONDS`` without trying at all.

A message may be handed over twice (the broker took it, then recording that failed); every
task started this way is idempotent, and both copies carry the same task id. A message with an
expiry that the broker could not take in time is given up instead of sent late:
``outbox_gave_up`` tells the app that owns the task, which records on its own row that the task
queue, not the carrier, was the cause.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from celery import current_app as app  # the project's app (config/celery.py)
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy

from portal.arrays import AnyOf
from portal.models import OutboxMessage

logger = logging.getLogger(__name__)

# Sent (sender=OutboxMessage) when a message expired before the broker took it, inside the
# transaction that marks it given up. Arguments: task_name, kwargs, subject, reason.
outbox_gave_up = Signal()

# A click waits this long at most for a broker that does not answer (refuses, or accepts and
# hangs): connecting, and each read or write; the sweep does the rest. A healthy Redis answers
# in a millisecond.
HAND_OVER_TIMEOUT_SECONDS = 0.25
# After a failed hand-over, clicks of this process do not try the broker for this long.
BROKER_BACKOFF_SECONDS = 5.0
_broker_away_until = 0.0
_HAND_OVER_TRANSPORT = {
    "socket_timeout": HAND_OVER_TIMEOUT_SECONDS,
    "socket_connect_timeout": HAND_OVER_TIMEOUT_SECONDS,
}
SWEEP_BATCH = 500
# What a page says after a click whose work was saved while the broker could not take it.
QUEUED_MESSAGE = gettext_lazy(
    "Saved and queued: the task queue cannot be reached right now. Your request goes ahead "
    "as soon as it is back; nothing is lost."
)
GAVE_UP_REASON = "the task queue (broker) could not be reached before the request expired"


def outbox_enqueue(
    task_name: str,
    *,
    kwargs: dict[str, Any],
    subject: str = "",
    expires_after: timedelta | None = None,
) -> OutboxMessage:
    """Save a message for ``task_name`` in the current transaction; hand it over after commit.

    ``subject`` names what the task works on (``"dins.subscription:12"``) for
    ``outbox_waiting``; ``expires_after`` gives up a message the broker could not take in time.
    """
    now = timezone.now()
    message = OutboxMessage.objects.create(
        task_name=task_name,
        kwargs=kwargs,
        task_id=uuid.uuid4().hex,
        subject=subject[:100],
        created_at=now,
        expires_at=now + expires_after if expires_after is not None else None,
    )
    transaction.on_commit(lambda: outbox_hand_over(message))
    return message


def outbox_enqueue_many(
    task_name: str,
    *,
    messages: list[tuple[dict[str, Any], str]],
    expires_after: timedelta | None = None,
) -> list[OutboxMessage]:
    """``outbox_enqueue`` for many messages of one task at once, each ``(kwargs, subject)``:
    one INSERT now, and after commit one hand-over each and one UPDATE for those handed over
    (the trial sweep claims thousands of trials in one run)."""
    if not messages:
        return []
    now = timezone.now()
    expires_at = now + expires_after if expires_after is not None else None
    rows = [
        OutboxMessage(
            task_name=task_name,
            kwargs=kwargs,
            task_id=uuid.uuid4().hex,
            subject=subject[:100],
            created_at=now,
            expires_at=expires_at,
        )
        for kwargs, subject in messages
    ]
    _insert(rows)
    transaction.on_commit(lambda: outbox_hand_over_many(rows))
    return rows


def _insert(rows: list[OutboxMessage]) -> None:
    """One INSERT. On PostgreSQL the columns go as arrays (``unnest``): six parameters for
    5,000 messages instead of 40,000, each prepared and parsed in this process."""
    if connection.vendor != "postgresql":
        OutboxMessage.objects.bulk_create(rows)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {OutboxMessage._meta.db_table} "  # noqa: S608 (the model's table)
            "(task_name, kwargs, task_id, subject, created_at, expires_at, attempts, last_error) "
            "SELECT *, 0, '' FROM unnest(%s::text[], %s::jsonb[], %s::text[], %s::text[], "
            "%s::timestamptz[], %s::timestamptz[])",
            [
                [row.task_name for row in rows],
                [json.dumps(row.kwargs) for row in rows],
                [row.task_id for row in rows],
                [row.subject for row in rows],
                [row.created_at for row in rows],
                [row.expires_at for row in rows],
            ],
        )


def outbox_hand_over_many(messages: list[OutboxMessage]) -> int:
    """Give ``messages`` to the broker now, on one connection, and record it in one UPDATE;
    never raises.

    The first hand-over that fails ends it (the broker is down or hung: the same short
    timeouts and back-off as ``outbox_hand_over``): that message records why, the others stay
    as they were, and the outbox sweep hands them all over later.
    """
    global _broker_away_until
    if time.monotonic() < _broker_away_until:
        return 0
    now = timezone.now()
    sent: list[str] = []
    try:
        with _broker() as connection:
            for message in messages:
                _send(connection, message.task_name, kwargs=message.kwargs, task_id=message.task_id)
                message.sent_at = now
                sent.append(message.task_id)
    except Exception as error:  # whatever the transport raises, the first unsent row keeps it
        _broker_away_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        waiting = [message for message in messages if message.sent_at is None]
        logger.warning(
            "outbox: %s not handed over (%d waiting): %s",
            messages[0].task_name,
            len(waiting),
            error,
        )
        if waiting:
            _record_by_task(
                [waiting[0].task_id],
                attempted_at=now,
                last_error=f"{type(error).__name__}: {error}"[:300],
            )
    else:
        _broker_away_until = 0.0
    if sent:
        _record_by_task(sent, attempted_at=now, last_error="", sent_at=now)
    return len(sent)


def _record_by_task(task_ids: list[str], **values: Any) -> None:
    try:
        OutboxMessage.objects.filter(AnyOf(F("task_id"), task_ids), sent_at__isnull=True).update(
            attempts=F("attempts") + 1, **values
        )
    except DatabaseError as error:
        # Sent but not recorded: the sweep sends them again, and the tasks are idempotent.
        logger.warning("outbox: could not record %d messages: %s", len(task_ids), error)


def send_after_commit(task_name: str, *, kwargs: dict[str, Any]) -> None:
    """Hand ``task_name`` to the broker after commit, without an outbox row; never raises.

    For work that a sweep derives again anyway (polling a call's status): a broker that is
    down loses nothing a later sweep would not redo.
    """

    def send() -> None:
        try:
            with _broker() as connection:
                _send(connection, task_name, kwargs=kwargs)
        except Exception as error:  # the next sweep sends it again
            logger.warning("%s not handed over: %s", task_name, error)

    transaction.on_commit(send)


def _broker():
    """A connection to the broker for handing over, with the short timeouts above."""
    return app.connection_for_write(
        transport_options=_HAND_OVER_TRANSPORT, connect_timeout=HAND_OVER_TIMEOUT_SECONDS
    )


def _send(connection, task_name: str, *, kwargs: dict, task_id: str | None = None) -> None:
    app.send_task(task_name, kwargs=kwargs, task_id=task_id, connection=connection, retry=False)


def outbox_hand_over(message: OutboxMessage, *, connection=None) -> bool:
    """Give ``message`` to the broker now and record the outcome; never raises.

    ``connection``: one the caller holds (the sweep hands a batch over on one connection, and
    tries whatever the last click saw). A click while the broker was just seen away does not
    try: the sweep hands it over.
    """
    global _broker_away_until
    if connection is None and time.monotonic() < _broker_away_until:
        return False
    now = timezone.now()
    try:
        if connection is not None:
            _send(connection, message.task_name, kwargs=message.kwargs, task_id=message.task_id)
        else:
            with _broker() as own:
                _send(own, message.task_name, kwargs=message.kwargs, task_id=message.task_id)
    except Exception as error:  # whatever the transport raises, the row keeps it
        logger.warning("outbox: %s not handed over: %s", message.task_name, error)
        _broker_away_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        _record(message, attempted_at=now, last_error=f"{type(error).__name__}: {error}"[:300])
        return False
    _broker_away_until = 0.0
    message.sent_at = now
    _record(message, attempted_at=now, last_error="", sent_at=now)
    return True


def _record(message: OutboxMessage, **values: Any) -> None:
    try:
        OutboxMessage.objects.filter(pk=message.pk, sent_at__isnull=True).update(
            attempts=F("attempts") + 1, **values
        )
    except DatabaseError as error:
        # Sent but not recorded: the sweep sends it again, and the task is idempotent.
        logger.warning("outbox: could not record message %s: %s", message.pk, error)


def outbox_waiting(subjects: Iterable[str]) -> set[str]:
    """Those of ``subjects`` with a message the broker has not taken yet."""
    subjects = list(subjects)
    if not subjects:
        return set()
    return set(
        OutboxMessage.objects.filter(
            subject__in=subjects, sent_at__isnull=True, given_up_at__isnull=True
        ).values_list("subject", flat=True)
    )


@dataclass
class OutboxSweepResult:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    given_up: list[int] = field(default_factory=list)


def outbox_sweep(*, now: datetime | None = None) -> OutboxSweepResult:
    """Hand over what the broker missed, oldest first; give up what expired.

    Each message is claimed by a compare-and-set on its lease (``attempted_at``), so two
    sweeps never hand over the same message at once. The first hand-over that fails ends the
    run: the broker is still down, the next run tries again.
    """
    now = now or timezone.now()
    result = OutboxSweepResult()
    quiet = now - timedelta(seconds=settings.OUTBOX_RETRY_AFTER_SECONDS)
    due = list(
        OutboxMessage.objects.filter(
            sent_at__isnull=True, given_up_at__isnull=True, created_at__lte=quiet
        )
        .filter(Q(attempted_at__isnull=True) | Q(attempted_at__lte=quiet))
        .order_by("created_at", "id")[:SWEEP_BATCH]
    )
    with contextlib.ExitStack() as stack:
        connection = stack.enter_context(_broker()) if due else None
        _sweep(due, result, now=now, connection=connection)
    return result


def _sweep(due: list[OutboxMessage], result: OutboxSweepResult, *, now, connection) -> None:
    for message in due:
        claimed = OutboxMessage.objects.filter(
            pk=message.pk,
            sent_at__isnull=True,
            given_up_at__isnull=True,
            attempted_at=message.attempted_at,
        ).update(attempted_at=now)
        if not claimed:
            continue  # another sweep has it
        if message.expires_at is not None and message.expires_at <= now:
            if _give_up(message, now=now):
                result.given_up.append(message.pk)
            continue
        if not result.failed and outbox_hand_over(message, connection=connection):
            result.sent.append(message.pk)
        else:
            result.failed.append(message.pk)
            if len(result.failed) > 1:  # not attempted: put its lease back for the next run
                OutboxMessage.objects.filter(pk=message.pk).update(
                    attempted_at=message.attempted_at
                )


def _give_up(message: OutboxMessage, *, now: datetime) -> bool:
    with transaction.atomic():
        changed = OutboxMessage.objects.filter(
            pk=message.pk, sent_at__isnull=True, given_up_at__isnull=True
        ).update(given_up_at=now, last_error=GAVE_UP_REASON)
        if changed:
            logger.warning(
                "outbox: gave up %s %s: %s", message.task_name, message.subject, GAVE_UP_REASON
            )
            outbox_gave_up.send(
                sender=OutboxMessage,
                task_name=message.task_name,
                kwargs=message.kwargs,
                subject=message.subject,
                reason=GAVE_UP_REASON,
            )
    return bool(changed)


def outbox_prune(*, now: datetime | None = None) -> int:
    """Forget messages handed over or given up more than ``OUTBOX_KEEP_DAYS`` ago."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.OUTBOX_KEEP_DAYS)
    done = Q(sent_at__isnull=False) | Q(given_up_at__isnull=False)
    old = OutboxMessage.objects.filter(done, created_at__lt=cutoff).values_list("pk", flat=True)
    deleted, _ = OutboxMessage.objects.filter(pk__in=list(old[: SWEEP_BATCH * 10])).delete()
    return deleted
