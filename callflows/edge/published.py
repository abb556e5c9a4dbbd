"""What an edge process knows of the published flows: memory, the watcher, the loader.

The edge only reads what ``callflows.flows.publishing`` wrote: a ``PublishedFlow`` row per
action token, holding the compiled flow (answer lines already rendered). It never compiles.

1. This process's memory (``FlowMemory``, bounded): a hit does no I/O at all. A watcher thread
   asks the database every ``WATCH_SECONDS`` which published flows changed in the last
   ``settings.FLOW_WATCH_LOOKBACK_SECONDS`` (by the database's own clock) and reloads the
   entries this process holds whose stamp moved. A change reaches every edge process within
   the documented window (``PUBLISH_WINDOW_SECONDS``), and none is lost to a missed message:
   the committed row *is* the publication. A watcher that could not look for longer than the
   lookback checks every entry it holds once it can again.
2. On a miss, one indexed read of the row, on a loader thread with a budget
   (``settings.EDGE_LOAD_BUDGET_SECONDS``): a database that hangs holds one call for at most the
   budget; while the loaders are stuck, cold calls get the fallback at once.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.db.models.functions import Now

from callflows.flows.documents import FALLBACK, CompiledFlow, Fallback
from callflows.models import PublishedFlow
from portal.scoping import scopes_disabled

logger = logging.getLogger(__name__)

WATCH_SECONDS = 1.0
# A published change is answered by every edge process within this (README, docs/deploy.md):
# one watch interval plus the time the watcher's query and reload take.
PUBLISH_WINDOW_SECONDS = 2.0
# Action tokens are ``secrets.token_urlsafe(24)``: anything else is refused before any I/O.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{32}")


@dataclass
class _Entry:
    compiled: CompiledFlow | None  # None: the token answers nothing (unknown, released, rotated)
    stamp: str | None


def _frozen(compiled: CompiledFlow | None) -> CompiledFlow | None:
    """Sets instead of lists where rules look things up (holidays, caller lists)."""
    if compiled is None:
        return None
    for rule in compiled["rules"]:
        when = rule["when"]
        if "dates" in when:
            when["dates"] = frozenset(when["dates"])
        if "numbers" in when:
            when["numbers"] = frozenset(when["numbers"])
        if "weekdays" in when:
            when["weekdays"] = frozenset(when["weekdays"])
    return compiled


# --- Reading published rows (the only database work of the edge) ----------------------------


def _rows(tokens: list[str]) -> dict[str, tuple[str, CompiledFlow | None]]:
    """token → (stamp, compiled) for the published rows of ``tokens``."""
    with scopes_disabled():
        rows = PublishedFlow.objects.filter(token__in=tokens).values_list(
            "token", "stamp", "compiled"
        )
        return {token: (stamp, compiled) for token, stamp, compiled in rows}


def _stamps_changed_lately() -> dict[str, str]:
    """token → stamp of every row published within the lookback, by the database's clock."""
    lookback = timedelta(seconds=settings.FLOW_WATCH_LOOKBACK_SECONDS)
    with scopes_disabled():
        rows = PublishedFlow.objects.filter(updated_at__gte=Now() - lookback)
        return dict(rows.values_list("token", "stamp"))


def _drop_connection() -> None:
    """A connection that failed is closed, so the next read reconnects."""
    with contextlib.suppress(DatabaseError):
        connection.close()


# --- This process's memory --------------------------------------------------------------------


class FlowMemory:
    """Published flows this process holds, least recently used out first.

    Tokens that answer nothing are held too (so a caller ringing a released number does not
    cost a database read per call), in their own smaller bound so that made-up tokens cannot
    push real flows out.
    """

    def __init__(self, *, max_flows: int, max_unknown: int):
        self.max_flows = max_flows
        self.max_unknown = max_unknown
        self._flows: OrderedDict[str, _Entry] = OrderedDict()
        self._unknown: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str, *, touch: bool = True) -> _Entry | None:
        entry = self._flows.get(token) or self._unknown.get(token)
        if touch and entry is not None and entry.compiled is not None:
            with contextlib.suppress(KeyError):
                self._flows.move_to_end(token)  # racing eviction: fine, it is reloaded
        return entry

    def put(self, token: str, entry: _Entry) -> None:
        with self._lock:
            self._flows.pop(token, None)
            self._unknown.pop(token, None)
            table, bound = (
                (self._flows, self.max_flows)
                if entry.compiled is not None
                else (self._unknown, self.max_unknown)
            )
            table[token] = entry
            while len(table) > bound:
                table.popitem(last=False)

    def stamps(self) -> dict[str, str | None]:
        with self._lock:
            return {
                token: entry.stamp
                for table in (self._flows, self._unknown)
                for token, entry in table.items()
            }

    def forget(self, token: str | None = None) -> None:
        with self._lock:
            if token is None:
                self._flows.clear()
                self._unknown.clear()
            else:
                self._flows.pop(token, None)
                self._unknown.pop(token, None)

    def __len__(self) -> int:
        return len(self._flows) + len(self._unknown)


memory = FlowMemory(
    max_flows=settings.EDGE_MEMORY_MAX_FLOWS, max_unknown=settings.EDGE_MEMORY_MAX_UNKNOWN
)


# Called with every compiled flow this process loads into memory, on the thread that loaded it
# (a loader or the watcher): ``callflows.edge.media`` reads ahead the MP3s it plays.
on_flow_loaded: list[Callable[[CompiledFlow], object]] = []


def _loaded(compiled: CompiledFlow | None) -> None:
    if compiled is None:
        return
    for hook in on_flow_loaded:
        try:
            hook(compiled)
        except Exception:  # reading ahead is an optimisation: never fails a load
            logger.exception("reading ahead for a published flow failed")


def _refresh(tokens: list[str]) -> int:
    """Reload ``tokens`` from the database into memory; returns how many entries changed."""
    changed = 0
    for start in range(0, len(tokens), 500):
        chunk = tokens[start : start + 500]
        rows = _rows(chunk)
        for token in chunk:
            stamp, compiled = rows.get(token, (None, None))
            memory.put(token, _Entry(_frozen(compiled), stamp))
            _loaded(compiled)
            changed += 1
    return changed


class Watcher:
    """Keeps this process's memory equal to what is published (a daemon thread per process)."""

    def __init__(self):
        self.last_success: float | None = None
        self.failures = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self.last_success = time.monotonic()  # memory is empty: nothing to catch up
                self._thread = threading.Thread(target=self._run, name="flow-watcher", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(WATCH_SECONDS)
            close_old_connections()  # this thread's own connection, as a request would
            self.poll()

    def poll(self) -> int:
        """One look at what was published lately; returns how many entries were reloaded."""
        started = time.monotonic()
        missed = (
            self.last_success is None
            or started - self.last_success > settings.FLOW_WATCH_LOOKBACK_SECONDS - WATCH_SECONDS
        )
        try:
            if missed:  # the lookback no longer covers the gap: check everything held
                stale = list(memory.stamps())
            else:  # only what changed: no work per number held
                stale = [
                    token
                    for token, stamp in _stamps_changed_lately().items()
                    if (entry := memory.get(token, touch=False)) is not None
                    and entry.stamp != stamp
                ]
            reloaded = _refresh(stale) if stale else 0
        except Exception as error:  # the database is away: memory keeps answering
            self.failures += 1
            if self.failures in (1, 10) or self.failures % 60 == 0:
                logger.warning("flow watcher: cannot read published flows (%s)", error)
            _drop_connection()
            return 0
        self.failures = 0
        self.last_success = started
        return reloaded

    def is_behind(self) -> bool:
        """True while the watcher has not managed to look for longer than the window."""
        return (
            self._thread is not None
            and self.last_success is not None
            and time.monotonic() - self.last_success > PUBLISH_WINDOW_SECONDS + WATCH_SECONDS
        )


watcher = Watcher()


class _DaemonPool:
    """Threads that run submitted reads; daemon threads, unlike ``ThreadPoolExecutor``'s, which
    Python joins at exit: a read stuck on a database that hangs must not hold a stopping edge
    process (what it had not written waits in the call log's journal)."""

    def __init__(self, threads: int, *, name: str):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, read, *args) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((read, args, future))
        return future

    def _run(self) -> None:
        while (work := self._queue.get()) is not None:
            read, args, future = work
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(read(*args))
            except BaseException as error:
                future.set_exception(error)

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop the threads once they have run what was submitted (tests wait for them)."""
        for _thread in self._threads:
            self._queue.put(None)
        if wait:
            for thread in self._threads:
                thread.join()


class Loader:
    """Reads for the edge within a budget: a published row for a call whose token is not in
    memory, an MP3 the carrier fetches that this process does not hold (``callflows.edge.media``).

    With loader threads (``settings.EDGE_LOADER_THREADS``, the edge's setting) the request
    thread waits at most the budget; a database (or storage) that hangs keeps the loaders busy,
    and while all of them are, further misses are answered at once (the fallback, a 503)
    without waiting. Without threads (tests) the read runs inline, in the test's transaction.
    """

    def __init__(self, threads: int):
        self.threads = threads
        self._pool = _DaemonPool(threads, name="flow-loader") if threads else None
        self._busy = 0
        self._lock = threading.Lock()

    def load(self, token: str) -> _Entry:
        """The entry for ``token``; raises ``LoadFailed`` when the database cannot say."""
        return self.call(self._read, token)

    def call(self, read, *args):
        """``read(*args)`` on a loader thread, within the budget; ``LoadFailed`` otherwise.
        ``read`` raises ``LoadFailed`` itself for what it could not read."""
        if self._pool is None:
            try:
                return read(*args)
            except LoadFailed:
                raise
            except Exception as error:
                raise LoadFailed(f"{type(error).__name__}: {error}") from None
        with self._lock:
            if self._busy >= self.threads:
                raise LoadFailed("every loader is waiting for the database")
            self._busy += 1
        future = self._pool.submit(self._counted, read, *args)
        try:
            return future.result(timeout=settings.EDGE_LOAD_BUDGET_SECONDS)
        except concurrent.futures.TimeoutError:
            raise LoadFailed("the database did not answer within the budget") from None

    def submit(self, read, *args) -> bool:
        """Start ``read(*args)`` on a loader thread and wait for nothing (reading ahead);
        False, and nothing started, while every loader is busy or there are no threads."""
        if self._pool is None:
            return False
        with self._lock:
            if self._busy >= self.threads:
                return False
            self._busy += 1
        self._pool.submit(self._counted, read, *args)
        return True

    def _counted(self, read, *args):
        try:
            close_old_connections()  # this loader thread's own connection
            return read(*args)
        except LoadFailed:
            raise
        except Exception as error:  # whatever a read raises, the caller hears LoadFailed
            raise LoadFailed(f"{type(error).__name__}: {error}") from None
        finally:
            with self._lock:
                self._busy -= 1

    @staticmethod
    def _read(token: str) -> _Entry:
        try:
            stamp, compiled = _rows([token]).get(token, (None, None))
        except Exception as error:
            _drop_connection()
            raise LoadFailed(f"database error {type(error).__name__}: {error}") from None
        entry = _Entry(_frozen(compiled), stamp)
        memory.put(token, entry)
        _loaded(compiled)
        return entry


class LoadFailed(Exception):
    pass


loader = Loader(settings.EDGE_LOADER_THREADS)


def compiled_for(token: str) -> tuple[CompiledFlow | Fallback | None, str]:
    """(compiled flow, ``FALLBACK`` when none could be read in time, or None when the token
    answers nothing; how it was found: "memory", "loaded", "stale", "fallback")."""
    if not TOKEN_SHAPE.fullmatch(token):
        return None, "malformed"
    entry = memory.get(token)
    if entry is not None:
        return entry.compiled, "stale" if watcher.is_behind() else "memory"
    try:
        entry = loader.load(token)
    except LoadFailed as error:
        logger.warning("action URL: published flows unavailable (%s)", error)
        return FALLBACK, "fallback"
    return entry.compiled, "loaded"


def forget_token(token: str) -> None:
    """Drop this process's copy of one token (the publisher, right after it committed)."""
    memory.forget(token)


def forget_memory() -> None:
    """Drop this process's copies (tests; a real process relies on the watcher)."""
    memory.forget()
