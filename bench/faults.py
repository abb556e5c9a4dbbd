"""Faults on docs/deploy.md's layout, caused for real, with what the carrier and people saw.

Starts the production layout (nginx, the portal, two edge instances of two workers each, a
worker and beat, PostgreSQL and Redis through relays a drill makes hang, media in an
S3-compatible bucket) and runs:

1. ``db-hang``: every demo number plays an MP3; the carrier calls at ``--rate`` calls a second
   (each call: the action URL, then the MP3 it names), and PostgreSQL hangs for 8 s in the
   middle. Prints failed calls and MP3s, the action URL's p50/p99 before, during and after.
   Verdict: 0 failed, p99 during the hang within ``EDGE_LOAD_BUDGET_SECONDS`` + 100 ms.
2. ``redis-hang``: Redis accepts connections and answers nothing for ``--redis-seconds``;
   meanwhile a person places an outbound call every 10 s. Prints each click's time and how
   long after Redis answered again every call was done. Verdict: every click < 1 s, all done.
3. ``burst``: the carrier calls as fast as ``--burst-clients`` clients can for
   ``--burst-seconds`` (the database cannot keep up with single rows): calls answered against
   call-log rows written once the journal drained. Verdict: equal.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dinportal .venv/bin/python bench/faults.py
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from e2e import harness  # noqa: E402

BUDGET_MS = 1000  # EDGE_LOAD_BUDGET_SECONDS, the default


def _ms(values: list[float]) -> str:
    if not values:
        return "no calls"
    return (
        f"p50 {statistics.median(values):.1f} ms, p99 {harness.percentile(values, 99):.1f} ms, "
        f"max {max(values):.1f} ms"
    )


def _play_mp3s(layout) -> None:
    """Every demo number's flow plays an MP3, saved on its page as its owner would."""
    for owner in (harness.OWNER_SAKURA, harness.OWNER_HARBOR):
        person = harness.PortalClient(layout.portal_url).sign_in(owner)
        for code in person.number_codes():
            page = person.get(f"/numbers/{code}/flow/").text
            audio = re.findall(r'<option value="([0-9a-f-]{36})"', page)[0]
            person.post(
                f"/numbers/{code}/flow/",
                {
                    "rules-TOTAL_FORMS": "0",
                    "rules-INITIAL_FORMS": "0",
                    "rules-MIN_NUM_FORMS": "0",
                    "rules-MAX_NUM_FORMS": "30",
                    "default-action": "playback",
                    "default-audio": audio,
                    "default-greeting": "",
                },
                allow_redirects=False,
            )


def _paced(numbers: dict[str, str], *, rate: float, seconds: float, mp3: bool) -> dict:
    """Calls at ``rate`` a second for ``seconds`` (each on its slot, whatever the last did)."""
    items = list(numbers.items())
    total = int(rate * seconds)
    started = time.monotonic()
    results: list[tuple[float, bool, float, bool]] = []
    lock = threading.Lock()

    def one(index: int) -> None:
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        din, url = items[index % len(items)]
        call = harness.Carrier.ring(url, caller="+819012345678", din=din)
        played = True
        if mp3 and call.answered and call.body.startswith("playback "):
            try:
                fetched = requests.get(
                    call.body.split()[1], timeout=5, headers={"Connection": "close"}
                )
                played = fetched.status_code == 200
            except requests.RequestException:
                played = False
        with lock:
            results.append((index / rate, call.answered, call.seconds * 1000, played))

    with ThreadPoolExecutor(max_workers=64) as pool:
        list(pool.map(one, range(total)))
    return {"results": sorted(results)}


def db_hang(layout, numbers, rate: float) -> bool:
    _play_mp3s(layout)
    time.sleep(3)  # every edge process has the new flows (and their MP3s, read ahead)
    _paced(numbers, rate=rate, seconds=4, mp3=True)  # warm each process's copies
    hang_at, hang_for, total = 6.0, 8.0, 20.0
    timer = threading.Timer(hang_at, layout.database_relay.pause)
    resume = threading.Timer(hang_at + hang_for, layout.database_relay.resume)
    timer.start()
    resume.start()
    run = _paced(numbers, rate=rate, seconds=total, mp3=True)["results"]
    resume.join()
    during = [ms for at, ok, ms, _ in run if hang_at <= at < hang_at + hang_for and ok]
    before = [ms for at, ok, ms, _ in run if at < hang_at and ok]
    after = [ms for at, ok, ms, _ in run if at >= hang_at + hang_for and ok]
    failed = sum(1 for _at, ok, _ms, _ in run if not ok)
    unplayed = sum(1 for _at, ok, _ms, played in run if ok and not played)
    print(f"db-hang: {len(run)} calls at {rate:g}/s, PostgreSQL hung {hang_for:g} s")
    print(f"  failed calls {failed}, MP3s not played {unplayed}")
    print(f"  before: {_ms(before)}")
    print(f"  during: {_ms(during)}")
    print(f"  after:  {_ms(after)}")
    met = (
        failed == 0
        and unplayed == 0
        and during
        and harness.percentile(during, 99) <= BUDGET_MS + 100
    )
    print(f"  verdict: {'MET' if met else 'MISSED'} (0 failed, p99 within budget + 100 ms)")
    return bool(met)


def redis_hang(layout, seconds: float) -> bool:
    person = harness.PortalClient(layout.portal_url).sign_in(harness.OWNER_HARBOR)
    code = person.number_codes()[0]
    form = f"/numbers/{code}/calls/new/"
    clicks: list[float] = []
    layout.redis_relay.pause()
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.monotonic()
            response = person.post(
                form,
                {
                    "recipient": "+819012345678",
                    "message_kind": "text",
                    "text": "Your parcel arrives today.",
                    "tts_lang": "en",
                },
                page=form,
                timeout=60,
            )
            clicks.append(time.monotonic() - started)
            assert response.status_code == 200, response.status_code
            time.sleep(max(0.0, 10 - (time.monotonic() - started)))
    finally:
        layout.redis_relay.resume()
    back = time.monotonic()

    def done():
        page = person.get(f"/numbers/{code}/outbound/").text
        return page.count('data-status="answered"') >= len(clicks)

    harness.wait_for(done, timeout=300, interval=0.5, what="every call done")
    settled = time.monotonic() - back
    print(f"redis-hang: Redis hung {seconds:g} s; {len(clicks)} clicks")
    slowest, typical = max(clicks) * 1000, statistics.median(clicks) * 1000
    print(f"  click time: max {slowest:.0f} ms, p50 {typical:.0f} ms")
    print(f"  every call placed and answered {settled:.1f} s after Redis answered again")
    met = max(clicks) < 1.0
    print(f"  verdict: {'MET' if met else 'MISSED'} (every click < 1 s, all work done)")
    return met


def burst(layout, numbers, clients: int, seconds: float) -> bool:
    time.sleep(3)
    before = layout.count_call_log()
    answered = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    items = list(numbers.items())

    def caller(offset: int) -> None:
        index = offset
        while time.monotonic() < stop:
            din, url = items[index % len(items)]
            index += 1
            if harness.Carrier.ring(url, caller="+819012345678", din=din).answered:
                with lock:
                    answered[0] += 1

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = 0
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        rows = layout.count_call_log() - before
        if rows >= answered[0]:
            break
        time.sleep(2)
    print(
        f"burst: {clients} clients for {seconds:g} s: {answered[0]} calls answered "
        f"({answered[0] / seconds:.0f}/s), {rows} call-log rows written"
    )
    met = rows == answered[0]
    print(f"  verdict: {'MET' if met else 'MISSED'} (rows = calls answered)")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drills", default="db-hang,redis-hang,burst")
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--redis-seconds", type=float, default=120)
    parser.add_argument("--burst-clients", type=int, default=32)
    parser.add_argument("--burst-seconds", type=float, default=30)
    args = parser.parse_args()
    database = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dinportal")
    services = {
        "database_url": database.rsplit("/", 1)[0] + "/dinportal_bench_faults",
        "redis_url": "redis://127.0.0.1:6379/9",
        "broker_url": "redis://127.0.0.1:6379/10",
    }
    layout = harness.production_with_drills(
        Path(tempfile.mkdtemp(prefix="dinportal-faults-")),
        services=services,
        # a click every 10 s for two minutes is more than a company's default limit (5/min)
        extra_env={"OUTBOUND_RATE_LIMIT_PER_MINUTE": "60"},
    )
    verdicts = []
    try:
        layout.start()
        numbers = harness.wait_for(
            lambda: (n := harness.Carrier(layout).numbers()) and len(n) == 6 and n,
            timeout=180,
            what="six demo numbers",
        )
        drills = args.drills.split(",")
        if "db-hang" in drills:
            verdicts.append(db_hang(layout, numbers, args.rate))
        if "redis-hang" in drills:
            verdicts.append(redis_hang(layout, args.redis_seconds))
        if "burst" in drills:
            verdicts.append(burst(layout, numbers, args.burst_clients, args.burst_seconds))
    finally:
        layout.stop()
        harness.close_drills(layout)
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
