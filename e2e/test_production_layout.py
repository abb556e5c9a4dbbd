"""docs/deploy.md's layout, run for real: nginx in front of the portal's pages and two edge
instances, a worker and beat, PostgreSQL and Redis; the sandbox carrier plays Xoxzo."""

import threading
import time

from e2e import harness
from e2e.harness import Carrier, PortalClient, Saturation

PUBLISH_WINDOW_SECONDS = 2.0
SLACK_SECONDS = 1.0


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
    # behind the proxy, calls are spread over both edge instances
    assert len(harness.edge_processes(numbers, expected=2)) == 2


def test_calls_stay_fast_behind_the_proxy_while_the_portal_is_saturated(production):
    numbers = _numbers(production)
    idle = harness.ring_for(3, numbers)
    with Saturation(production.portal_url, clients=8) as load:
        busy = harness.ring_for(8, numbers)
    print("idle", idle.summary(), "saturated", busy.summary(), "pages", load.pages)
    assert not idle.failures and not busy.failures, busy.failures[:5]
    assert load.pages > 50 and not load.errors, load.errors[:5]
    assert busy.summary()["p99_ms"] < 250


def test_a_flow_edit_and_a_time_zone_change_reach_every_edge_instance(production):
    from e2e.test_launcher import _hours_flow_around_now

    numbers = _numbers(production)
    person = PortalClient(production.portal_url).sign_in(harness.OWNER_SAKURA)
    code = person.number_codes()[0]
    din = person.din_of(code)
    processes = harness.edge_processes(numbers, expected=2)

    saved = person.post(f"/numbers/{code}/flow/", _hours_flow_around_now("Asia/Tokyo"))
    assert saved.history and saved.history[0].status_code == 302
    flow_edit = harness.until_every_process_answers(
        numbers[din], din, "transfer +81312345678", processes
    )
    person.submit("/settings/", {"timezone": "Etc/GMT+3"})
    time_zone = harness.until_every_process_answers(numbers[din], din, "voicemail", processes)
    person.submit("/settings/", {"timezone": "Asia/Tokyo"})
    print(
        f"every edge instance: flow edit after {flow_edit:.2f}s, time zone after {time_zone:.2f}s"
    )
    assert max(flow_edit, time_zone) <= PUBLISH_WINDOW_SECONDS + SLACK_SECONDS


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
