"""The incoming-call engine against a real local HTTP server playing a customer's action URLs."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from sandbox.burst import percentile, simulate_burst
from sandbox.incoming import MAX_ANSWER_BYTES, RECORDING_SECONDS, simulate_incoming_call

DATA = Path(__file__).parent / "data"
CALLER = "+819012345678"
DIN = "815012345678"  # as Xoxzo lists DINs: E.164 digits without "+"

# path: (status, content type, body); "{base}" becomes the server's own URL.
ROUTES = {
    "/playback": (200, "text/plain", "playback {base}/audio/greeting-en.mp3"),
    "/transfer": (200, "text/plain", "transfer +81336042000"),
    "/say": (200, "text/plain; charset=utf-8", 'say ja "お電話ありがとうございます。"'),
    "/voicemail": (200, "text/plain", "voicemail"),
    "/voicemail-say": (200, "text/html", 'voicemail say en "Please leave a message."\n'),
    "/voicemail-playback": (200, "text/plain", "voicemail playback {base}/audio/tone-8khz.mp3"),
    "/crlf": (200, "text/html; charset=UTF-8", "voicemail\r\n"),
    "/shift-jis": (200, "text/plain; charset=shift_jis", 'say ja "もしもし"'),
    "/error": (500, "text/html", "<h1>Server Error</h1>"),
    "/redirect": (302, "text/html", ""),
    "/json": (200, "application/json", '"voicemail"'),
    "/garbage": (200, "text/plain", "Hello! Thanks for calling."),
    "/bad-quoting": (200, "text/plain", 'say en "He said "hi""'),
    "/two-lines": (200, "text/plain", 'say en "Hello."\nvoicemail\n'),
    "/empty": (200, "text/plain", ""),
    "/huge": (200, "text/plain", "voicemail " + "x" * (MAX_ANSWER_BYTES + 10)),
    "/playback-missing": (200, "text/plain", "playback {base}/audio/missing.mp3"),
    "/playback-text": (200, "text/plain", "playback {base}/audio/text.mp3"),
    "/playback-wav": (200, "text/plain", "playback {base}/audio/wav-renamed.mp3"),
    "/playback-as-text": (200, "text/plain", "playback {base}/as-text/greeting-ja.mp3"),
    "/voicemail-missing": (200, "text/plain", "voicemail playback {base}/audio/missing.mp3"),
    "/transfer-to-din": (200, "text/plain", "transfer +815011112222"),
    "/loop-a": (200, "text/plain", "transfer +815033334444"),
    "/loop-b": (200, "text/plain", f"transfer +{DIN}"),
    "/transfer-to-broken": (200, "text/plain", "transfer +815055556666"),
}
# Sandbox DINs other than the dialled one, for lookup_action_url.
DINS = {
    "+815011112222": "/say",
    "+815033334444": "/loop-b",
    "+815055556666": "/error",
}


class BurstReadyHTTPServer(ThreadingHTTPServer):
    # The default listen backlog of 5 drops connections in a burst; the kernel then retries
    # the SYN after a second, which would show up as a 1 s p99 that is not the engine's.
    request_queue_size = 128


class Server:
    """The customer's side: action URLs and MP3s on 127.0.0.1, with a log of what was asked."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.release = threading.Event()  # lets a deliberately slow handler end at teardown
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a production server answers
            # Headers and body go out in two writes: without this, Nagle's algorithm and
            # delayed ACKs add ~40 ms to every reused connection and skew the latencies.
            disable_nagle_algorithm = True

            def do_GET(self):
                parts = urlsplit(self.path)
                server.requests.append((parts.path, parse_qs(parts.query, keep_blank_values=True)))
                server.answer(self, parts.path)

            def log_message(self, *args):
                pass

        self.httpd = BurstReadyHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def lookup(self, number: str) -> str | None:
        path = DINS.get(number)
        return self.url(path) if path else None

    def answer(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        if path == "/slow":
            self.release.wait(2)
            return self.send(handler, 200, "text/plain", b"voicemail")
        if path.startswith("/chain/"):  # /chain/N transfers to the DIN numbered N + 1
            hop = int(path.rsplit("/", 1)[1])
            if hop == 9:
                return self.send(handler, 200, "text/plain", b'say en "end of the chain"')
            return self.send(handler, 200, "text/plain", f"transfer {chain_din(hop + 1)}".encode())
        if path.startswith(("/audio/", "/as-text/")):
            file = DATA / path.rsplit("/", 1)[1]
            if not file.is_file():
                return self.send(handler, 404, "text/html", b"Not Found")
            content_type = "audio/mpeg" if path.startswith("/audio/") else "text/plain"
            return self.send(handler, 200, content_type, file.read_bytes())
        if path == "/latin-1":  # declares no charset, so UTF-8 is expected
            return self.send(handler, 200, "text/plain", 'say en "café"'.encode("latin-1"))
        if path == "/untyped":
            return self.send(handler, 200, "", b"voicemail")
        if path not in ROUTES:
            return self.send(handler, 404, "text/html", b"Not Found")
        status, content_type, body = ROUTES[path]
        charset = "shift_jis" if "shift_jis" in content_type else "utf-8"
        self.send(handler, status, content_type, body.format(base=self.base).encode(charset))

    @staticmethod
    def send(handler, status: int, content_type: str, body: bytes) -> None:
        handler.send_response(status)
        if content_type:
            handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        if status == 302:
            handler.send_header("Location", "/voicemail")
        handler.end_headers()
        handler.wfile.write(body)


def chain_din(hop: int) -> str:
    return f"+8150123400{hop:02d}"


@pytest.fixture(scope="module")
def server():
    server = Server()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.httpd.shutdown()
    server.httpd.server_close()


def call(server: Server, path: str, **options):
    options.setdefault("caller", CALLER)
    options.setdefault("recipient", DIN)
    options.setdefault("lookup_action_url", server.lookup)
    return simulate_incoming_call(action_url=server.url(path), **options)


def kinds(transcript) -> list[str]:
    return [step.kind for step in transcript.steps]


# --- the six command forms -------------------------------------------------------------------


def test_it_sends_caller_and_recipient_like_xoxzo(server):
    call(server, "/voicemail")
    path, query = server.requests[-1]
    assert (path, query) == ("/voicemail", {"caller": [CALLER], "recipient": [DIN]})


def test_it_sends_an_empty_caller_for_a_withheld_number(server):
    transcript = call(server, "/voicemail", caller=None)
    assert server.requests[-1][1]["caller"] == [""]
    assert transcript.caller == ""
    assert "Incoming call from anonymous" in transcript.format_text()


def test_it_plays_an_mp3_and_measures_it(server):
    transcript = call(server, "/playback")
    assert transcript.outcome == "completed"
    assert transcript.failure_reason == ""
    assert kinds(transcript) == ["request", "answer", "playback"]
    assert all(step.ok for step in transcript.steps)
    assert transcript.audio_seconds == pytest.approx(6.27, abs=0.05)
    assert transcript.answers == (f"playback {server.base}/audio/greeting-en.mp3",)
    assert "MPEG-2 Layer III, 32 kbit/s, 22050 Hz mono" in transcript.steps[-1].detail
    assert transcript.billed_seconds == 60


def test_it_notes_an_mp3_served_with_a_text_content_type(server):
    transcript = call(server, "/playback-as-text")
    assert transcript.outcome == "completed"
    assert "note: served as text/plain, not audio/mpeg" in transcript.steps[-1].detail


def test_it_says_the_text(server):
    transcript = call(server, "/say")
    assert transcript.outcome == "completed"
    assert kinds(transcript) == ["request", "answer", "say"]
    assert transcript.audio_seconds > 1
    assert "of ja speech" in transcript.steps[-1].detail
    assert "お電話ありがとうございます。" in transcript.steps[-1].detail


def test_it_decodes_the_charset_the_answer_declares(server):
    transcript = call(server, "/shift-jis")
    assert transcript.outcome == "completed"
    assert transcript.answers == ('say ja "もしもし"',)


def test_it_transfers_to_an_external_number(server):
    transcript = call(server, "/transfer")
    assert transcript.outcome == "transferred"
    assert transcript.transferred_to == "+81336042000"
    assert transcript.steps[-1].detail == "to external number +81336042000"
    assert "Outcome: transferred to external number +81336042000" in transcript.format_text()


@pytest.mark.parametrize("path", ["/voicemail", "/crlf"])
def test_it_records_a_voicemail_without_a_greeting(server, path):
    transcript = call(server, path)
    assert transcript.outcome == "voicemail"
    assert kinds(transcript) == ["request", "answer", "recording"]
    recording = transcript.voicemail
    assert (recording.caller, recording.recipient, recording.greeting) == (CALLER, DIN, "none")
    assert recording.duration_seconds == RECORDING_SECONDS
    assert recording.wav_bytes[:4] == b"RIFF"
    assert len(recording.wav_bytes) < 25_000  # stored per message: it must stay small


def test_it_says_the_voicemail_greeting_first(server):
    transcript = call(server, "/voicemail-say")
    assert transcript.outcome == "voicemail"
    assert kinds(transcript) == ["request", "answer", "greeting", "recording"]
    assert transcript.voicemail.greeting == "say"
    assert transcript.audio_seconds > RECORDING_SECONDS


def test_it_plays_the_voicemail_greeting_first(server):
    transcript = call(server, "/voicemail-playback")
    assert transcript.outcome == "voicemail"
    assert kinds(transcript) == ["request", "answer", "greeting", "recording"]
    assert transcript.voicemail.greeting == "playback"
    assert transcript.audio_seconds == pytest.approx(2.16 + RECORDING_SECONDS, abs=0.05)


# --- transfers between sandbox DINs ----------------------------------------------------------


def test_it_follows_a_transfer_to_another_sandbox_din(server):
    transcript = call(server, "/transfer-to-din")
    assert transcript.outcome == "completed"
    assert transcript.dins == (DIN, "815011112222")
    assert kinds(transcript) == ["request", "answer", "transfer", "request", "answer", "say"]
    assert [step.leg for step in transcript.steps] == [0, 0, 0, 1, 1, 1]
    # the second action URL sees the original caller and its own DIN, written like the first
    assert server.requests[-1] == ("/say", {"caller": [CALLER], "recipient": ["815011112222"]})
    assert transcript.answers == ("transfer +815011112222", 'say ja "お電話ありがとうございます。"')
    assert transcript.billed_seconds == 120  # two action-URL requests, a first minute each


def test_it_writes_the_next_recipient_with_a_plus_when_the_first_had_one(server):
    call(server, "/transfer-to-din", recipient="+" + DIN)
    assert server.requests[-1][1]["recipient"] == ["+815011112222"]


def test_it_fails_a_transfer_loop(server):
    transcript = call(server, "/loop-a")
    assert transcript.outcome == "failed"
    assert transcript.failure_reason == (
        f"after transfer to 815033334444: transfer loop: +{DIN} → +815033334444 → +{DIN}"
    )
    assert transcript.steps[-1].ok is False


def test_it_bounds_the_transfer_depth(server):
    # given a chain of sandbox DINs, each transferring to the next, 9 hops long
    def lookup(number):
        hop = int(number[-2:])
        return server.url(f"/chain/{hop}") if number == chain_din(hop) else None

    # when
    too_deep = call(server, "/chain/0", lookup_action_url=lookup, max_transfer_depth=5)
    deep_enough = call(server, "/chain/0", lookup_action_url=lookup, max_transfer_depth=9)
    # then
    assert too_deep.outcome == "failed"
    assert too_deep.failure_reason.endswith("more than 5 transfers between sandbox DINs")
    assert len(too_deep.dins) == 6
    assert deep_enough.outcome == "completed"
    assert len(deep_enough.dins) == 10


def test_it_fails_when_the_transferred_to_din_fails(server):
    transcript = call(server, "/transfer-to-broken")
    assert transcript.outcome == "failed"
    assert (
        transcript.failure_reason == "after transfer to 815055556666: action URL answered HTTP 500"
    )


# --- failed calls ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/error", "action URL answered HTTP 500"),
        ("/redirect", "action URL answered HTTP 302 (redirects are not followed)"),
        ("/missing-route", "action URL answered HTTP 404"),
        ("/json", "action URL answered with 'application/json'; expected text/plain or text/html"),
        ("/untyped", "action URL answered with no content type; expected text/plain"),
        ("/latin-1", "the answer is not valid utf-8 (byte 12); UTF-8 is expected"),
        ("/garbage", "invalid answer 'Hello! Thanks for calling.': column 1: unknown command"),
        ("/bad-quoting", "unexpected 'hi\"\"' after 'say text'"),
        ("/two-lines", "the answer has more than one line"),
        ("/empty", "invalid answer '': empty answer"),
        ("/huge", f"the answer is longer than {MAX_ANSWER_BYTES} bytes"),
        ("/playback-missing", "/audio/missing.mp3 failed: MP3 URL answered HTTP 404"),
        ("/playback-text", "/audio/text.mp3 failed: the file is text, not MPEG audio"),
        ("/playback-wav", "/audio/wav-renamed.mp3 failed: the file is a WAV file, not MPEG"),
        ("/voicemail-missing", "greeting of http://"),
    ],
)
def test_it_fails_the_call_with_the_reason(server, path, reason):
    transcript = call(server, path)
    assert transcript.outcome == "failed"
    assert reason in transcript.failure_reason
    assert transcript.steps[-1].ok is False
    assert transcript.voicemail is None
    assert transcript.billed_seconds == 60  # the first minute is billed even so
    assert f"Outcome: failed: {transcript.failure_reason}" in transcript.format_text()


def test_it_fails_a_call_whose_action_url_is_too_slow(server):
    transcript = call(server, "/slow", timeout=0.5)
    assert transcript.outcome == "failed"
    assert transcript.failure_reason == "action URL timed out after 0.5 s"
    assert transcript.action_url_latency_ms is None
    assert transcript.answers == ()


def test_it_fails_a_call_whose_action_url_is_unreachable():
    with socket.socket() as probe:  # a port that was free a moment ago and is closed now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transcript = simulate_incoming_call(
        action_url=f"http://127.0.0.1:{port}/a/",
        caller=CALLER,
        recipient=DIN,
        lookup_action_url=lambda number: None,
        timeout=1,
    )
    assert transcript.outcome == "failed"
    assert transcript.failure_reason == "action URL unreachable: Connection refused"


@pytest.mark.parametrize("action_url", ["ftp://example.com/a", "not a url", ""])
def test_it_fails_a_call_whose_action_url_is_not_http(action_url):
    transcript = simulate_incoming_call(
        action_url=action_url, caller=CALLER, recipient=DIN, lookup_action_url=lambda n: None
    )
    assert transcript.outcome == "failed"
    assert "is not an http(s) URL" in transcript.failure_reason


def test_it_lets_a_broken_lookup_raise(server):
    def lookup(number):
        raise RuntimeError("database is down")

    with pytest.raises(RuntimeError, match="database is down"):
        call(server, "/transfer-to-din", lookup_action_url=lookup)


# --- the transcript --------------------------------------------------------------------------


def test_it_gives_a_json_safe_transcript(server):
    transcript = call(server, "/voicemail-say")
    data = json.loads(json.dumps(transcript.as_dict()))
    assert data["outcome"] == "voicemail"
    assert data["voicemail"]["size_bytes"] == len(transcript.voicemail.wav_bytes)
    assert "wav_bytes" not in data["voicemail"]
    assert [step["kind"] for step in data["steps"]] == kinds(transcript)
    assert data["action_url_latency_ms"] > 0
    assert data["answers"] == ['voicemail say en "Please leave a message."\n']


def test_it_formats_a_readable_transcript(server):
    text = call(server, "/transfer-to-din").format_text().splitlines()
    assert text[0] == f"Incoming call from {CALLER} to {DIN}"
    assert text[1] == f"Action URL: {server.base}/transfer-to-din"
    assert "ok" in text[2] and "request" in text[2] and "HTTP 200" in text[2]
    assert "[leg 1]" in text[5]
    assert text[-2] == "Outcome: completed"
    assert text[-1].startswith("Audio ") and "billed about 2 min" in text[-1]


# --- bursts ------------------------------------------------------------------------------------


def test_it_replays_a_burst_and_counts_outcomes(server):
    paths = ["/say", "/voicemail", "/transfer", "/error"] * 10
    calls = [{"action_url": server.url(p), "caller": CALLER, "recipient": DIN} for p in paths]
    result = simulate_burst(calls, concurrency=8, lookup_action_url=server.lookup)
    assert result.calls == 40
    assert result.concurrency == 8
    assert result.outcomes == {"completed": 10, "transferred": 10, "voicemail": 10, "failed": 10}
    assert result.failure_reasons == {"action URL answered HTTP 500": 10}
    assert result.latency_samples == 40
    assert 0 < result.latency_p50_ms <= result.latency_p99_ms <= result.latency_max_ms
    assert result.calls_per_second > 0
    assert result.transcripts == ()
    assert "40 calls, 8 at a time" in result.format_text()
    assert json.loads(json.dumps(result.as_dict()))["outcomes"]["failed"] == 10


def test_it_keeps_burst_transcripts_on_request(server):
    calls = [{"action_url": server.url("/voicemail"), "recipient": DIN}] * 3
    result = simulate_burst(calls, concurrency=100, keep_transcripts=True)
    assert result.concurrency == 3  # never more threads than calls
    assert [t.outcome for t in result.transcripts] == ["voicemail"] * 3
    assert all(t.caller == "" for t in result.transcripts)


def test_it_refuses_a_malformed_burst():
    with pytest.raises(ValueError, match="concurrency"):
        simulate_burst([], concurrency=0)
    with pytest.raises(ValueError, match=r"unknown keys \['callerid'\], missing keys \[\]"):
        simulate_burst([{"action_url": "x", "recipient": DIN, "callerid": "1"}], concurrency=1)


def test_it_takes_nearest_rank_percentiles():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
