"""Are outbound calls placed? N calls from a number's page and N through the API on `make run`.

Starts `make run` as shipped (SQLite, file broker, the sandbox carrier; a private VAR_DIR),
signs in as the Japanese demo owner and places ``--calls`` calls with local caller ID from a
kept number's page, then as many through ``POST /api/v1/numbers/{code}/calls`` with an
``Idempotency-Key`` (each sent twice). It follows each call until the carrier's callback ends
it and prints, per path, how many ended "answered" with a cost, and the seconds from the click
to "answered" (p50 / max). Verdict: every call answered within a minute.

    .venv/bin/python bench/outbound_calls.py --calls 10
"""

import argparse
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from e2e import harness  # noqa: E402

WITHIN_SECONDS = 60
ENDED = ("answered", "no_answer", "failed")


def _kept_number(person: harness.PortalClient) -> tuple[str, str]:
    def find():
        for row in person.get("/numbers/").text.split('<tr data-number="')[1:]:
            if "status-active" in row and "data-countdown" not in row:
                return re.search(r"/numbers/([0-9a-f-]{36})/", row)[1], row.split('"', 1)[0]
        return None

    return harness.wait_for(find, timeout=120, what="a kept demo number")


def _follow(get_status, started: float) -> tuple[str, float]:
    status = harness.wait_for(
        lambda: (s := get_status()) in ENDED and s, timeout=180, what="the call to end"
    )
    return status, time.monotonic() - started


def from_the_page(person, code: str, calls: int) -> list[tuple[str, float, str]]:
    results = []
    form = f"/numbers/{code}/calls/new/"
    for index in range(calls):
        started = time.monotonic()
        placed = person.post(
            form,
            {
                "recipient": f"090-1234-{5600 + index:04d}",
                "message_kind": "text",
                "text": "ご予約の確認です。",
                "tts_lang": "ja",
                "local_caller_id": "on",
            },
            page=form,
            allow_redirects=False,
        )
        history = person.get(placed.headers["Location"]).text
        path = re.search(r'href="(/numbers/outbound/[0-9a-f-]{36}/)"', history)[1]
        status, seconds = _follow(
            lambda path=path: re.search(r'data-status="(\w+)"', person.get(path).text)[1], started
        )
        cost = re.search(r'data-cost="([^"]*)"', person.get(path).text)[1]
        results.append((status, seconds, cost))
    return results


def through_the_api(base: str, key: str, code: str, calls: int) -> list[tuple[str, float, str]]:
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"
    results = []
    for index in range(calls):
        started = time.monotonic()
        body = {
            "recipient": f"+8190123457{index:02d}",
            "message_kind": "text",
            "text": "お薬の準備ができました。",
            "tts_lang": "ja",
            "local_caller_id": True,
        }
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        url = f"{base}/api/v1/numbers/{code}/calls"
        first = api.post(url, json=body, headers=headers, timeout=30).json()
        again = api.post(url, json=body, headers=headers, timeout=30).json()
        assert again["code"] == first["code"], "an Idempotency-Key placed a second call"
        call_url = f"{base}/api/v1/outbound-calls/{first['code']}"
        status, seconds = _follow(
            lambda call_url=call_url: api.get(call_url, timeout=30).json()["status"], started
        )
        results.append((status, seconds, api.get(call_url, timeout=30).json()["cost"] or ""))
    return results


def report(name: str, results: list[tuple[str, float, str]]) -> bool:
    answered = [s for status, s, cost in results if status == "answered" and cost]
    in_time = [s for s in answered if s <= WITHIN_SECONDS]
    seconds = [s for _status, s, _cost in results]
    print(
        f"{name:<10} {len(answered)}/{len(results)} answered with a cost, "
        f"{len(in_time)} within {WITHIN_SECONDS} s; click to answered: "
        f"p50 {statistics.median(seconds):.1f} s, max {max(seconds):.1f} s"
    )
    return len(in_time) == len(results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="dinportal-outbound-"))
    launcher = harness.Launcher(
        workdir, extra_env={"OUTBOUND_RATE_LIMIT_PER_MINUTE": str(2 * args.calls + 5)}
    )
    try:
        launcher.start()
        owner = harness.PortalClient(launcher.portal_url).sign_in(harness.OWNER_SAKURA)
        code, e164 = _kept_number(owner)
        created = owner.post(
            "/settings/api/keys/",
            {"name": "bench", "role": "staff", "expires_at": ""},
            page="/settings/api/",
        )
        key = re.search(r'<code id="new-api-key">([^<]+)</code>', created.text)[1]
        print(f"make run at {launcher.portal_url}; calls from {e164} with local caller ID")
        page_ok = report("page", from_the_page(owner, code, args.calls))
        api_ok = report("API", through_the_api(launcher.portal_url, key, code, args.calls))
    finally:
        launcher.stop()
    verdict = page_ok and api_ok
    print(f"verdict: {'MET' if verdict else 'MISSED'} (every call answered within a minute)")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
