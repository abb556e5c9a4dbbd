"""Incoming calls kept by the sandbox: the service, the ledger, voicemail and simulate_call."""

from dataclasses import dataclass
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from sandbox import accounts, incoming, incoming_calls, subscriptions
from sandbox.models import (
    SandboxAccount,
    SandboxDin,
    SandboxIncomingCall,
    SandboxLedgerEntry,
    SandboxSubscription,
    SandboxVoicemail,
)

pytestmark = pytest.mark.django_db

CALLER = "+819012345678"


@dataclass
class Numbers:
    account: SandboxAccount
    main: SandboxDin  # toll-free 0120: 18 credits a minute
    other: SandboxDin  # 050: 1 credit a minute

    def point(self, din: SandboxDin, url: str) -> None:
        subscriptions.sandbox_subscription_set_action_url(
            account=self.account, din_uid=din.din_uid, action_url=url
        )


@pytest.fixture
def numbers(settings) -> Numbers:
    settings.XOXZO_SID = "INCOMINGSID"
    settings.XOXZO_AUTH_TOKEN = "incoming-token"
    settings.SANDBOX_INITIAL_BALANCE = 50_000
    account = accounts.sandbox_account_get_or_create(sid="INCOMINGSID")
    subscriptions.sandbox_inventory_ensure()
    main = SandboxDin.objects.filter(prefix="120").first()
    other = SandboxDin.objects.filter(prefix="50").first()
    for din in (main, other):
        subscriptions.sandbox_subscription_create(account=account, din_uid=din.din_uid)
    return Numbers(account=account, main=main, other=other)


def ring(numbers, action_server, path: str, **options):
    numbers.point(numbers.main, action_server.url(path))
    options.setdefault("caller", CALLER)
    return incoming_calls.sandbox_incoming_call(to=f"+{numbers.main.din}", **options)


def charges() -> list[Decimal]:
    entries = SandboxLedgerEntry.objects.filter(kind=SandboxLedgerEntry.Kind.INCOMING_CALL)
    return list(entries.values_list("amount", flat=True))


# --- the six command forms, kept ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,outcome,greeting",
    [
        ("/playback", "completed", None),
        ("/say", "completed", None),
        ("/transfer", "transferred", None),
        ("/voicemail", "voicemail", "none"),
        ("/voicemail-say", "voicemail", "say"),
        ("/voicemail-playback", "voicemail", "playback"),
    ],
)
def test_it_keeps_the_call_its_voicemail_and_one_charge(
    numbers, action_server, path, outcome, greeting
):
    call, transcript = ring(numbers, action_server, path)

    assert transcript.outcome == outcome, transcript.format_text()
    call.refresh_from_db()
    assert call.outcome == outcome
    assert call.failure_reason == ""
    assert call.din == numbers.main
    assert call.caller == CALLER
    assert call.action_url == action_server.url(path)
    assert call.transcript == transcript.as_dict()
    assert call.billed_seconds == transcript.billed_seconds >= 60
    assert call.billed_minutes == transcript.billed_seconds // 60
    assert call.cost == Decimal(18) * call.billed_minutes
    assert call.charged_at is not None
    assert charges() == [-call.cost]
    voicemails = list(SandboxVoicemail.objects.all())
    if greeting is None:
        assert voicemails == []
    else:
        [voicemail] = voicemails
        assert voicemail.incoming_call == call
        assert voicemail.greeting == greeting
        assert voicemail.recipient == numbers.main.din
        assert voicemail.caller == CALLER
        assert bytes(voicemail.recording) == incoming.generate_recording()
        assert bytes(voicemail.recording[:4]) == b"RIFF"
        assert (voicemail.greeting_summary != "") == (greeting != "none")


def test_it_charges_a_call_only_once(numbers, action_server):
    call, _transcript = ring(numbers, action_server, "/voicemail")
    balance = SandboxAccount.objects.get().balance

    again = incoming_calls.sandbox_incoming_call_charge(incoming_call=call)
    fresh = SandboxIncomingCall.objects.get()
    twice = incoming_calls.sandbox_incoming_call_charge(incoming_call=fresh)

    assert again is None and twice is None
    assert SandboxAccount.objects.get().balance == balance == Decimal(50_000 - 4500 - 650 - 18)
    assert len(charges()) == 1


# --- broken action URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,reason",
    [
        ("/error", "action URL answered HTTP 500"),
        ("/garbage", "invalid answer 'Hello! Thanks for calling.'"),
        ("/bad-quoting", "invalid answer"),
        ("/playback-missing", "/audio/missing.mp3 failed"),
        ("/no-such-page", "action URL answered HTTP 404"),
    ],
)
def test_it_keeps_a_failed_call_and_bills_its_first_minute(numbers, action_server, path, reason):
    call, transcript = ring(numbers, action_server, path)

    call.refresh_from_db()
    assert transcript.outcome == call.outcome == "failed"
    assert reason in call.failure_reason
    assert call.failure_reason == transcript.failure_reason
    assert call.billed_minutes == 1
    assert charges() == [Decimal(-18)]
    assert not SandboxVoicemail.objects.exists()


def test_it_fails_a_call_whose_action_url_times_out(numbers, action_server):
    call, _transcript = ring(numbers, action_server, "/slow", timeout=0.3)

    assert call.outcome == "failed"
    assert call.failure_reason == "action URL timed out after 0.3 s"
    assert charges() == [Decimal(-18)]


# --- which number is rung -------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["+{din}", "{din}", "0{national}"])
def test_it_accepts_the_number_as_e164_digits_or_national(numbers, action_server, form):
    numbers.point(numbers.main, action_server.url("/voicemail"))
    to = form.format(din=numbers.main.din, national=numbers.main.din.removeprefix("81"))

    call, _transcript = incoming_calls.sandbox_incoming_call(to=to, caller=CALLER)

    assert call.outcome == "voicemail"
    assert call.din == numbers.main
    assert call.recipient == to
    assert action_server.requests[-1][1]["recipient"] == [numbers.main.din]


@pytest.mark.parametrize("caller", ["anonymous", "", None, " Anonymous "])
def test_it_sends_an_empty_caller_for_a_withheld_number(numbers, action_server, caller):
    call, transcript = ring(numbers, action_server, "/voicemail", caller=caller)

    assert action_server.requests[-1][1]["caller"] == [""]
    assert call.caller == "" == transcript.caller
    assert SandboxVoicemail.objects.get().caller == ""


@pytest.mark.parametrize("to", ["+815099999999", "not a number", ""])
def test_it_fails_a_number_that_is_not_in_service_without_any_request(numbers, action_server, to):
    asked = len(action_server.requests)

    call, transcript = incoming_calls.sandbox_incoming_call(to=to, caller=CALLER)

    assert transcript.outcome == call.outcome == "failed"
    assert call.failure_reason == "number not in service"
    assert call.din is None
    assert transcript.steps == ()
    assert len(action_server.requests) == asked
    assert charges() == []


def test_it_fails_a_released_number_as_not_in_service(numbers, action_server):
    numbers.point(numbers.main, action_server.url("/voicemail"))
    subscriptions.sandbox_subscription_release(
        account=numbers.account, din_uid=numbers.main.din_uid
    )

    call, _transcript = incoming_calls.sandbox_incoming_call(
        to=f"+{numbers.main.din}", caller=CALLER
    )

    assert call.failure_reason == "number not in service"
    assert not SandboxSubscription.objects.filter(
        din=numbers.main, released_at__isnull=True
    ).exists()


def test_it_fails_a_number_without_an_action_url(numbers, action_server):
    asked = len(action_server.requests)

    call, _transcript = incoming_calls.sandbox_incoming_call(
        to=f"+{numbers.main.din}", caller=CALLER
    )

    assert call.outcome == "failed"
    assert call.failure_reason == "no action URL set"
    assert call.din == numbers.main
    assert len(action_server.requests) == asked
    assert charges() == []


def test_it_follows_a_transfer_to_another_sandbox_number(numbers, action_server):
    numbers.point(numbers.other, action_server.url("/voicemail-say"))

    call, transcript = ring(numbers, action_server, f"/transfer-to/{numbers.other.din}")

    assert call.outcome == "voicemail"
    assert transcript.dins == (numbers.main.din, numbers.other.din)
    assert action_server.requests[-1] == (
        "/voicemail-say",
        {"caller": [CALLER], "recipient": [numbers.other.din]},
    )
    assert SandboxVoicemail.objects.get().recipient == numbers.other.din
    # Two action-URL requests, each billing its first minute, at the dialled number's rate.
    assert call.billed_minutes == 2
    assert charges() == [Decimal(-36)]


def test_it_records_a_crash_of_the_engine_as_a_failed_call(numbers, action_server, monkeypatch):
    def crash(**options):
        raise RuntimeError("engine bug")

    monkeypatch.setattr(incoming, "simulate_incoming_call", crash)

    call, transcript = ring(numbers, action_server, "/voicemail")

    assert call.outcome == transcript.outcome == "failed"
    assert call.failure_reason == "sandbox error: RuntimeError"


# --- the management command -----------------------------------------------------------------------


def simulate(*args) -> str:
    out = StringIO()
    call_command("simulate_call", *args, stdout=out)
    return out.getvalue()


def test_it_prints_the_transcript_and_exits_0(numbers, action_server):
    numbers.point(numbers.main, action_server.url("/voicemail-say"))

    output = simulate("--to", f"+{numbers.main.din}", "--from", CALLER)

    call = SandboxIncomingCall.objects.get()
    assert output.startswith(f"Incoming call from {CALLER} to {numbers.main.din}\n")
    assert "Outcome: voicemail (2.5 s message recorded)" in output
    assert f"Call id: {call.call_id}" in output
    assert call.outcome == "voicemail"


def test_it_exits_1_for_a_failed_call(numbers, action_server):
    out = StringIO()

    with pytest.raises(SystemExit) as exit:
        call_command("simulate_call", "--to", "+815099999999", "--from", "anonymous", stdout=out)

    assert exit.value.code == 1
    assert "Incoming call from anonymous to +815099999999" in out.getvalue()
    assert "Outcome: failed: number not in service" in out.getvalue()
    assert SandboxIncomingCall.objects.get().outcome == "failed"


def test_it_asks_for_exactly_one_number_outside_load_mode(numbers):
    with pytest.raises(CommandError, match="exactly one --to"):
        simulate()


def test_it_replays_a_load_and_prints_the_figures(numbers, action_server):
    numbers.point(numbers.main, action_server.url("/voicemail"))
    numbers.point(numbers.other, action_server.url("/error"))
    asked = len(action_server.requests)
    balance = SandboxAccount.objects.get().balance

    output = simulate(
        "--calls", "20", "--concurrency", "4", "--to", numbers.main.din, f"+{numbers.other.din}"
    )

    assert "20 calls, 4 at a time" in output
    assert "calls/s)" in output
    assert "Outcomes: completed 0, transferred 0, voicemail 10, failed 10" in output
    assert "Action URL latency: p50 " in output and " p99 " in output
    assert "10 failed: action URL answered HTTP 500" in output
    queries = [query for _path, query in action_server.requests[asked:]]
    assert len(queries) == 20
    callers = {query["caller"][0] for query in queries}
    assert "" in callers and len(callers) == 19  # varied, two anonymous
    # Not persisted, not charged: the benchmark measures the action URL.
    assert not SandboxIncomingCall.objects.exists()
    assert SandboxAccount.objects.get().balance == balance


def test_it_loads_every_number_with_an_action_url_without_to(numbers, action_server):
    numbers.point(numbers.other, action_server.url("/say"))
    asked = len(action_server.requests)

    output = simulate("--calls", "3", "--concurrency", "2", "--from", CALLER)

    assert "Outcomes: completed 3," in output
    assert {query["recipient"][0] for _p, query in action_server.requests[asked:]} == {
        numbers.other.din
    }
    assert {query["caller"][0] for _p, query in action_server.requests[asked:]} == {CALLER}


def test_it_refuses_to_load_a_number_that_cannot_be_called(numbers):
    with pytest.raises(CommandError, match="no action URL set"):
        simulate("--calls", "2", "--to", numbers.main.din)
    with pytest.raises(CommandError, match="number not in service"):
        simulate("--calls", "2", "--to", "+815099999999")
    with pytest.raises(CommandError, match="No active sandbox number has an action URL"):
        simulate("--calls", "2")
