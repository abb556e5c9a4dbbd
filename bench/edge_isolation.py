"""Do calls wait for the portal? Action-URL latency with the portal idle, then saturated.

Starts the shipped layout (``--layout launcher``: `make run` as shipped, SQLite, file broker,
sandbox; ``--layout production``: docs/deploy.md's layout behind nginx on PostgreSQL and
Redis), then rings the demo numbers one call at a time, as the carrier sends them, each on a
fresh connection, with a minimal raw-socket client (about 0.1 ms of its own):

1. idle: nothing else happens;
2. saturated: eight signed-in people load number search, dashboard, call log and CSV export as
   fast as they can, from another process.

It prints both distributions and their ratio, and, in the launcher layout, how many "Test
call" presses succeeded during the saturated phase (the page follows a task; the sandbox rings
the edge). The reference is the idle figure of the same run.

    .venv/bin/python bench/edge_isolation.py --layout launcher
    DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/dinportal \\
        .venv/bin/python bench/edge_isolation.py --layout production
"""

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from e2e import harness  # noqa: E402

TARGET_SATURATED_P99_MS = 50.0


def ring_raw(url: str, *, caller: str, din: str, timeout: float = 5.0) -> tuple[int, float]:
    """(HTTP status or 0, seconds) of one call on a fresh connection."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.urlencode({"caller": caller, "recipient": din})
    request = (
        f"GET {parts.path}?{query} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n"
    ).encode()
    started = time.perf_counter()
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
            sock.sendall(request)
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
    except OSError:
        return 0, time.perf_counter() - started
    elapsed = time.perf_counter() - started
    head = b"".join(chunks)[:12]
    return (int(head[9:12]) if head.startswith(b"HTTP/1.") else 0), elapsed


def ring_phase(numbers: dict[str, str], seconds: float) -> dict:
    items = list(numbers.items())
    latencies, failures = [], 0
    deadline = time.monotonic() + seconds
    index = 0
    while time.monotonic() < deadline:
        din, url = items[index % len(items)]
        index += 1
        status, elapsed = ring_raw(url, caller="+819012345678", din=din)
        if status == 200:
            latencies.append(elapsed * 1000)
        else:
            failures += 1
        time.sleep(0.005)  # one call at a time, as the carrier sends them
    return {
        "calls": len(latencies) + failures,
        "failed": failures,
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(harness.percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2),
    }


def test_calls_meanwhile(layout, stop: threading.Event, results: list) -> None:
    person = harness.PortalClient(layout.portal_url).sign_in(harness.OWNER_SAKURA)
    codes = person.number_codes()
    index = 0
    while not stop.is_set():
        results.append(person.test_call(codes[index % len(codes)])["status"])
        index += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layout", choices=["launcher", "production"], default="launcher")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="dinportal-bench-"))
    if args.layout == "launcher":
        layout = harness.Launcher(workdir)
    else:
        database = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dinportal")
        services = {
            "database_url": database.rsplit("/", 1)[0] + "/dinportal_bench_edge",
            "redis_url": "redis://127.0.0.1:6379/5",
            "broker_url": "redis://127.0.0.1:6379/6",
        }
        harness.reset_services(**services)
        layout = harness.ProductionLayout(workdir, **services)
    try:
        layout.start()
        carrier = harness.Carrier(layout)
        numbers = harness.wait_for(
            lambda: (found := carrier.numbers()) and len(found) == 6 and found,
            timeout=120,
            what="demo numbers",
        )
        ring_phase(numbers, 2)  # warm every edge process
        idle = ring_phase(numbers, args.seconds)
        stop, presses = threading.Event(), []
        with harness.Saturation(layout.portal_url, clients=args.clients) as load:
            pressing = None
            if args.layout == "launcher":
                pressing = threading.Thread(
                    target=test_calls_meanwhile, args=(layout, stop, presses), daemon=True
                )
                pressing.start()
            busy = ring_phase(numbers, args.seconds)
            stop.set()
            if pressing is not None:
                pressing.join(timeout=60)
    finally:
        layout.stop()
    result = {
        "layout": args.layout,
        "idle": idle,
        "saturated": busy,
        "p99_ratio_saturated_to_idle": round(busy["p99_ms"] / idle["p99_ms"], 2),
        "pages_loaded_meanwhile": load.pages,
        "page_errors": len(load.errors),
        "test_calls_meanwhile": {
            "pressed": len(presses),
            "succeeded": presses.count("done"),
        },
        "target_saturated_p99_ms": TARGET_SATURATED_P99_MS,
        "machine": f"{os.cpu_count()} cores",
    }
    print(json.dumps(result, indent=2))
    line = (
        f"{args.layout}: idle p50 {idle['p50_ms']} ms p99 {idle['p99_ms']} ms | "
        f"saturated p50 {busy['p50_ms']} ms p99 {busy['p99_ms']} ms "
        f"(x{result['p99_ratio_saturated_to_idle']}) | {load.pages} pages meanwhile"
    )
    if args.layout == "launcher":
        line += f" | test calls {presses.count('done')}/{len(presses)}"
    print(line)
    met = (
        busy["failed"] == 0
        and busy["p99_ms"] <= TARGET_SATURATED_P99_MS
        and presses.count("done") == len(presses)
    )
    print(
        f"verdict: {'MET' if met else 'MISSED'} (every call answered, saturated p99 "
        f"{busy['p99_ms']} ms ≤ {TARGET_SATURATED_P99_MS:g} ms, every Test call done)"
    )


if __name__ == "__main__":
    main()
