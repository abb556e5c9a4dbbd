"""The call log, written off the request path, each call once, none lost to load.

An edge process appends every answer to a buffer in memory (``append``: the hot path's only
work for the log). Every second a thread moves the buffer to this machine's journal
(``callflows.edge.journal``: files on local disk, fsynced); a writer thread moves journal files
into the database (COPY on PostgreSQL) and deletes each once committed. A database that hangs
or cannot keep up costs local disk, not call records; what a killed process left is written by
the next one to start. Every row carries its call's request id (the proxy's ``X-Request-Id``,
which survives its retries, else one of the edge's own), unique in the table: a request the
proxy retried on another edge instance, or a journal file written twice, is one row.

What a row means: the edge answered one carrier request for an action URL (the first answer
written for that request id). A batch the database refuses is written row by row: a row it
cannot store (its number deleted since the call, text it refuses) is dropped alone, counted
and reported to operators (``portal.platform``); one company's bad row never costs another's.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing.util
import threading
import time
import unicodedata
import uuid
from collections import Counter

from django.conf import settings
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.utils import timezone

from callflows.edge.journal import Journal
from callflows.flows.documents import CompiledFlow
from callflows.flows.rules import Answer
from callflows.models import CallLog
from callflows.signals import calls_logged
from dins.models import Subscription
from portal.alerts import alert_raise
from portal.models import AlertKind, PlatformAlertKind
from portal.platform import platform_alert_raise
from portal.scoping import scopes_disabled

logger = logging.getLogger(__name__)

# The database is away or hangs (connection refused, dropped, timed out): rows wait.
DATABASE_AWAY = (OperationalError, InterfaceError)
# Rows written to the database in one statement.
BATCH_ROWS = 5_000
# The journal is this full: operators hear of it before it fills.
JOURNAL_ALERT_RATIO = 0.5
# A process that stops writes what it can within this; the journal keeps the rest.
EXIT_DRAIN_SECONDS = 3.0


def _drop_connection() -> None:
    """A connection that failed is closed, so the next write reconnects."""
    with contextlib.suppress(DatabaseError):
        connection.close()


def _text(value: str) -> str:
    """Text a database stores: no NUL, no lone surrogate (a label stored before text was
    checked, a recipient the carrier passed on)."""
    if not value.isascii():
        value = value.encode("utf-8", "replace").decode("utf-8")
        value = "".join(ch for ch in value if unicodedata.category(ch) != "Cs")
    return value.replace("\x00", "")


def _storable(entry: dict) -> dict:
    for key in ("caller", "recipient", "rule", "command"):
        entry[key] = _text(entry[key])
    return entry


class CallLogBuffer:
    """Answers waiting to be written: in memory for a second, then in the journal on disk.

    Memory is bounded: should the journal's disk be full as well, the oldest entries go, and
    say so. What a process holds when the server stops it is journaled before it exits
    (``flush_at_exit``); SIGKILL loses at most the last second.
    """

    FLUSH_SECONDS = 1.0
    MAX_ENTRIES = 20_000

    def __init__(self, *, background: bool = True, journal: Journal):
        self.background = background  # tests flush by hand instead
        self.journal = journal
        self._entries: list[dict] = []
        self._lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self.dropped = 0  # rows lost: refused by the database, or pushed out of full memory
        self._reported_dropped = 0
        self.duplicates = 0  # rows of a request already logged (a proxy's retry)
        self._dropped_in_write = 0
        self.unknown = 0  # fallback answers to tokens no number has (not calls to lose)
        self.unlogged_resolved = 0
        self._reported_unlogged = 0

    # --- The hot path -------------------------------------------------------------------------

    def append(
        self,
        compiled: CompiledFlow | None,
        *,
        token: str,
        at,
        caller,
        recipient,
        answer: Answer,
        latency_us,
        is_test: bool = False,
        request_id: str | None = None,
    ):
        """Log one answered call; ``compiled`` is None when the fallback answered without a
        flow (none could be read in time)."""
        tenant_id = subscription_id = version = None
        if compiled is not None:
            tenant_id = compiled.get("tenant_id")
            subscription_id = compiled.get("subscription_id")
            version = compiled.get("version")
        entry = {
            "tenant_id": tenant_id,
            "subscription_id": subscription_id,
            "flow_version": version,
            "at": at,
            "caller": caller[:32],
            "recipient": recipient,
            "rule": answer.rule[:100],
            "command": answer.command[:1100],
            "source": answer.source,
            "latency_us": latency_us,
            "is_test": is_test,
            "request_id": request_id or uuid.uuid4().hex,
        }
        if entry["subscription_id"] is None:
            # Answered by the plain fallback while nothing was known (the database did not
            # answer): the number is looked up by its token when the row is written.
            entry["token"] = token
        overflow: list[dict] = []
        with self._lock:
            self._entries.append(entry)
            if len(self._entries) > self.MAX_ENTRIES:
                # A burst the journal thread cannot keep up with: to disk from here.
                overflow, self._entries = self._entries, []
        if overflow:
            self._journal_or_keep(overflow)
        if self.background:
            self._ensure_threads()

    # --- Memory → journal → database ------------------------------------------------------------

    def journal_now(self) -> int:
        """Move what memory holds to the journal; returns how many entries moved."""
        with self._lock:
            entries, self._entries = self._entries, []
        return len(entries) if self._journal_or_keep(entries) else 0

    def _journal_or_keep(self, entries: list[dict]) -> bool:
        if not entries or self.journal.write(entries):
            return True
        # The disk cannot take them (full, unwritable): memory keeps what it may.
        logger.error("call log: the journal cannot take %d entries; kept in memory", len(entries))
        with self._lock:
            self._entries[:0] = entries
            overflow = len(self._entries) - self.MAX_ENTRIES
            if overflow > 0:
                del self._entries[:overflow]
                self.dropped += overflow
        return False

    def drain(self, *, max_files: int | None = None) -> int:
        """Write journal files into the database, oldest first; returns rows written.

        Stops at the first sign that the database is away: the file goes back to the journal
        and waits for the next try.
        """
        written = 0
        with self._drain_lock:
            mine = self.journal.claimed_by_me()  # left by a write that did not finish
            files = 0
            while max_files is None or files < max_files:
                path = mine.pop(0) if mine else self.journal.claim()
                if path is None:
                    break
                try:
                    written += self._write_file(path)
                except DATABASE_AWAY as error:
                    logger.warning("call log: database away (%s); the rows wait", error)
                    self.journal.release(path)
                    _drop_connection()
                    return written
                files += 1
        return written

    def flush(self) -> int:
        """Journal what memory holds and write every journal file; returns rows written."""
        self.journal_now()
        return self.drain()

    def _write_file(self, path) -> int:
        entries = self.journal.read(path)
        written = 0
        for start in range(0, len(entries), BATCH_ROWS):
            batch = self._resolve_numbers(entries[start : start + BATCH_ROWS])
            inserted = self._write(batch)
            written += len(inserted)
            self.duplicates += len(batch) - len(inserted) - self._dropped_in_write
            self._after_write(inserted)
        self.journal.done(path)
        return written

    # --- Writing --------------------------------------------------------------------------------

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

    def _write(self, batch: list[dict]) -> list[dict]:
        """Insert ``batch``; the entries actually inserted (a request id already in the table
        is skipped). Anything but the database being away falls back to row by row."""
        self._dropped_in_write = 0
        batch = list({entry["request_id"]: _storable(entry) for entry in batch}.values())
        if not batch:
            return []
        try:
            return _insert(batch)
        except DATABASE_AWAY:
            raise
        except Exception as error:  # a row the database refuses, a value it cannot encode
            logger.warning("call log: a batch was refused (%s); writing it row by row", error)
            _drop_connection_if_broken()
            return self._write_one_by_one(batch)

    def _write_one_by_one(self, batch: list[dict]) -> list[dict]:
        """Keep every row the database takes; drop and count the others, alone. A row is
        dropped only while the database answers: a connection that broke keeps them all."""
        inserted = []
        for entry in batch:
            try:
                inserted += _insert([entry])
            except DATABASE_AWAY:
                raise
            except Exception as error:
                _drop_connection_if_broken()
                _ensure_database_answers()
                logger.warning("call log: a row was refused and dropped (%s)", error)
                self.dropped += 1
                self._dropped_in_write += 1
        return inserted

    def _after_write(self, batch: list[dict]) -> None:
        """Alerts and events, off the request path; a failure must not stop this thread."""
        try:
            if any(entry["source"] == "fallback" for entry in batch):
                alert_raise_for_fallback_calls(calls=batch)  # each company, once an hour
            if batch:
                calls_logged.send(sender=CallLog, calls=batch)  # e.g. the companies' webhooks
            dropped, self._reported_dropped = self.dropped - self._reported_dropped, self.dropped
            if dropped:
                platform_alert_raise(
                    kind=PlatformAlertKind.CALL_LOG_DROPPED,
                    count=dropped,
                    message=f"An edge process dropped {dropped} call-log row(s): the database "
                    "refused them, or both memory and the journal's disk were full.",
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
            used = self.journal.used_bytes()
            if used > JOURNAL_ALERT_RATIO * self.journal.max_bytes:
                platform_alert_raise(
                    kind=PlatformAlertKind.CALL_LOG_DROPPED,
                    subject="journal",
                    message=f"The call log's journal holds {used // 1024} KiB of "
                    f"{self.journal.max_bytes // 1024} KiB (CALL_LOG_JOURNAL_MAX_BYTES): the "
                    "database is not keeping up. Past the limit, call records are dropped.",
                )
        except Exception:
            logger.exception("call log: could not raise its alerts")

    # --- Threads ----------------------------------------------------------------------------------

    def _ensure_threads(self):
        for name, target in (
            ("call-log-journal", self._run_journal),
            ("call-log-writer", self._run_writer),
        ):
            thread = self._threads.get(name)
            if thread is None or not thread.is_alive():
                with self._lock:
                    thread = self._threads.get(name)
                    if thread is None or not thread.is_alive():
                        thread = threading.Thread(target=target, name=name, daemon=True)
                        self._threads[name] = thread
                        thread.start()

    def _run_journal(self):
        while True:
            time.sleep(self.FLUSH_SECONDS)
            try:
                self.journal_now()
            except Exception:  # this thread must go on whatever happened
                logger.exception("call log: journaling failed; the entries stay in memory")

    def _run_writer(self):
        while True:
            try:
                close_old_connections()  # this thread's own connection, like a request's
                written = self.drain()
            except Exception:  # this thread must go on writing whatever happened
                logger.exception("call log: writing failed; the journal keeps the rows")
                _drop_connection()
                written = 0
            if not written:
                time.sleep(self.FLUSH_SECONDS / 2)

    def flush_at_exit(self) -> None:
        """Journal what is buffered when this process ends (the server stopping it, SIGTERM),
        then write what the database takes now; the rest waits on disk for the next process.

        granian runs workers as multiprocessing children, which end through their exit
        finalizers rather than ``atexit``; other servers end through ``atexit``. Both are
        registered (the second call finds nothing left).
        """
        multiprocessing.util.Finalize(None, self._flush_for_exit, exitpriority=100)
        atexit.register(self._flush_for_exit)

    def _flush_for_exit(self) -> None:
        if not self.journal_now() and self.pending_in_memory():
            logger.error("call log: %d entries could not be journaled at exit", self.pending())
        if self._drain_lock.locked():
            return  # the writer thread is inside a write (a database that hangs): it waits
        # Write what the database takes within a few seconds; a database that hangs does not
        # hold the process's exit (the journal keeps the rest for the next process).
        drain = threading.Thread(target=self._drain_at_exit, name="call-log-exit", daemon=True)
        drain.start()
        drain.join(EXIT_DRAIN_SECONDS)

    def _drain_at_exit(self) -> None:
        with contextlib.suppress(Exception):
            close_old_connections()
            self.drain()

    # --- What waits ---------------------------------------------------------------------------

    def clear(self) -> None:
        """Forget everything this process holds and the machine's journal (tests)."""
        with self._lock:
            self._entries.clear()
        for path in self.journal._files(""):
            self.journal.done(path)

    def pending_in_memory(self) -> int:
        with self._lock:
            return len(self._entries)

    def pending(self) -> int:
        """Entries not written yet: in memory and in the journal."""
        waiting = self.pending_in_memory()
        for path in self.journal._files(""):
            with contextlib.suppress(OSError):
                waiting += len(self.journal.read(path))
        return waiting


def _ensure_database_answers() -> None:
    """Raise ``OperationalError`` unless the database answers a trivial query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:
        _drop_connection()
        raise OperationalError(f"the database does not answer: {error}") from error


def _drop_connection_if_broken() -> None:
    """After an error inside a transaction the connection may be unusable: start afresh."""
    if connection.needs_rollback or (
        connection.connection is not None and not connection.is_usable()
    ):
        _drop_connection()


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
    "request_id",
)


def _insert(batch: list[dict]) -> list[dict]:
    """Insert the rows whose request id the table does not hold yet; the entries inserted."""
    if connection.vendor == "postgresql":
        return _insert_by_copy(batch)
    with transaction.atomic(), scopes_disabled():  # one batch holds calls of many tenants
        ids = [entry["request_id"] for entry in batch]
        known: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = CallLog.objects.filter(request_id__in=ids[start : start + 500])
            known |= {found for found in chunk.values_list("request_id", flat=True) if found}
        fresh = [entry for entry in batch if entry["request_id"] not in known]
        CallLog.objects.bulk_create(
            [CallLog(**{name: entry[name] for name in _COPIED}) for entry in fresh],
            batch_size=500,
        )
    return fresh


def _insert_by_copy(batch: list[dict]) -> list[dict]:
    """The rows by one COPY into a temporary table, then one INSERT … ON CONFLICT DO NOTHING:
    about 7 µs of this process's CPU a row instead of 55 for bulk_create (the writer shares the
    GIL with the requests), and a request already logged is skipped, not an error."""
    quote = connection.ops.quote_name
    names = (*_COPIED, "code", "created_at", "updated_at")
    columns = ", ".join(quote(name) for name in names)
    table = quote(CallLog._meta.db_table)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
        # Our own table and column names, quoted: no input reaches these statements.
        create = (
            "CREATE TEMPORARY TABLE IF NOT EXISTS call_log_incoming ON COMMIT DELETE ROWS "  # noqa: S608
            f"AS SELECT {columns} FROM {table} WITH NO DATA"
        )
        insert = (
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM call_log_incoming "  # noqa: S608
            f"ON CONFLICT DO NOTHING RETURNING {quote('request_id')}"
        )
        cursor.execute(create)
        cursor.execute("TRUNCATE call_log_incoming")
        with cursor.cursor.copy(f"COPY call_log_incoming ({columns}) FROM STDIN") as copy:
            for entry in batch:
                copy.write_row((*(entry[name] for name in _COPIED), uuid.uuid4(), now, now))
        cursor.execute(insert)
        inserted = {row[0] for row in cursor.fetchall()}
    return [entry for entry in batch if entry["request_id"] in inserted]


call_log_buffer = CallLogBuffer(
    background=settings.CALL_LOG_BACKGROUND_FLUSH,
    journal=Journal(settings.CALL_LOG_JOURNAL_DIR, max_bytes=settings.CALL_LOG_JOURNAL_MAX_BYTES),
)


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
