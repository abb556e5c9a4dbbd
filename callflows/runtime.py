"""The action URL's hot path: find the compiled flow for a token, answer, log off the path.

Layers, fastest first:

1. this process's memory: served with no I/O at all. Every ``STALE_SECONDS`` (the documented
   staleness window: a flow change reaches every process within it) one request reads the
   shared generation counter; while it is unchanged, nothing anywhere changed and every entry
   stays valid, however many numbers the process holds;
2. the shared ``flows`` cache (Redis in production): when the generation moved, an entry older
   than the window re-reads its own version stamp; a changed stamp brings the compiled flow;
3. the database: ``callflows.services.flow_build_for_token`` builds and stores it.

Whatever fails, a call gets an answer: the last known good flow of this process, else the
number's safe fallback (voicemail). Only an unknown or released token answers "not found".
Every answer is appended to an in-memory buffer that a background thread writes to the call
log in batches, so no database write sits on the request path.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from callflows import commands
from callflows.flow import Answer, caller_digits, evaluate
from portal.scoping import scopes_disabled

logger = logging.getLogger(__name__)

STALE_SECONDS = 2.0


@dataclass
class _Entry:
    compiled: dict | None
    stamp: str | None
    checked_at: float
    generation: str | None = None


class _Generation:
    """The shared generation counter as this process last read it (at most once a window).

    Every flow change bumps it (``services.flow_invalidate``), so a process holding thousands
    of flows in memory learns "nothing changed" with one shared-cache GET per window instead
    of one per number; when it did change, each entry revalidates its own stamp on its next
    call. If the shared cache is down the last value stands and memory keeps answering.
    """

    def __init__(self):
        self.value: str | None = None
        self.checked_at = float("-inf")

    def current(self) -> str | None:
        now = time.monotonic()
        if now - self.checked_at < STALE_SECONDS:
            return self.value
        self.checked_at = now  # one attempt per window, failed or not
        from callflows import services

        try:
            self.value = services.flow_cache().get(services.GENERATION_KEY)
        except Exception as error:  # serve what memory holds; try again next window
            logger.warning("action URL: shared flow cache unavailable (%s)", type(error).__name__)
        return self.value


_generation = _Generation()


_memory: dict[str, _Entry] = {}
_memory_lock = threading.Lock()


def _freeze(compiled: dict | None) -> dict | None:
    """Sets instead of lists where rules look things up (holidays, caller lists)."""
    if compiled is None:
        return None
    for rule in compiled["rules"]:
        when = rule["when"]
        for key in ("dates", "numbers", "weekdays"):
            if key in when:
                when[key] = frozenset(when[key])
    return compiled


def _load(token: str, entry: _Entry | None) -> _Entry:
    """Revalidate or fetch the entry for ``token``: shared cache first, else the database.

    A shared cache that fails is skipped (the database still answers, uncached); the caller
    handles a database that fails too.
    """
    from callflows import services

    cache = services.flow_cache()
    try:
        stamp = cache.get(services.stamp_key(token))
        if entry is not None and stamp is not None and stamp == entry.stamp:
            entry.checked_at = time.monotonic()
            return entry
        if stamp is not None:
            stored = cache.get(services.compiled_key(token))
            if stored is not None and stored["stamp"] == stamp:
                return _Entry(_freeze(stored["flow"]), stamp, time.monotonic())
        else:
            stamp = cache.get_or_set(services.stamp_key(token), uuid.uuid4().hex, None)
    except Exception as error:  # the shared cache is down: go to the database directly
        logger.warning("action URL: shared flow cache unavailable (%s)", type(error).__name__)
        return _Entry(_freeze(services.flow_build_for_token(token)), None, time.monotonic())
    compiled = services.flow_build_for_token(token)
    try:
        cache.set(services.compiled_key(token), {"stamp": stamp, "flow": compiled}, None)
    except Exception as error:  # serving it matters more than sharing it
        logger.warning("action URL: could not share a compiled flow (%s)", type(error).__name__)
    return _Entry(_freeze(compiled), stamp, time.monotonic())


def _drop_connection() -> None:
    """The bare WSGI path sends no request signals: reconnect on the next miss ourselves."""
    with contextlib.suppress(DatabaseError):
        connection.close()


def compiled_for(token: str) -> tuple[dict | None, str]:
    """(compiled flow or None, how it was found: "memory", "shared", "stale", "fallback")."""
    entry = _memory.get(token)
    generation = _generation.current()
    if entry is not None and (
        entry.generation == generation or time.monotonic() - entry.checked_at < STALE_SECONDS
    ):
        return entry.compiled, "memory"
    try:
        fresh = _load(token, entry)
    except Exception as error:  # the database too: answer from what this process knows
        logger.warning("action URL: flows unavailable (%s)", type(error).__name__)
        if isinstance(error, DatabaseError):
            _drop_connection()
        if entry is not None:
            entry.checked_at = time.monotonic()  # try the stores again after the window
            return entry.compiled, "stale"
        return {"fallback": True}, "fallback"
    fresh.generation = generation
    with _memory_lock:
        _memory[token] = fresh
    return fresh.compiled, "shared"


def answer(token: str, caller: str | None, recipient: str | None) -> Answer | None:
    """The line to answer for one incoming call, or None when the token is unknown."""
    started = time.perf_counter_ns()
    compiled, found = compiled_for(token)
    if compiled is None:
        return None
    now = datetime.now(UTC)
    if compiled.get("fallback"):
        result = Answer(commands.FALLBACK, "fallback", "fallback")
    else:
        try:
            result = evaluate(compiled, now, caller)
        except Exception:  # a flow that cannot be evaluated still answers
            logger.exception("action URL: flow evaluation failed")
            result = Answer(compiled.get("default") or commands.FALLBACK, "fallback", "fallback")
    if found == "stale" and result.source == "flow":
        result = Answer(result.command, result.rule, "stale")
    call_log_buffer.append(
        compiled,
        at=now,
        caller=caller_digits(caller),
        # NUL dropped: PostgreSQL refuses it, and one such row would hold back the whole batch.
        recipient=(recipient or "").replace("\x00", "")[:32],
        answer=result,
        latency_us=(time.perf_counter_ns() - started) // 1000,
    )
    return result


def forget_token(token: str) -> None:
    with _memory_lock:
        _memory.pop(token, None)


def forget_memory() -> None:
    """Drop this process's copies (tests; a real process relies on the staleness window)."""
    with _memory_lock:
        _memory.clear()
    _generation.checked_at = float("-inf")


# --- The call log, off the request path ------------------------------------------------------


class CallLogBuffer:
    """Answers waiting to be written; a daemon thread flushes them in batches.

    Bounded: when the database stays down long enough to fill it, the oldest entries go (and
    say so in the log) rather than the process growing without limit.
    """

    FLUSH_SECONDS = 1.0
    MAX_ENTRIES = 20_000

    def __init__(self, *, background: bool = True):
        self.background = background  # tests flush by hand instead
        self._entries: list[dict] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def append(self, compiled: dict, *, at, caller, recipient, answer: Answer, latency_us):
        if "subscription_id" not in compiled:
            return  # a pure fallback knows no number to log it under
        entry = {
            "tenant_id": compiled["tenant_id"],
            "subscription_id": compiled["subscription_id"],
            "flow_version": compiled.get("version"),
            "at": at,
            "caller": caller[:32],
            "recipient": recipient,
            "rule": answer.rule[:100],
            "command": answer.command[:1100],
            "source": answer.source,
            "latency_us": latency_us,
        }
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
        from django.db import close_old_connections

        while True:
            self._wake.wait(self.FLUSH_SECONDS)
            self._wake.clear()
            close_old_connections()  # this thread's own connection, like a request's
            self.flush()

    def flush(self) -> int:
        """Write what is buffered; on a database error keep it for the next attempt."""
        from callflows.models import CallLog

        with self._lock:
            batch, self._entries = self._entries, []
        if not batch:
            return 0
        try:
            if connection.vendor == "postgresql":
                _copy_call_log(batch)
            else:
                with scopes_disabled():  # one batch holds calls of many tenants
                    CallLog.objects.bulk_create([CallLog(**e) for e in batch], batch_size=500)
        except IntegrityError:
            written = self._write_one_by_one(batch)
        except DatabaseError as error:
            logger.warning("call log: %d entries wait, database error %s", len(batch), error)
            with self._lock:
                self._entries[:0] = batch
            return 0
        else:
            written = len(batch)
        # Alerts for calls the flow could not answer are raised here, off the request path
        # (at most one per number and hour); a failure must not stop this writer thread.
        if any(entry["source"] == "fallback" for entry in batch):
            from portal.alerts import alert_raise_for_fallback_calls

            try:
                alert_raise_for_fallback_calls(calls=batch)
            except Exception:
                logger.exception("call log: could not raise the fallback alerts")
        return written

    def _write_one_by_one(self, batch: list[dict]) -> int:
        """A batch refused as a whole (a number deleted since its call): keep what fits."""
        from callflows.models import CallLog

        written = 0
        with scopes_disabled():
            for entry in batch:
                try:
                    with transaction.atomic():
                        CallLog.objects.create(**entry)
                    written += 1
                except IntegrityError:
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
)


def _copy_call_log(batch: list[dict]) -> None:
    """The rows ``bulk_create`` would insert, by one COPY: about 7 µs of this process's CPU a
    row instead of 55 (the writer shares the GIL with the requests). All or nothing, like it."""
    from callflows.models import CallLog

    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in (*_COPIED, "code", "created_at", "updated_at"))
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
        sql = f"COPY {quote(CallLog._meta.db_table)} ({columns}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for entry in batch:
                copy.write_row((*(entry[name] for name in _COPIED), uuid.uuid4(), now, now))


call_log_buffer = CallLogBuffer(background=settings.CALL_LOG_BACKGROUND_FLUSH)
