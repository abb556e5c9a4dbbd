"""The sandbox carrier's incoming-call engine: what Xoxzo does when someone dials a DIN.

Like Xoxzo, the engine sends ``GET <action_url>?caller=…&recipient=…`` over real HTTP, reads the
one-line answer, parses it with the strict grammar (``sandbox.grammar``) and "executes" it:
MP3s are fetched and checked (``sandbox.media``), speech is synthesised or estimated
(``sandbox.speech``), transfers to another sandbox DIN follow that DIN's action URL, and
voicemail produces a small generated recording. Nothing is persisted here: the result is a
``Transcript`` for the caller of the engine (a service, a management command, a benchmark) to
store or print. No Django, no models: this module only needs a way to find a DIN's action URL,
passed in as ``lookup_action_url``.

Choices where Xoxzo documents nothing (see its API documentation), each kept in one place:

- the action URL has ``timeout`` seconds (default 5) for connecting, for each read and for the
  whole answer; redirects are not followed (a 3xx is a failed call);
- the answer must be ``text/plain`` or ``text/html`` (Xoxzo accepts both), in the charset its
  Content-Type declares, else UTF-8, and at most ``MAX_ANSWER_BYTES`` long;
- a transfer keeps the original caller ID; the next action URL gets the target DIN as
  ``recipient``, written like the original recipient was (with or without "+");
- the billed duration is an estimate: every action-URL request bills its first minute [doc],
  audio beyond a minute is rounded up to whole minutes; an external transfer's talk time is not
  simulated (only its first minute is counted).
"""

from __future__ import annotations

import codecs
import functools
import io
import math
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from sandbox import grammar, media, speech

OUTCOMES = ("completed", "transferred", "voicemail", "failed")
ACCEPTED_CONTENT_TYPES = ("text/plain", "text/html")
# One valid answer line can never be longer than this (UTF-8 uses at most 4 bytes a character);
# reading stops there so a misbehaving action URL cannot make the sandbox buffer megabytes.
MAX_ANSWER_BYTES = 4 * grammar.MAX_ANSWER_LENGTH
RECORDING_SECONDS = 2.5  # the simulated caller's voicemail message: short, the portal stores it
RECORDING_SAMPLE_RATE = 8000  # telephone quality, 8-bit mono: 20 kB for the whole message
USER_AGENT = "din-portal-sandbox/1 (Xoxzo-compatible)"


class _CallFailed(Exception):
    """Ends the simulated call; ``reason`` becomes the transcript's failure reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Step:
    kind: str  # request, answer, playback, say, transfer, greeting, recording
    detail: str
    ok: bool
    at_ms: float  # since the call started
    duration_ms: float  # wall time the sandbox spent on this step
    leg: int = 0  # 0 for the dialled DIN, n for the n-th transfer to another sandbox DIN
    audio_seconds: float = 0.0  # what the caller hears (or says) during this step

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "detail": self.detail,
            "ok": self.ok,
            "at_ms": self.at_ms,
            "duration_ms": self.duration_ms,
            "leg": self.leg,
            "audio_seconds": self.audio_seconds,
        }


@dataclass(frozen=True)
class VoicemailRecording:
    """A message "left" by the simulated caller, for the engine's caller to persist."""

    caller: str
    recipient: str  # the DIN whose voicemail took the message (after any transfers)
    greeting: str  # "say", "playback" or "none"
    duration_seconds: float
    wav_bytes: bytes = field(repr=False)
    content_type: str = "audio/wav"

    def as_dict(self) -> dict:
        # The audio stays out of the JSON form: it is stored as a file, not inside a log row.
        return {
            "caller": self.caller,
            "recipient": self.recipient,
            "greeting": self.greeting,
            "duration_seconds": self.duration_seconds,
            "content_type": self.content_type,
            "size_bytes": len(self.wav_bytes),
        }


@dataclass(frozen=True)
class Transcript:
    """Everything that happened on one simulated incoming call, in order."""

    action_url: str
    caller: str  # "" when the number was withheld
    recipient: str
    outcome: str  # one of OUTCOMES
    failure_reason: str  # "" unless outcome == "failed"
    steps: tuple[Step, ...]
    answers: tuple[str, ...]  # the raw answer of each action URL reached, in order
    dins: tuple[str, ...]  # the dialled DIN, then each sandbox DIN transferred to
    transferred_to: str | None  # the external number, when outcome == "transferred"
    voicemail: VoicemailRecording | None
    audio_seconds: float
    billed_seconds: int  # estimate, whole minutes; see the module docstring
    action_url_latency_ms: float | None  # first request, when it got an HTTP answer at all
    total_ms: float

    def as_dict(self) -> dict:
        """A JSON-safe form (voicemail audio described, not embedded)."""
        return {
            "action_url": self.action_url,
            "caller": self.caller,
            "recipient": self.recipient,
            "outcome": self.outcome,
            "failure_reason": self.failure_reason,
            "steps": [step.as_dict() for step in self.steps],
            "answers": list(self.answers),
            "dins": list(self.dins),
            "transferred_to": self.transferred_to,
            "voicemail": self.voicemail.as_dict() if self.voicemail else None,
            "audio_seconds": self.audio_seconds,
            "billed_seconds": self.billed_seconds,
            "action_url_latency_ms": self.action_url_latency_ms,
            "total_ms": self.total_ms,
        }

    def format_text(self) -> str:
        """A human-readable transcript, one step a line, as the management command prints it."""
        lines = [
            f"Incoming call from {self.caller or 'anonymous'} to {self.recipient}",
            f"Action URL: {self.action_url}",
        ]
        for step in self.steps:
            mark = "ok  " if step.ok else "FAIL"
            leg = f"[leg {step.leg}] " if step.leg else ""
            lines.append(
                f"  {step.at_ms:8.1f} ms  {mark}  {step.kind:<9} {leg}{step.detail}"
                f"  ({step.duration_ms:.1f} ms)"
            )
        outcome = self.outcome
        if self.outcome == "failed":
            outcome += f": {self.failure_reason}"
        elif self.outcome == "transferred":
            outcome += f" to external number {self.transferred_to}"
        elif self.voicemail is not None:
            outcome += f" ({self.voicemail.duration_seconds:g} s message recorded)"
        lines.append(f"Outcome: {outcome}")
        lines.append(
            f"Audio {self.audio_seconds:.1f} s, billed about {self.billed_seconds // 60} min, "
            f"handled in {self.total_ms:.1f} ms"
        )
        return "\n".join(lines)


def simulate_incoming_call(
    *,
    action_url: str,
    caller: str | None,
    recipient: str,
    lookup_action_url: Callable[[str], str | None],
    http: requests.Session | None = None,
    timeout: float = 5.0,
    max_transfer_depth: int = 5,
    extra_params: dict | None = None,
) -> Transcript:
    """Simulate one incoming call to ``recipient`` whose DIN answers at ``action_url``.

    ``lookup_action_url`` is called with a transfer target as E.164 with "+"
    (``"+815012345678"``; Xoxzo's ``din`` field is the same without "+") and returns that
    sandbox DIN's action URL, or None when the number is not a sandbox DIN (an external
    transfer). Its own exceptions propagate: they are bugs or outages of the portal, not of the
    customer's action URL. Every failure of the customer's side (timeouts, HTTP errors, invalid
    answers, broken MP3s, transfer loops) ends in a transcript with outcome "failed".
    """
    session = http if http is not None else requests.Session()
    call = _Call(
        action_url=action_url,
        caller=caller or "",
        recipient=recipient,
        lookup_action_url=lookup_action_url,
        session=session,
        timeout=timeout,
        max_transfer_depth=max_transfer_depth,
        extra_params=extra_params,
    )
    try:
        call.run()
    finally:
        if http is None:
            session.close()
    return call.transcript()


class _Call:
    """The mutable state of one call while it runs; ``transcript()`` freezes it."""

    def __init__(
        self,
        *,
        action_url: str,
        caller: str,
        recipient: str,
        lookup_action_url: Callable[[str], str | None],
        session: requests.Session,
        timeout: float,
        max_transfer_depth: int,
        extra_params: dict | None = None,
    ) -> None:
        self.action_url = action_url
        self.extra_params = dict(extra_params or {})
        self.caller = caller
        self.recipient = recipient
        self.lookup_action_url = lookup_action_url
        self.session = session
        self.timeout = timeout
        self.max_transfer_depth = max_transfer_depth
        self.started = time.monotonic()
        self.steps: list[Step] = []
        self.answers: list[str] = []
        self.dins: list[str] = [recipient]
        self.leg = 0
        self.outcome = "failed"
        self.failure_reason = ""
        self.transferred_to: str | None = None
        self.voicemail: VoicemailRecording | None = None
        self.first_latency_ms: float | None = None
        self.finished_ms = 0.0

    # --- running --------------------------------------------------------------------------------

    def run(self) -> None:
        action_url, din = self.action_url, self.recipient
        try:
            while True:
                command = self._ask(action_url, din)
                follow = self._execute(command, din)
                if follow is None:
                    break
                action_url, din = follow
        except _CallFailed as failure:
            self.outcome = "failed"
            where = f"after transfer to {din}: " if self.leg else ""
            self.failure_reason = where + failure.reason
        self.finished_ms = self._since_start()

    def _ask(self, action_url: str, din: str) -> grammar.Command:
        """GET the action URL and parse its answer, recording both steps."""
        step_started = self._since_start()
        try:
            response_status, answer = self._request(action_url, din)
        except _CallFailed as failure:
            self._step("request", f"GET {action_url}: {failure.reason}", False, step_started)
            raise
        self._step(
            "request",
            f"GET {action_url} (caller={self.caller!r}, recipient={din!r}) → HTTP "
            f"{response_status}",
            True,
            step_started,
        )
        self.answers.append(answer)
        step_started = self._since_start()
        try:
            command = grammar.parse(answer)
        except grammar.CommandError as error:
            self._step("answer", f"{_clip(answer)!r}: {error}", False, step_started)
            raise _CallFailed(f"invalid answer {_clip(answer)!r}: {error}") from None
        self._step("answer", grammar.render(command), True, step_started)
        return command

    def _request(self, action_url: str, din: str) -> tuple[int, str]:
        """(status, decoded answer); the first leg's latency is kept for burst statistics."""
        request_started = time.monotonic()
        deadline = request_started + self.timeout
        params = {"caller": self.caller, "recipient": din, **self.extra_params}
        if not action_url.startswith(("http://", "https://")):
            raise _CallFailed(f"action URL {action_url!r} is not an http(s) URL")
        try:
            with self.session.get(
                action_url,
                params=params,
                timeout=(self.timeout, self.timeout),
                stream=True,
                allow_redirects=False,
                headers={"User-Agent": USER_AGENT},
            ) as response:
                status = response.status_code
                # An error page is not read: its size or slowness must not hide the status.
                body = _read_answer(response, deadline) if status == 200 else b""
                if self.leg == 0:
                    self.first_latency_ms = round((time.monotonic() - request_started) * 1000, 2)
                content_type = response.headers.get("Content-Type", "")
        except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
            raise _CallFailed(f"action URL {action_url!r} is not an http(s) URL") from None
        except requests.exceptions.InvalidURL as error:
            raise _CallFailed(f"action URL {action_url!r} is invalid: {error}") from None
        except requests.RequestException as error:
            if media.is_timeout(error):
                raise _CallFailed(f"action URL timed out after {self.timeout:g} s") from None
            reason = media.describe_request_error(error)
            raise _CallFailed(f"action URL unreachable: {reason}") from None
        if status != 200:
            hint = " (redirects are not followed)" if 300 <= status < 400 else ""
            raise _CallFailed(f"action URL answered HTTP {status}{hint}")
        mime, _, parameters = content_type.partition(";")
        mime = mime.strip().lower()
        if mime not in ACCEPTED_CONTENT_TYPES:
            shown = repr(mime) if mime else "no content type"
            raise _CallFailed(f"action URL answered with {shown}; expected text/plain or text/html")
        return status, _decode_answer(body, parameters)

    def _execute(self, command: grammar.Command, din: str) -> tuple[str, str] | None:
        """Carry out ``command``; return (action URL, DIN) when the call moves to another DIN."""
        if isinstance(command, grammar.Playback):
            self._playback(command.url, "playback")
            self.outcome = "completed"
        elif isinstance(command, grammar.Say):
            self._say(command, "say")
            self.outcome = "completed"
        elif isinstance(command, grammar.Voicemail):
            self._voicemail(command, din)
            self.outcome = "voicemail"
        elif isinstance(command, grammar.Transfer):
            return self._transfer(command.number)
        return None

    def _playback(self, url: str, kind: str) -> None:
        step_started = self._since_start()
        try:
            fetched = media.fetch_media(url, timeout=self.timeout, session=self.session)
            info = media.inspect_mp3(fetched.data)
        except media.MediaError as error:
            self._step(kind, f"{url}: {error.reason}", False, step_started)
            raise _CallFailed(f"{kind} of {url} failed: {error.reason}") from None
        channels = "mono" if info.channels == 1 else f"{info.channels} channels"
        detail = (
            f"played {url}: {info.duration_seconds:.2f} s, {info.kind}, "
            f"{info.bitrate // 1000} kbit/s, {info.sample_rate} Hz {channels}, "
            f"{len(fetched.data)} bytes"
        )
        notes = list(fetched.notes)
        if info.damaged_frames:
            notes.append(f"{info.damaged_frames} damaged frame(s) skipped, heard as a glitch")
        if notes:
            detail += f" (note: {'; '.join(notes)})"
        self._step(kind, detail, True, step_started, audio_seconds=info.duration_seconds)

    def _say(self, command: grammar.Say, kind: str) -> None:
        step_started = self._since_start()
        result = speech.render_speech(command.lang, command.text, timeout=self.timeout)
        how = "espeak-ng" if result.engine != "estimate" else "estimated"
        if result.note:
            how += f"; {result.note}"
        detail = (
            f"said {result.duration_seconds:.2f} s of {command.lang} speech ({how}): "
            f"{_clip(command.text)!r}"
        )
        self._step(kind, detail, True, step_started, audio_seconds=result.duration_seconds)

    def _voicemail(self, command: grammar.Voicemail, din: str) -> None:
        greeting = command.greeting
        if isinstance(greeting, grammar.Playback):
            self._playback(greeting.url, "greeting")
        elif isinstance(greeting, grammar.Say):
            self._say(greeting, "greeting")
        step_started = self._since_start()
        wav_bytes = generate_recording()
        self.voicemail = VoicemailRecording(
            caller=self.caller,
            recipient=din,
            greeting={grammar.Say: "say", grammar.Playback: "playback"}.get(type(greeting), "none"),
            duration_seconds=RECORDING_SECONDS,
            wav_bytes=wav_bytes,
        )
        self._step(
            "recording",
            f"caller left a {RECORDING_SECONDS:g} s message ({len(wav_bytes)} bytes WAV)",
            True,
            step_started,
            audio_seconds=RECORDING_SECONDS,
        )

    def _transfer(self, number: str) -> tuple[str, str] | None:
        step_started = self._since_start()
        digits = number.removeprefix("+")
        visited = [din.removeprefix("+") for din in self.dins]
        if digits in visited:
            path = " → ".join(f"+{d}" for d in [*visited[visited.index(digits) :], digits])
            self._step("transfer", f"to {number}: already on this call", False, step_started)
            raise _CallFailed(f"transfer loop: {path}")
        target_url = self.lookup_action_url(number)
        if target_url is None:
            self.outcome = "transferred"
            self.transferred_to = number
            self._step("transfer", f"to external number {number}", True, step_started)
            return None
        if self.leg >= self.max_transfer_depth:
            self._step("transfer", f"to sandbox DIN {number}: too deep", False, step_started)
            raise _CallFailed(f"more than {self.max_transfer_depth} transfers between sandbox DINs")
        self._step(
            "transfer", f"to sandbox DIN {number}, following its action URL", True, step_started
        )
        # The next action URL sees the DIN written the way the dialled one was (Xoxzo's format
        # for numbers in the query is undocumented by Xoxzo).
        next_din = number if self.recipient.startswith("+") else digits
        self.dins.append(next_din)
        self.leg += 1
        return target_url, next_din

    # --- recording results ------------------------------------------------------------------

    def _since_start(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 2)

    def _step(
        self, kind: str, detail: str, ok: bool, at_ms: float, *, audio_seconds: float = 0.0
    ) -> None:
        duration = round(self._since_start() - at_ms, 2)
        self.steps.append(
            Step(
                kind=kind,
                detail=detail,
                ok=ok,
                at_ms=at_ms,
                duration_ms=duration,
                leg=self.leg,
                audio_seconds=audio_seconds,
            )
        )

    def transcript(self) -> Transcript:
        audio_seconds = round(sum(step.audio_seconds for step in self.steps), 3)
        return Transcript(
            action_url=self.action_url,
            caller=self.caller,
            recipient=self.recipient,
            outcome=self.outcome,
            failure_reason=self.failure_reason,
            steps=tuple(self.steps),
            answers=tuple(self.answers),
            dins=tuple(self.dins),
            transferred_to=self.transferred_to,
            voicemail=self.voicemail,
            audio_seconds=audio_seconds,
            billed_seconds=self._billed_seconds(),
            action_url_latency_ms=self.first_latency_ms,
            total_ms=self.finished_ms,
        )

    def _billed_seconds(self) -> int:
        """Whole minutes, at least one per action-URL request made (see the module docstring)."""
        requests_made = sum(1 for step in self.steps if step.kind == "request")
        total = 0
        for leg in range(requests_made):
            seconds = sum(step.audio_seconds for step in self.steps if step.leg == leg)
            total += max(1, math.ceil(seconds / 60)) * 60
        return total


def _read_answer(response: requests.Response, deadline: float) -> bytes:
    body = b""
    for chunk in response.iter_content(chunk_size=4096):
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise _CallFailed(
                f"the answer is longer than {MAX_ANSWER_BYTES} bytes; expected one command line"
            )
        if time.monotonic() > deadline:
            raise requests.Timeout("the answer took longer than the time budget")
    return body


def _decode_answer(body: bytes, content_type_parameters: str) -> str:
    charset = "utf-8"
    for parameter in content_type_parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').lower()
    try:
        codecs.lookup(charset)
    except LookupError:
        raise _CallFailed(f"the answer declares an unknown charset {charset!r}") from None
    try:
        return body.decode(charset)
    except UnicodeDecodeError as error:
        raise _CallFailed(
            f"the answer is not valid {charset} (byte {error.start + 1}); UTF-8 is expected"
        ) from None


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


@functools.cache
def generate_recording() -> bytes:
    """The simulated caller's message: silence, a soft 440 Hz tone, silence, as 8-bit WAV.

    Deterministic and cached: every voicemail in a burst shares the same small bytes object.
    """
    rate = RECORDING_SAMPLE_RATE
    total = int(RECORDING_SECONDS * rate)
    quiet = int(0.5 * rate)
    samples = bytearray(total)
    for index in range(total):
        level = 0.0
        if quiet <= index < total - quiet:
            level = 40 * math.sin(2 * math.pi * 440 * index / rate)
        samples[index] = 128 + int(level)  # 8-bit WAV is unsigned, silence is 128
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(1)
        writer.setframerate(rate)
        writer.writeframes(bytes(samples))
    return buffer.getvalue()
