"""Stopping `make run` with SIGTERM: within 30 s, no call left unanswered, no call-log row lost."""

import threading
import time

from e2e import harness
from e2e.harness import Carrier

STOP_LIMIT_SECONDS = 30


def test_sigterm_stops_everything_in_time_and_loses_no_call(launched, demo_numbers):
    # every call made so far is in the call log (the writers flush every second)
    for din, url in demo_numbers.items():
        assert Carrier.ring(url, caller="+819012345678", din=din).answered
    time.sleep(2.5)
    before = launched.count_call_log()

    calls: list[harness.Call] = []
    stopping = threading.Event()
    stop_sent_at: list[float] = []

    def carrier_keeps_calling():
        items = list(demo_numbers.items())
        index = 0
        while True:
            din, url = items[index % len(items)]
            index += 1
            call = harness.Carrier.ring(url, caller="+819012345678", din=din)
            call.seconds = time.monotonic()  # when it ended
            calls.append(call)
            if call.error == "refused":
                return  # the edge closed its door: no more calls reach it
            if stopping.is_set() and time.monotonic() - stop_sent_at[0] > STOP_LIMIT_SECONDS:
                return

    caller = threading.Thread(target=carrier_keeps_calling, daemon=True)
    caller.start()
    time.sleep(2)
    stop_sent_at.append(time.monotonic())
    stopping.set()
    stopped_after = launched.terminate_and_time()
    caller.join(timeout=10)

    answered = [call for call in calls if call.answered]
    refused = [call for call in calls if call.error == "refused"]
    lost = [call for call in calls if not call.answered and call.error != "refused"]
    print(
        f"stopped in {stopped_after:.1f}s; {len(answered)} calls answered, "
        f"{len(refused)} refused after the edge closed, {len(lost)} failed"
    )
    assert stopped_after <= STOP_LIMIT_SECONDS
    assert not lost, lost[:5]
    assert len(answered) > 20
    # refused connections come only after the stop began (nothing was accepted and dropped)
    assert all(call.seconds >= stop_sent_at[0] for call in refused)

    after = launched.count_call_log()  # the database, with every server stopped
    assert after - before == len(answered)
