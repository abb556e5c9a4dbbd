"""Every journey that crosses the shipped servers, on `make run` and on the production layout.

Each test drives the processes as they ship, over HTTP only: people through the portal's pages
(``PortalClient``), programs through the API, the carrier through the sandbox's server, and
what the processes send out through a local SMTP server (``MailSink``) and a webhook receiver
(``WebhookReceiver``). Nothing is imported from the portal's code, so a URL, a setting or an
import that only resolves inside a test process fails here as it fails for a customer.

The journeys, numbered as in the table of e2e/README.md (which lists every journey the suite
drives and where): 1 outbound calls (page, API), 2 an MP3 played from the edge, 3 an alert
e-mail's links, 4 a signed webhook, 5 a trial released by the scheduler, 6 invitation and
password reset from e-mail links, 7 a voicemail.

The trial journey needs a trial that ends in seconds: the layouts run with
``TRIAL_RELEASE_MARGIN_MINUTES`` just under 24 hours and the sweep every 2 s. Webhooks may go to
the loopback receiver (``WEBHOOK_ALLOW_PRIVATE_ADDRESSES``, which production refuses unless
``ALLOW_UNSAFE_SETTINGS`` names it, as here). Waits are long enough for a loaded machine; a
journey that hangs still fails.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests

from e2e import harness
from e2e.conftest import production_layout
from e2e.harness import Carrier, Layout, MailSink, PortalClient, WebhookReceiver, wait_for

# Generous for a machine busy with other work; a real hang still fails.
JOURNEY_TIMEOUT = 120
# From the subscribe request to the release the sweep starts: the trial is active within a few
# seconds of its request, so this leaves it active long enough to be seen, and no longer.
TRIAL_SECONDS = 25

JOURNEY_ENV = {
    "TRIAL_RELEASE_MARGIN_MINUTES": str(24 * 60 - TRIAL_SECONDS / 60),
    "TRIAL_SWEEP_INTERVAL_SECONDS": "2",
    "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
    "SANDBOX_CALL_COMPLETION_DELAY": "2",
    "OUTBOUND_RATE_LIMIT_PER_MINUTE": "30",
    "DEFAULT_FROM_EMAIL": "DIN Portal <noreply@example.com>",
}
RECIPIENT = "+819012345678"  # a Japanese mobile: allowed by every company's call policy


@dataclass
class World:
    name: str
    layout: Layout
    mail: MailSink
    hooks: WebhookReceiver

    @property
    def portal(self) -> str:
        return self.layout.portal_url

    def person(self, email: str) -> PortalClient:
        return PortalClient(self.portal).sign_in(email)

    @property
    def has_test_calls(self) -> bool:
        """The flow page's "Test call" needs the sandbox as the portal's own carrier (make run);
        in production the carrier is another company's system (here, a sandbox of its own)."""
        return self.name == "make run"

    def ring(self, e164: str, caller: str) -> dict:
        """A caller dials ``e164``: the carrier asks its action URL and carries out the answer
        (MP3s fetched, voicemail recorded); the call's transcript as the carrier tells it."""
        rung = requests.post(
            self.layout.sandbox_url + "/internal/test-call/",
            data={"to": e164, "from": caller},
            auth=self.layout.carrier_credentials(),
            timeout=JOURNEY_TIMEOUT,
        )
        assert rung.status_code == 200, rung.text
        return rung.json()

    def carrier_get(self, path: str) -> requests.Response:
        return requests.get(
            self.layout.sandbox_url + path, auth=self.layout.carrier_credentials(), timeout=30
        )


@pytest.fixture(scope="module", params=["make run", "production"])
def world(request, tmp_path_factory):
    mail, hooks = MailSink(), WebhookReceiver()
    env = {**JOURNEY_ENV, "EMAIL_URL": mail.url}
    workdir = tmp_path_factory.mktemp(request.param.replace(" ", "-"))
    if request.param == "make run":
        if shutil.which("make") is None:
            pytest.skip("make is not installed (the launcher is `make run`)")
        layout: Layout = harness.Launcher(workdir, extra_env=env)
    else:
        env["ALLOW_UNSAFE_SETTINGS"] = "WEBHOOK_ALLOW_PRIVATE_ADDRESSES"
        layout = production_layout(workdir, extra_env=env)
    try:
        layout.start()
        yield World(request.param, layout, mail, hooks)
    finally:
        layout.stop()
        if isinstance(layout, harness.ProductionLayout):
            harness.close_drills(layout)
        mail.close()
        hooks.close()


# --- Reading pages as a person does ---------------------------------------------------------


def _numbers(person: PortalClient) -> list[dict]:
    """The rows of the numbers list: code, E.164, status, trial."""
    rows = []
    for row in person.get("/numbers/").text.split('<tr data-number="')[1:]:
        rows.append(
            {
                "e164": row.split('"', 1)[0],
                "code": re.search(r"/numbers/([0-9a-f-]{36})/", row)[1],
                "status": re.search(r'class="badge status-(\w+)"', row)[1],
                "trial": "data-countdown" in row,  # an active trial counts down to its release
            }
        )
    return rows


def _kept_number(person: PortalClient) -> dict:
    """An active number that is not a trial (trials end during these journeys)."""
    return wait_for(
        lambda: next(
            (n for n in _numbers(person) if n["status"] == "active" and not n["trial"]), None
        ),
        timeout=JOURNEY_TIMEOUT,
        what="an active number that is kept",
    )


def _select_options(page: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{re.escape(name)}"[^>]*>(.*?)</select>', page, re.S)
    return [value for value in re.findall(r'<option value="([^"]*)"', select[1]) if value]


def _save_default_flow(person: PortalClient, code: str, action: dict) -> None:
    """Save a flow without rules whose default answer is ``action`` (the editor's fields)."""
    fields = {
        "rules-TOTAL_FORMS": "0",
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "30",
        "default-greeting": "",
        **{f"default-{name}": value for name, value in action.items()},
    }
    saved = person.post(f"/numbers/{code}/flow/", fields, allow_redirects=False)
    assert saved.status_code == 302, saved.text[-1500:]


def _status_of_call_page(person: PortalClient, path: str) -> str:
    return re.search(r'data-status="(\w+)"', person.get(path).text)[1]


def _action_url(world: World, din: str) -> str:
    """The number's action URL as the carrier holds it (set by the worker after subscribing)."""
    return wait_for(
        lambda: Carrier(world.layout).numbers().get(din),
        timeout=JOURNEY_TIMEOUT,
        what=f"the action URL of {din} at the carrier",
    )


def _until_the_edge_answers(world: World, number: dict, start: str) -> None:
    """Wait until the edge answers the number with a line starting ``start`` every time (a
    saved flow reaches each edge process within seconds): as many answers in a row as it takes
    to have asked each process several times. Each try is one call, as the carrier's."""
    din = number["e164"].lstrip("+")
    action_url = _action_url(world, din)
    in_a_row = [0]

    def every_process_answers_it() -> bool:
        call = Carrier.ring(action_url, caller="", din=din)
        in_a_row[0] = in_a_row[0] + 1 if call.body.startswith(start) else 0
        return in_a_row[0] >= 5 * world.layout.edge_processes

    wait_for(
        every_process_answers_it,
        timeout=JOURNEY_TIMEOUT,
        interval=0.05,
        what=f"every edge process answering {start.strip()!r} for {din}",
    )


def _carrier_call(world: World, callid: str) -> dict:
    response = world.carrier_get(f"/voice/calls/{callid}")
    response.raise_for_status()
    return response.json()[0] if isinstance(response.json(), list) else response.json()


# --- 1. Outbound calls -------------------------------------------------------------------------


def test_1_an_owner_places_an_outbound_call_with_local_caller_id_from_the_page(world):
    owner = world.person(harness.OWNER_SAKURA)
    number = _kept_number(owner)
    form = f"/numbers/{number['code']}/calls/new/"
    placed = owner.post(
        form,
        {
            "recipient": "090-1234-5678",
            "message_kind": "text",
            "text": "ご予約の確認です。",
            "tts_lang": "ja",
            "local_caller_id": "on",
        },
        page=form,
        allow_redirects=False,
    )
    assert placed.status_code == 302, placed.text[-1500:]
    history = owner.get(placed.headers["Location"]).text
    path = re.search(r'href="(/numbers/outbound/[0-9a-f-]{36}/)"', history)[1]

    status = wait_for(
        lambda: (
            (s := _status_of_call_page(owner, path)) in ("answered", "no_answer", "failed") and s
        ),
        timeout=JOURNEY_TIMEOUT,
        what="the outbound call to end",
    )
    page = owner.get(path).text
    assert status == "answered", re.sub(r"\s+", " ", html.unescape(page))[-1500:]
    assert "data-local-caller-id" in page
    cost = re.search(r'data-cost="([^"]*)"', page)[1]
    assert cost and float(cost) > 0, cost
    # the carrier's own record: the call it placed showed our number as caller ID
    callid = re.search(r'data-callid="([^"]+)"', page)[1]
    at_carrier = _carrier_call(world, callid)
    assert at_carrier["status"] == "ANSWERED"
    assert at_carrier["caller"].lstrip("+") == number["e164"].lstrip("+")


def _api_key(person: PortalClient, role: str = "staff") -> str:
    created = person.post(
        "/settings/api/keys/",
        {"name": f"journey {uuid.uuid4().hex[:6]}", "role": role, "expires_at": ""},
        page="/settings/api/",
    )
    return re.search(r'<code id="new-api-key">([^<]+)</code>', created.text)[1]


def test_1b_a_program_places_an_outbound_call_through_the_api_once_per_idempotency_key(world):
    owner = world.person(harness.OWNER_SAKURA)
    number = _kept_number(owner)
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {_api_key(owner)}"
    body = {
        "recipient": RECIPIENT,
        "message_kind": "text",
        "text": "お薬の準備ができました。",
        "tts_lang": "ja",
        "local_caller_id": True,
    }
    url = f"{world.portal}/api/v1/numbers/{number['code']}/calls"
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = api.post(url, json=body, headers=key, timeout=30)
    again = api.post(url, json=body, headers=key, timeout=30)
    assert first.status_code == 201, first.text
    assert again.status_code == 200 and again.json()["code"] == first.json()["code"]

    call_url = f"{world.portal}/api/v1/outbound-calls/{first.json()['code']}"
    call = wait_for(
        lambda: (
            (c := api.get(call_url, timeout=30).json())["status"]
            in ("answered", "no_answer", "failed")
            and c
        ),
        timeout=JOURNEY_TIMEOUT,
        what="the API's outbound call to end",
    )
    assert call["status"] == "answered", call
    assert call["cost"] not in (None, "", "0", "0.00"), call
    assert call["caller_id"].lstrip("+") == number["e164"].lstrip("+")


# The API's default limit (API_RATE_LIMIT_PER_MINUTE), which JOURNEY_ENV leaves alone.
API_RATE_LIMIT = 120
BURST = 400


def _burst(url: str, token: str, count: int) -> list[int]:
    """``count`` GETs with one key from eight clients at once; their statuses."""

    def send(_index: int) -> int:
        response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(send, range(count)))


def test_1c_one_key_gets_exactly_its_rate_limit_across_every_server_process(world):
    """400 requests with one key against the limit of 120: exactly 120 pass, whichever server
    process answers (make run: two portal workers and the database as the shared count;
    production: Redis). The limit counts per clock minute, so the burst starts early in one
    and is sent again with a new key if it still ran into the next."""
    owner = world.person(harness.OWNER_SAKURA)
    url = f"{world.portal}/api/v1/numbers"
    for _attempt in range(2):
        token = _api_key(owner, role="viewer")
        if time.time() % 60 > 30:
            time.sleep(60.5 - time.time() % 60)
        minute = int(time.time() // 60)
        statuses = _burst(url, token, BURST)
        if int(time.time() // 60) == minute:
            break
    assert statuses.count(200) == API_RATE_LIMIT, sorted(set(statuses))
    assert statuses.count(429) == BURST - API_RATE_LIMIT


# --- 2. An MP3 played from the edge ------------------------------------------------------------


def test_2_a_call_answered_by_an_mp3_rule_plays_the_mp3_the_carrier_fetched_from_the_edge(world):
    owner = world.person(harness.OWNER_SAKURA)
    number = _kept_number(owner)
    code = number["code"]
    audio = _select_options(owner.get(f"/numbers/{code}/flow/").text, "default-audio")[0]
    _save_default_flow(owner, code, {"action": "playback", "audio": audio})
    _until_the_edge_answers(world, number, "playback ")

    if world.has_test_calls:  # the owner presses "Test call" on the flow page
        result = owner.test_call(code, timeout=JOURNEY_TIMEOUT)
        assert result["status"] == "done", result
        outcome, text = result["outcome"], result["text"]
    else:  # a caller dials the number
        rung = world.ring(number["e164"], "+819055556666")
        outcome, text = rung["transcript"]["outcome"], rung["text"]

    assert outcome == "completed", text[-1500:]
    played = re.search(r"played (\S+/media/audio/\S+\.mp3): ([\d.]+) s", text)
    assert played, text[-1500:]
    assert played[1].startswith(world.layout.public_url + "/")  # where the carrier reaches us
    assert float(played[2]) > 0.5


# --- 3 and 5. A trial released by the scheduler, and the alert e-mail it sends -----------------


def _subscribe_trial(person: PortalClient) -> str:
    search = person.get("/numbers/search/?kind=jp-050").text
    link = html.unescape(
        re.search(r'href="(/numbers/subscribe/\?[^"]*mode=trial[^"]*)"', search)[1]
    )
    confirm = person.get(link).text
    form = next(f for f in harness.page_forms(confirm) if "din_uid" in dict(f["fields"]))
    done = person.post("/numbers/subscribe/", form["fields"], page=link, allow_redirects=False)
    assert done.status_code == 302, done.text[-1500:]
    return re.search(r"/numbers/([0-9a-f-]{36})/", done.headers["Location"])[1]


def _number_status(person: PortalClient, code: str) -> str:
    return re.search(r'data-status="(\w+)"', person.get(f"/numbers/{code}/").text)[1]


def test_5_a_trial_is_released_by_the_scheduler_before_its_deadline_and_its_pages_say_so(world):
    owner = world.person(harness.OWNER_HARBOR)
    code = _subscribe_trial(owner)
    wait_for(
        lambda: _number_status(owner, code) == "active",
        timeout=JOURNEY_TIMEOUT,
        what="the trial to be active",
    )
    status = wait_for(
        lambda: (s := _number_status(owner, code)) in ("released", "failed") and s,
        timeout=JOURNEY_TIMEOUT + TRIAL_SECONDS,
        what="the scheduler to release the trial",
    )
    assert status == "released"

    number_page = owner.get(f"/numbers/{code}/").text
    assert "Released within 24 hours" in number_page
    flow_page = owner.get(f"/numbers/{code}/flow/")
    assert flow_page.status_code == 200
    assert "data-not-answering" in flow_page.text and "was released on" in flow_page.text
    assert 'id="flow-editor"' not in flow_page.text and 'class="week' not in flow_page.text
    refused = owner.post(
        f"/numbers/{code}/flow/override/", {"quick": "1"}, page=f"/numbers/{code}/flow/"
    )
    assert "was released on" in refused.text  # the switch refuses, saying why

    # 3. the alert e-mail about it, on the people's address, every link opening a page
    message = world.mail.wait_for(
        harness.OWNER_HARBOR, f"{world.portal}/numbers/{code}/", timeout=JOURNEY_TIMEOUT
    )
    links = MailSink.links(message)
    assert links and all(link.startswith(world.portal + "/") for link in links), links
    assert f"{world.portal}/numbers/{code}/" in links
    for link in links:
        opened = owner.get(link)
        assert opened.status_code == 200 and "/account/login/" not in opened.url, link


# --- 4. Webhooks -------------------------------------------------------------------------------


def _webhook(person: PortalClient, url: str) -> str:
    """Add a webhook for every event through Settings → API; its signing secret."""
    page = person.get("/settings/api/").text
    form = next(f for f in harness.page_forms(page) if "url" in dict(f["fields"]))
    events = [value for name, value in form["fields"] if name == "events"]
    added = person.post(
        "/settings/api/webhooks/",
        [("url", url), *(("events", event) for event in events)],
        page="/settings/api/",
    )
    assert added.status_code == 200, added.text[-1500:]
    detail = re.search(r'href="(/settings/api/webhooks/[0-9a-f-]{36}/)"', added.text)
    detail_page = person.get(detail[1] if detail else added.url).text
    return re.search(r"<code>(whsec_[^<]+)</code>", detail_page)[1]


def _signed_by(delivery: dict, secret: str) -> bool:
    headers = {name.lower(): value for name, value in delivery["headers"].items()}
    message = headers["x-dinportal-timestamp"].encode() + b"." + delivery["body"]
    expected = "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["x-dinportal-signature"], expected)


def test_4_a_webhook_reaches_its_receiver_signed_and_test_calls_say_so(world):
    owner = world.person(harness.OWNER_HARBOR)
    secret = _webhook(owner, world.hooks.url)
    number = _kept_number(owner)
    din = number["e164"].lstrip("+")
    action_url = _action_url(world, din)

    caller = "+8190" + str(uuid.uuid4().int)[:8]
    assert Carrier.ring(action_url, caller=caller, din=din).answered
    if world.has_test_calls:
        assert owner.test_call(number["code"], timeout=JOURNEY_TIMEOUT)["status"] == "done"

    def answered():
        events = [json.loads(d["body"]) for d in world.hooks.events("call.answered")]
        mine = [e for e in events if e["data"]["number"] == number["code"]]
        real = [e for e in mine if e["data"]["caller"] == caller]  # E.164 with "+"
        tests = [e for e in mine if e["data"]["test"]]
        return real and (tests or not world.has_test_calls) and (real[0], tests)

    real, tests = wait_for(answered, timeout=JOURNEY_TIMEOUT, what="call.answered webhooks")
    assert real["data"]["test"] is False
    deliveries = world.hooks.events("call.answered")
    assert deliveries and all(_signed_by(d, secret) for d in deliveries)
    if world.has_test_calls:
        # a test call is marked as one, in the webhook and in the call log
        assert all(test["data"]["test"] is True for test in tests)
        calls = owner.get(f"/numbers/{number['code']}/calls/?kind=tests").text
        assert "data-test-call" in calls


# --- 6. Links in e-mails: an invitation, a password reset --------------------------------------


def test_6_an_invitation_is_accepted_and_a_password_reset_from_their_e_mail_links(world):
    owner = world.person(harness.OWNER_HARBOR)
    invitee = f"new.{uuid.uuid4().hex[:8]}@harbor.example.com"
    invited = owner.post("/members/invite/", {"email": invitee, "role": "staff"}, page="/members/")
    assert invited.status_code == 200, invited.text[-1500:]
    link = next(
        link
        for link in MailSink.links(world.mail.wait_for(invitee, "/account/invite/"))
        if "/account/invite/" in link
    )
    assert link.startswith(world.portal + "/")

    newcomer = PortalClient(world.portal)
    accept = newcomer.get(link)
    assert accept.status_code == 200
    joined = newcomer.post(
        link,
        {
            "name": "New Colleague",
            "password1": "a long new secret 7",
            "password2": "a long new secret 7",
        },
        page=link,
    )
    assert joined.status_code == 200 and "/account/login/" not in joined.url, joined.text[-1500:]
    assert "Harbor Logistics" in newcomer.get("/").text

    stranger = PortalClient(world.portal)
    stranger.post("/account/password/reset/", {"email": invitee}, page="/account/password/reset/")
    reset = world.mail.wait_for(invitee, "/account/password/reset/", timeout=JOURNEY_TIMEOUT)
    reset_link = next(link for link in MailSink.links(reset) if "/password/reset/" in link)
    assert reset_link.startswith(world.portal + "/")
    form_page = stranger.get(reset_link)
    assert form_page.status_code == 200 and "new_password1" in form_page.text
    saved = stranger.post(
        form_page.url,
        {"new_password1": "another secret 8 words", "new_password2": "another secret 8 words"},
        page=form_page.url,
    )
    assert "/password/reset/complete/" in saved.url, saved.text[-1500:]
    PortalClient(world.portal).sign_in(invitee, "another secret 8 words")


# --- 7. Voicemail ------------------------------------------------------------------------------


def test_7_a_caller_leaves_a_voicemail_that_the_carrier_records(world):
    owner = world.person(harness.OWNER_SAKURA)
    number = _kept_number(owner)
    _save_default_flow(owner, number["code"], {"action": "voicemail"})
    _until_the_edge_answers(world, number, "voicemail")
    caller = "+8180" + str(uuid.uuid4().int)[:8]

    # a caller dials the number: the carrier asks the edge and carries out the answer
    rung = world.ring(number["e164"], caller)
    transcript = rung["transcript"]
    assert transcript["outcome"] == "voicemail", rung["text"]
    assert transcript["voicemail"]["duration_seconds"] > 0

    # the carrier's operators hear it on the carrier's own console
    console = requests.Session()
    login_url = world.layout.sandbox_url + "/login/"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', console.get(login_url).text)
    console.post(
        login_url,
        {
            "csrfmiddlewaretoken": token[1],
            "username": "operator@example.com",
            "password": harness.DEMO_PASSWORD,
        },
        headers={"Referer": login_url},
        timeout=30,
    )
    page = console.get(world.layout.sandbox_url + "/account/", timeout=30)
    assert page.status_code == 200 and caller.lstrip("+") in page.text.replace("+", "")
    audio = re.search(r'src="(/sandbox/account/voicemail/[0-9a-f-]{36}\.wav)"', page.text)[1]
    recording = console.get(world.layout.sandbox_url.removesuffix("/sandbox") + audio, timeout=30)
    assert recording.status_code == 200 and recording.content[:4] == b"RIFF"

    # and the company sees a caller's call answered by voicemail, not a test call
    def logged():
        calls = owner.get(f"/numbers/{number['code']}/calls/?kind=callers").text
        digits = caller.lstrip("+")
        return digits[-8:] in calls.replace("-", "").replace(" ", "") and calls

    calls = wait_for(logged, timeout=JOURNEY_TIMEOUT, what="the caller's call in the call log")
    assert "voicemail" in calls.lower()
