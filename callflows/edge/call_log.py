"""The call log, written off the request path: an edge process buffers every answer and a
background thread writes them in batches (COPY on PostgreSQL), the rest when the process ends.

A row the database refuses on its own is dropped alone and counted; while the database is
away the rows wait (bounded); calls answered while nothing was known are looked up by their
token once it answers again. Operators hear of drops (``portal.platform``).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing.util
import threading
import time
import uuid
from collections import Counter

from django.conf import settings
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    ProgrammingError,
    close_old_connections,
    connection,
    transaction,
)
from django.utils import timezone

from callflows.flows.rules import Answer
from callflows.models import CallLog
from callflows.signals import calls_logged
from dins.models import Subscription
from portal.alerts import alert_raise
from portal.models import AlertKind, PlatformAlertKind
from portal.platform import platform_alert_raise
from portal.scoping import scopes_disabled

logger = logging.getLogger(__name__)


def _drop_connection() -> None:
    """A connection that failed is closed, so the next write reconnects."""
    with contextlib.suppress(DatabaseError):
        connection.close()


class CallLogBuffer:
    """Answers waiting to be written; a daemon thread flushes them in batches.

    Bounded: when the database stays down long enough to fill it, the oldest entries go (and
    say so in the log) rather than the process growing without limit. What it holds when the
    server stops the process is written before it exits (``flush_at_exit``).
    """

    FLUSH_SECONDS = 1.0
    MAX_ENTRIES = 20_000

    def __init__(self, *, background: bool = True):
        self.background = background  # tests flush by hand instead
        self._entries: list[dict] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0  # rows lost: refused by the database, or pushed out of a full buffer
        self._reported_dropped = 0
        self.unknown = 0  # fallback answers to tokens no number has (not calls to lose)
        self.unlogged_resolved = 0
        self._reported_unlogged = 0

    def append(
        self,
        compiled: dict,
        *,
        token: str,
        at,
        caller,
        recipient,
        answer: Answer,
        latency_us,
        is_test: bool = False,
    ):
        entry = {
            "tenant_id": compiled.get("tenant_id"),
            "subscription_id": compiled.get("subscription_id"),
            "flow_version": compiled.get("version"),
            "at": at,
            "caller": caller[:32],
            "recipient": recipient,
            "rule": answer.rule[:100],
            "command": answer.command[:1100],
            "source": answer.source,
            "latency_us": latency_us,
            "is_test": is_test,
        }
        if entry["subscription_id"] is None:
            # Answered by the plain fallback while nothing was known (the database did not
            # answer): the number is looked up by its token when the row is written.
            entry["token"] = token
        with self._lock:
            self._entries.append(entry)
            if len(self._entries) > self.MAX_ENTRIES:
                overflow = len(self._entries) - self.MAX_ENTRIES
                del self._entries[:overflow]
                self.dropped += overflow
        if self.background:
            self._ensure_thread()

    def _ensure_thread(self):
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="call-log-writer", daemon=True
                    )
                    self._thread.start()

    def _run(self):
        while True:
            self._wake.wait(self.FLUSH_SECONDS)
            self._wake.clear()
            try:
                close_old_connections()  # this thread's own connection, like a request's
                self.flush()
            except Exception:  # this thread must go on writing whatever happened
                logger.exception("call log: writing failed; the rows wait for the next try")

    def flush_at_exit(self) -> None:
        """Write what is buffered when this process ends (the server stopping it, SIGTERM).

        granian runs workers as multiprocessing children, which end through their exit
        finalizers rather than ``atexit``; other servers end through ``atexit``. Both are
        registered (the second call finds nothing left). SIGKILL cannot be caught: what was
        buffered then is lost, and counted nowhere but in its absence.
        """
        multiprocessing.util.Finalize(None, self._flush_for_exit, exitpriority=100)
        atexit.register(self._flush_for_exit)

    def _flush_for_exit(self) -> None:
        for _ in range(3):  # a database that is briefly away gets a second chance
            if not self.pending():
                return
            close_old_connections()
            self.flush()
            if self.pending():
                time.sleep(0.5)
        if self.pending():
            logger.error("call log: %d entries not written at exit", self.pending())

    def flush(self) -> int:
        """Write what is buffered; while the database is away, keep it for the next attempt.

        A row the database refuses on its own (its number deleted since the call, a value it
        cannot store) is dropped alone and counted; the rest of the batch is written. What
        was dropped is reported to operators once the database answers again.
        """
        with self._flush_lock:
            with self._lock:
                batch, self._entries = self._entries, []
            if not batch:
                return 0
            try:
                batch = self._resolve_numbers(batch)
                written = self._write(batch)
            except DatabaseError as error:  # the database is away (rows it refuses: _write)
                logger.warning("call log: %d entries wait, database error %s", len(batch), error)
                _drop_connection()
                with self._lock:
                    self._entries[:0] = batch
                return 0
        self._after_write(batch)
        return written

    def _resolve_numbers(self, batch: list[dict]) -> list[dict]:
        """Fill in the number of calls answered by the plain fallback (looked up by token)."""
        tokens = {entry["token"] for entry in batch if "token" in entry}
        if not tokens:
            return batch
        with scopes_disabled():
            numbers = {
                token: (tenant_id, pk)
                for token, tenant_id, pk in Subscription.objects.filter(
                    action_token__in=tokens
                ).values_list("action_token", "tenant_id", "pk")
            }
        kept = []
        for entry in batch:
            token = entry.pop("token", None)
            if token is not None:
                if token not in numbers:
                    self.unknown += 1  # a made-up token, answered while nothing was known
                    continue
                entry["tenant_id"], entry["subscription_id"] = numbers[token]
                self.unlogged_resolved += 1
            kept.append(entry)
        return kept

    def _write(self, batch: list[dict]) -> int:
        if not batch:
            return 0
        try:
            if connection.vendor == "postgresql":
                _copy_call_log(batch)
            else:
                with scopes_disabled():  # one batch holds calls of many tenants
                    CallLog.objects.bulk_create([CallLog(**e) for e in batch], batch_size=500)
        except (IntegrityError, DataError, ProgrammingError):
            return self._write_one_by_one(batch)
        return len(batch)

    def _after_write(self, batch: list[dict]) -> None:
        """Alerts, off the request path; a failure must not stop this writer thread."""
        try:
            if any(entry["source"] == "fallback" for entry in batch):
                alert_raise_for_fallback_calls(calls=batch)  # each company, once an hour
            calls_logged.send(sender=CallLog, calls=batch)  # e.g. the companies' webhooks
            dropped, self._reported_dropped = self.dropped - self._reported_dropped, self.dropped
            if dropped:
                platform_alert_raise(
                    kind=PlatformAlertKind.CALL_LOG_DROPPED,
                    count=dropped,
                    message=f"An edge process dropped {dropped} call-log row(s): the database "
                    "refused them or stayed away until its buffer was full.",
                )
            unlogged = self.unlogged_resolved - self._reported_unlogged
            if unlogged:
                self._reported_unlogged = self.unlogged_resolved
                platform_alert_raise(
                    kind=PlatformAlertKind.CALLS_UNLOGGED,
                    count=unlogged,
                    message=f"{unlogged} call(s) were answered by the plain fallback "
                    "(voicemail) while the database did not answer; they are in the call log.",
                )
        except Exception:
            logger.exception("call log: could not raise its alerts")

    def _write_one_by_one(self, batch: list[dict]) -> int:
        """A batch refused as a whole: keep every row the database takes, count the others."""
        written = 0
        with scopes_disabled():
            for entry in batch:
                try:
                    with transaction.atomic():
                        CallLog.objects.create(**entry)
                    written += 1
                except (IntegrityError, DataError, ProgrammingError) as error:
                    logger.warning("call log: a row was refused and dropped (%s)", error)
                    self.dropped += 1
        return written

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def pending(self) -> int:
        with self._lock:
            return len(self._entries)


_COPIED = (
    "tenant_id",
    "subscription_id",
    "flow_version",
    "at",
    "caller",
    "recipient",
    "rule",
    "command",
    "source",
    "latency_us",
    "is_test",
)


def _copy_call_log(batch: list[dict]) -> None:
    """The rows ``bulk_create`` would insert, by one COPY: about 7 µs of this process's CPU a
    row instead of 55 (the writer shares the GIL with the requests). All or nothing, like it."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in (*_COPIED, "code", "created_at", "updated_at"))
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
        sql = f"COPY {quote(CallLog._meta.db_table)} ({columns}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for entry in batch:
                copy.write_row((*(entry[name] for name in _COPIED), uuid.uuid4(), now, now))


call_log_buffer = CallLogBuffer(background=settings.CALL_LOG_BACKGROUND_FLUSH)


def alert_raise_for_fallback_calls(*, calls: list[dict]) -> list:
    """One alert per number among call-log entries answered by the fallback.

    Called by the call-log writer after it stored a batch (of many tenants), off the request
    path; the hourly de-duplication keeps a flow that keeps failing to one alert an hour.
    """
    counts = Counter(call["subscription_id"] for call in calls if call["source"] == "fallback")
    if not counts:
        return []
    with scopes_disabled():
        subscriptions = Subscription.objects.select_related("tenant").in_bulk(list(counts))
    raised = []
    for subscription_id, count in sorted(counts.items()):
        subscription = subscriptions.get(subscription_id)
        if subscription is None:
            continue  # the number was deleted since the call
        alert = alert_raise(
            kind=AlertKind.ACTION_URL_FALLBACK, subscription=subscription, context={"calls": count}
        )
        if alert is not None:
            raised.append(alert)
    return raised
