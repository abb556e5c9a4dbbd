"""docs/deploy.md's layout, run for real: nginx in front of the portal's pages and two edge
instances, a worker and beat, PostgreSQL and Redis; the sandbox carrier plays Xoxzo."""

import threading
import time

from e2e import harness
from e2e.harness import Carrier, PortalClient, Saturation
from e2e.test_launcher import ARRIVES_WITHIN_SECONDS


def _numbers(production):
    carrier = Carrier(production)
    return harness.wait_for(
        lambda: (numbers := carrier.numbers()) and len(numbers) == 6 and numbers,
        timeout=90,
        what="six demo numbers with action URLs",
    )


def test_people_and_the_carrier_use_one_address(production):
    numbers = _numbers(production)
    assert all(url.startswith(production.public_url + "/a/") for url in numbers.values())
    assert harness._get(f"{production.portal_url}/account/login/").status_code == 200
    din, url = next(iter(numbers.items()))
    assert Carrier.ring(url, caller="+819012345678", din=din).answered
    # behind the proxy, calls are spread over both edge instances (at least one process each)
    assert len(harness.edge_processes(numbers, expected=len(production.edge_ports))) >= 2


def test_calls_stay_fast_behind_the_proxy_while_the_portal_is_saturated(production):
    numbers = _numbers(production)
    idle = harness.ring_for(3, numbers)
    with Saturation(production.portal_url, clients=8) as load:
        busy = harness.ring_for(8, numbers)
    print("idle", idle.summary(), "saturated", busy.summary(), "pages", load.pages)
    # answered within the carrier's timeout, pages served; speed is bench/edge_isolation.py's
    assert not idle.failures and not busy.failures, busy.failures[:5]
    assert load.pages > 50 and not load.errors, load.errors[:5]


def test_a_flow_edit_and_a_time_zone_change_reach_every_edge_instance(production):
    from e2e.test_launcher import _hours_flow_around_now

    numbers = _numbers(production)
    person = PortalClient(production.portal_url).sign_in(harness.OWNER_SAKURA)
    code = person.number_codes()[0]
    din = person.din_of(code)
    processes = harness.edge_processes(numbers, expected=len(production.edge_ports))

    saved = person.post(f"/numbers/{code}/flow/", _hours_flow_around_now("Asia/Tokyo"))
    assert saved.history and saved.history[0].status_code == 302
    flow_edit = harness.until_every_process_answers(
        numbers[din], din, "transfer +81312345678", processes, timeout=ARRIVES_WITHIN_SECONDS
    )
    person.submit("/settings/", {"timezone": "America/Sao_Paulo"})
    time_zone = harness.until_every_process_answers(
        numbers[din], din, "voicemail", processes, timeout=ARRIVES_WITHIN_SECONDS
    )
    person.submit("/settings/", {"timezone": "Asia/Tokyo"})
    print(
        f"every edge instance: flow edit after {flow_edit:.2f}s, time zone after {time_zone:.2f}s"
    )


def test_a_rolling_restart_of_the_edge_loses_no_call_and_no_call_log_row(production):
    numbers = _numbers(production)
    time.sleep(2.5)  # earlier calls are written
    before = production.count_call_log()
    calls: list[harness.Call] = []
    done = threading.Event()

    def carrier_keeps_calling():
        items = list(numbers.items())
        index = 0
        while not done.is_set():
            din, url = items[index % len(items)]
            index += 1
            calls.append(Carrier.ring(url, caller="+819012345678", din=din))

    caller = threading.Thread(target=carrier_keeps_calling, daemon=True)
    caller.start()
    time.sleep(1)
    for name in ("edge-0", "edge-1"):
        production.restart(name)
        time.sleep(1)
    done.set()
    caller.join(timeout=10)
    time.sleep(2.5)  # the restarted instances write what they answered

    answered = [call for call in calls if call.answered]
    failed = [call for call in calls if not call.answered]
    print(f"rolling restart: {len(answered)} calls answered, {len(failed)} failed")
    assert not failed, failed[:5]
    assert production.count_call_log() - before == len(answered)


def test_calls_are_answered_in_time_while_the_database_hangs(production):
    """The edge's PostgreSQL connections go through a relay; it stops forwarding for 8 s."""
    numbers = _numbers(production)
    production.restart("edge-0")  # an instance that holds nothing yet, and one that does
    relay = production.database_relay
    before = harness.ring_for(3, numbers)
    relay.pause()
    try:
        during = harness.ring_for(8, numbers)
    finally:
        relay.resume()
    after = harness.ring_for(3, numbers)
    print(
        "database hung: before",
        before.summary(),
        "during",
        during.summary(),
        "after",
        after.summary(),
    )
    # every call answered within the carrier's own timeout (Carrier.ring: 5 s), none refused:
    # the edge never waits on the database beyond its budget
    assert not before.failures and not during.failures and not after.failures, during.failures[:5]
    assert during.summary()["calls"] > 0


def test_ten_thousand_made_up_tokens_leave_memory_and_redis_alone(production):
    import secrets

    import redis

    numbers = _numbers(production)
    queue = redis.Redis.from_url(production.env["REDIS_URL"])
    keys_before = queue.dbsize()
    rss_before = {name: production.rss_kib(name) for name in ("edge-0", "edge-1")}
    din = next(iter(numbers))
    base = production.public_url
    # One at a time: several at once would outrun the edge's lookup budget, and a call the
    # edge cannot tell about in time gets the fallback (200), not a 404.
    for _ in range(10_000):
        call = Carrier.ring(
            f"{base}/a/{secrets.token_urlsafe(24)}/", caller="+819012345678", din=din
        )
        assert call.status == 404
    growth = {name: production.rss_kib(name) - rss_before[name] for name in rss_before}
    keys_after = queue.dbsize()
    print(
        f"10,000 made-up tokens: edge memory grew {growth} KiB, "
        f"Redis keys {keys_before}->{keys_after}"
    )
    assert queue.dbsize() == keys_before
    assert all(kib < 16 * 1024 for kib in growth.values())  # bounded: EDGE_MEMORY_MAX_UNKNOWN


def test_a_strangers_wrong_passwords_do_not_lock_out_the_owner_behind_the_proxy(production):
    # given a stranger on another machine guessing the owner's password, even forging a header
    stranger = PortalClient(production.portal_url, source_address="127.0.0.2")
    stranger.session.headers["X-Forwarded-For"] = "127.0.0.3"
    for _ in range(6):
        stranger.try_sign_in(harness.OWNER_HARBOR, "wrong password")
    assert "/account/login/" in stranger.try_sign_in(harness.OWNER_HARBOR).url  # locked out

    # then the owner, from their own machine, signs in with the right password
    owner = PortalClient(production.portal_url, source_address="127.0.0.3").sign_in(
        harness.OWNER_HARBOR
    )
    owner.submit("/settings/", {"name": "Harbor Logistics KK"})
    audit = owner.get("/audit/").text
    assert "127.0.0.3" in audit and "127.0.0.1" not in audit  # the client, not the proxy
