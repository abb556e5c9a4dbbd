"""Bursts of simulated incoming calls for benchmarks: many calls at once through the engine
(``sandbox.incoming.simulate_incoming_call``), with their outcomes and action-URL latency."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from sandbox.incoming import OUTCOMES, Transcript, simulate_incoming_call

MAX_BURST_CONCURRENCY = 64


@dataclass(frozen=True)
class BurstResult:
    calls: int
    concurrency: int
    outcomes: dict[str, int]  # every outcome in OUTCOMES, zero included
    failure_reasons: dict[str, int]  # by reason, most frequent first
    wall_seconds: float
    calls_per_second: float
    # Latency of the first action-URL request of each call that got an HTTP answer.
    latency_samples: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    latency_max_ms: float | None
    transcripts: tuple[Transcript, ...] = ()  # only with keep_transcripts=True

    def as_dict(self) -> dict:
        return {
            "calls": self.calls,
            "concurrency": self.concurrency,
            "outcomes": dict(self.outcomes),
            "failure_reasons": dict(self.failure_reasons),
            "wall_seconds": self.wall_seconds,
            "calls_per_second": self.calls_per_second,
            "latency_samples": self.latency_samples,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p99_ms": self.latency_p99_ms,
            "latency_max_ms": self.latency_max_ms,
        }

    def format_text(self) -> str:
        outcomes = ", ".join(f"{name} {count}" for name, count in self.outcomes.items())
        lines = [
            f"{self.calls} calls, {self.concurrency} at a time, in {self.wall_seconds:.2f} s "
            f"({self.calls_per_second:.1f} calls/s)",
            f"Outcomes: {outcomes}",
        ]
        if self.latency_samples:
            lines.append(
                f"Action URL latency: p50 {self.latency_p50_ms:.2f} ms, "
                f"p99 {self.latency_p99_ms:.2f} ms, max {self.latency_max_ms:.2f} ms "
                f"({self.latency_samples} samples)"
            )
        lines.extend(
            f"  {count} failed: {reason}" for reason, count in self.failure_reasons.items()
        )
        return "\n".join(lines)


_CALL_KEYS = frozenset({"action_url", "caller", "recipient"})


def simulate_burst(
    calls: list[dict],
    concurrency: int,
    *,
    lookup_action_url: Callable[[str], str | None] = lambda number: None,
    timeout: float = 5.0,
    max_transfer_depth: int = 5,
    keep_transcripts: bool = False,
) -> BurstResult:
    """Run ``calls`` (dicts of action_url, caller, recipient) ``concurrency`` at a time.

    Threads, not processes: the engine waits on sockets almost all the time. Each worker
    thread keeps its own ``requests.Session`` (sessions are not thread-safe) so connections are
    reused as a carrier's would be. ``concurrency`` is capped at ``MAX_BURST_CONCURRENCY``.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    for index, call in enumerate(calls):
        unknown = set(call) - _CALL_KEYS
        missing = {"action_url", "recipient"} - set(call)
        if unknown or missing:
            raise ValueError(
                f"call {index}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}"
            )
    workers = min(concurrency, MAX_BURST_CONCURRENCY, max(1, len(calls)))
    local = threading.local()
    sessions: list[requests.Session] = []
    sessions_lock = threading.Lock()

    def session_for_this_thread() -> requests.Session:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            with sessions_lock:
                sessions.append(session)
        return session

    def one(call: dict) -> Transcript:
        return simulate_incoming_call(
            action_url=call["action_url"],
            caller=call.get("caller"),
            recipient=call["recipient"],
            lookup_action_url=lookup_action_url,
            http=session_for_this_thread(),
            timeout=timeout,
            max_transfer_depth=max_transfer_depth,
        )

    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox-call") as pool:
            transcripts = list(pool.map(one, calls))
    finally:
        for session in sessions:
            session.close()
    wall_seconds = time.monotonic() - started

    outcomes = {name: 0 for name in OUTCOMES}
    outcomes.update(Counter(transcript.outcome for transcript in transcripts))
    reasons = Counter(t.failure_reason for t in transcripts if t.outcome == "failed")
    latencies = sorted(
        t.action_url_latency_ms for t in transcripts if t.action_url_latency_ms is not None
    )
    return BurstResult(
        calls=len(calls),
        concurrency=workers,
        outcomes=outcomes,
        failure_reasons=dict(reasons.most_common()),
        wall_seconds=round(wall_seconds, 4),
        calls_per_second=round(len(calls) / wall_seconds, 1) if wall_seconds > 0 else 0.0,
        latency_samples=len(latencies),
        latency_p50_ms=percentile(latencies, 50),
        latency_p99_ms=percentile(latencies, 99),
        latency_max_ms=latencies[-1] if latencies else None,
        transcripts=tuple(transcripts) if keep_transcripts else (),
    )


def percentile(sorted_values: list[float], percent: float) -> float | None:
    """Nearest-rank percentile of already sorted values (no interpolation), None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]
