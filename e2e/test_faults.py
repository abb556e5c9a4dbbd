"""Faults caused for real on docs/deploy.md's layout: nginx, the portal, two edge instances of
two workers each (each instance its own disk), a worker and beat, PostgreSQL, Redis and the
media bucket, all separate processes. PostgreSQL and Redis are reached through relays that a
drill makes accept connections and never answer.

Each drill counts what the carrier and people saw (every call answered within the carrier's
own timeout, every click answered) and what was written (call-log rows = calls answered), never
elapsed time; the times are printed.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import time

import requests

from e2e import harness
from e2e.harness import Carrier, PortalClient, wait_for

GREETING = (harness.ROOT / "callflows" / "demo_assets" / "greeting-ja.mp3").read_bytes()


def _numbers(production) -> dict[str, str]:
    carrier = Carrier(production)
    return wait_for(
        lambda: (numbers := carrier.numbers()) and len(numbers) == 6 and numbers,
        timeout=120,
        what="six demo numbers with action URLs",
    )


def _until_written(production, expected: int, *, timeout: float = 90) -> int:
    """The call log's row count once it reaches ``expected`` (or what it is at the timeout)."""
    seen = [0]

    def reached():
        seen[0] = production.count_call_log()
        return seen[0] >= expected

    with contextlib.suppress(TimeoutError):
        wait_for(reached, timeout=timeout, interval=1, what=f"{expected} call-log rows")
    return seen[0]


def _keep_calling(numbers: dict[str, str], calls: list, stop: threading.Event) -> None:
    items = list(numbers.items())
    index = 0
    while not stop.is_set():
        din, url = items[index % len(items)]
        index += 1
        calls.append(Carrier.ring(url, caller="+819012345678", din=din))


def _upload(person: PortalClient, label: str) -> str:
    page = person.get("/callflows/audio/upload/")
    token = person.csrf(page.text)
    response = person.session.post(
        person.url("/callflows/audio/upload/"),
        data={"csrfmiddlewaretoken": token, "label": label},
        files={"file": ("greeting.mp3", GREETING, "audio/mpeg")},
        headers={"Referer": person.url("/callflows/audio/upload/")},
        timeout=60,
    )
    assert response.status_code == 200 and "/callflows/audio/" in response.url, response.text[-800:]
    listing = person.get("/callflows/audio/").text
    return re.search(r'href="(/callflows/audio/[0-9a-f-]{36}/)"', listing)[1]


def test_an_mp3_uploaded_on_the_portal_plays_from_both_edges_from_the_bucket(production):
    owner = PortalClient(production.portal_url).sign_in(harness.OWNER_HARBOR)
    edit = _upload(owner, "Shared greeting")
    public_url = re.search(r"(https?://\S+/media/audio/[A-Za-z0-9_-]+\.mp3)", owner.get(edit).text)[
        1
    ]
    path = public_url.split("/media/", 1)[1]

    played = [requests.get(f"{edge}/media/{path}", timeout=30) for edge in production.edge_urls]

    assert [p.status_code for p in played] == [200, 200]
    assert all(p.content == GREETING for p in played)
    assert f"media/{path}" in set(production.bucket.keys())
    # no machine keeps it in a media folder of its own: the bucket is the one copy
    assert [production.media_files(name) for name in ("portal", "edge-0", "edge-1")] == [[], [], []]


def test_calls_and_their_mp3s_are_answered_while_the_database_hangs(production):
    owner = PortalClient(production.portal_url).sign_in(harness.OWNER_HARBOR)
    numbers = _numbers(production)
    code = owner.number_codes()[0]
    din = owner.din_of(code)
    audio = re.findall(r'<option value="([0-9a-f-]{36})"', owner.get(f"/numbers/{code}/flow/").text)
    saved = owner.post(
        f"/numbers/{code}/flow/",
        {
            "rules-TOTAL_FORMS": "0",
            "rules-INITIAL_FORMS": "0",
            "rules-MIN_NUM_FORMS": "0",
            "rules-MAX_NUM_FORMS": "30",
            "default-action": "playback",
            "default-audio": audio[0],
            "default-greeting": "",
        },
        allow_redirects=False,
    )
    assert saved.status_code == 302
    # every edge process (each instance asked directly, fresh connections) plays the new flow,
    # and has read its MP3 ahead
    held: dict[str, int] = {}

    def every_process_holds_it() -> bool:
        for edge in production.edge_urls:
            call = Carrier.ring(f"{edge}/a/{numbers[din].rsplit('/a/', 1)[1]}", caller="", din=din)
            if call.body.startswith("playback "):
                mp3 = requests.get(
                    call.body.split()[1].replace(production.public_url, edge),
                    timeout=5,
                    headers={"Connection": "close"},
                )
                if mp3.status_code == 200:
                    held[mp3.headers["X-Edge-Process"]] = (
                        held.get(mp3.headers["X-Edge-Process"], 0) + 1
                    )
        return len(held) >= production.edge_processes and min(held.values()) >= 2

    wait_for(every_process_holds_it, timeout=60, interval=0.05, what="every edge process")
    mp3_url = Carrier.ring(numbers[din], caller="", din=din).body.split()[1]

    production.database_relay.pause()
    calls: list[harness.Call] = []
    mp3s: list[int] = []
    started = time.monotonic()
    try:
        while time.monotonic() - started < 8:
            calls.append(Carrier.ring(numbers[din], caller="+819012345678", din=din))
            mp3s.append(
                requests.get(mp3_url, timeout=5, headers={"Connection": "close"}).status_code
            )
    finally:
        production.database_relay.resume()

    failed = [c for c in calls if not c.answered]
    print(
        f"database hung 8 s: {len(calls)} calls, {len(failed)} failed; "
        f"{len(mp3s)} MP3 fetches, {mp3s.count(200)} played"
    )
    assert not failed, failed[:5]
    assert all(c.body.startswith("playback ") for c in calls)
    assert mp3s and set(mp3s) == {200}


def test_clicks_answer_while_the_broker_hangs_and_the_work_is_done_when_it_answers(production):
    owner = PortalClient(production.portal_url).sign_in(harness.OWNER_HARBOR)
    _numbers(production)
    code = owner.number_codes()[0]
    form = f"/numbers/{code}/calls/new/"
    before = len(
        re.findall(r'data-status="answered"', owner.get(f"/numbers/{code}/outbound/").text)
    )

    production.redis_relay.pause()
    try:
        clicks = [
            owner.post(
                form,
                {
                    "recipient": "+819012345678",
                    "message_kind": "text",
                    "text": "Your parcel arrives today.",
                    "tts_lang": "en",
                },
                page=form,
                timeout=10,  # the click itself must not wait on the broker
            )
            for _ in range(3)
        ]
    finally:
        production.redis_relay.resume()
    print("broker hung: clicks answered", [c.status_code for c in clicks])
    assert [c.status_code for c in clicks] == [200, 200, 200]
    assert all("queued" in c.text.lower() or "Calling" in c.text for c in clicks)

    def all_answered():
        page = owner.get(f"/numbers/{code}/outbound/").text
        return len(re.findall(r'data-status="answered"', page)) >= before + 3

    wait_for(all_answered, timeout=120, interval=1, what="the three calls placed and answered")


def test_one_edge_worker_killed_is_back_in_seconds_and_its_instance_keeps_serving(production):
    numbers = _numbers(production)
    workers = production.worker_pids("edge-0")
    assert len(workers) == 2
    calls: list[harness.Call] = []
    stop = threading.Event()
    caller = threading.Thread(target=_keep_calling, args=(numbers, calls, stop), daemon=True)
    caller.start()
    time.sleep(1)
    os.kill(workers[0], signal.SIGKILL)
    killed_at = time.monotonic()
    back = wait_for(
        lambda: len(pids := production.worker_pids("edge-0")) == 2 and workers[0] not in pids,
        timeout=30,
        interval=0.1,
        what="the killed worker started again",
    )
    respawned = time.monotonic() - killed_at
    # and the instance answers on its own (not only through the proxy)
    direct = [
        Carrier.ring(f"{production.edge_urls[0]}/a/{url.rsplit('/a/', 1)[1]}", caller="", din=din)
        for din, url in list(numbers.items())[:4]
    ]
    time.sleep(1)
    stop.set()
    caller.join(timeout=10)
    failed = [c for c in calls if not c.answered]
    print(
        f"edge worker SIGKILLed: back after {respawned:.1f} s; "
        f"{len(calls)} calls, {len(failed)} failed"
    )
    assert back and all(c.answered for c in direct)
    assert not failed, failed[:5]


def test_a_stalled_edge_instance_retried_by_the_proxy_logs_each_call_once(production):
    numbers = _numbers(production)
    time.sleep(3)  # earlier calls are written
    before = production.count_call_log()
    calls: list[harness.Call] = []
    stop = threading.Event()
    caller = threading.Thread(target=_keep_calling, args=(numbers, calls, stop), daemon=True)
    caller.start()
    time.sleep(1)
    # edge-0 stalls (its processes stopped) for longer than the proxy's read timeout (4 s):
    # the proxy asks edge-1 again; edge-0 answers the same requests when it goes on
    stalled = [production.processes["edge-0"].pid, *production.worker_pids("edge-0")]
    for pid in stalled:
        os.kill(pid, signal.SIGSTOP)
    time.sleep(6)
    for pid in stalled:
        os.kill(pid, signal.SIGCONT)
    time.sleep(2)
    stop.set()
    caller.join(timeout=15)
    answered = [c for c in calls if c.answered]
    written = _until_written(production, before + len(answered))
    time.sleep(3)  # anything extra would arrive now
    written = production.count_call_log()
    print(
        f"edge stalled 6 s behind the proxy: {len(answered)} calls answered, "
        f"{written - before} rows written"
    )
    assert len(answered) == len(calls), [c for c in calls if not c.answered][:5]
    assert written - before == len(answered)  # each call once: none lost, none twice


def test_calls_answered_while_the_database_hangs_are_written_after_the_edge_restarts(production):
    """The database hangs while calls arrive; edge-0 is stopped and started again meanwhile:
    what it had answered waits in its journal on its own disk and is written once the
    database answers."""
    numbers = _numbers(production)
    # every edge process holds every number's flow before the database hangs
    harness.warm(numbers, processes=production.edge_processes)
    time.sleep(3)
    before = production.count_call_log()
    calls: list[harness.Call] = []
    stop = threading.Event()
    production.database_relay.pause()
    try:
        caller = threading.Thread(target=_keep_calling, args=(numbers, calls, stop), daemon=True)
        caller.start()
        time.sleep(4)
        production.restart("edge-0")  # SIGTERM: it journals what it holds and stops
        time.sleep(2)
        stop.set()
        caller.join(timeout=15)
    finally:
        production.database_relay.resume()
    answered = [c for c in calls if c.answered]
    journal = production.workdir / "edge-0" / "call-log"
    written = _until_written(production, before + len(answered), timeout=120)
    print(
        f"database hung, edge restarted: {len(answered)} answered, {written - before} written, "
        f"journal files left on edge-0: {len(list(journal.glob('*')))}"
    )
    assert len(answered) == len(calls) and len(answered) > 100
    assert written - before == len(answered)
