"""Speech for ``say``: espeak-ng when installed, an estimate otherwise, never a crash."""

import io
import shutil
import wave

import pytest

from sandbox import speech
from sandbox.speech import estimate_speech, fix_streamed_wav, render_speech

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")


def wav_duration(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as reader:
        return reader.getnframes() / reader.getframerate()


@needs_espeak
@pytest.mark.parametrize(
    ("lang", "text"),
    [("ja", "お電話ありがとうございます。"), ("en", "Thank you for calling.")],
)
def test_it_speaks_with_espeak_into_a_valid_wav(lang, text):
    result = render_speech(lang, text)
    assert result.engine == "espeak-ng"
    assert result.note == ""
    # The header is fixed: wave reads the real length, not espeak's streaming placeholder.
    assert wav_duration(result.wav_bytes) == pytest.approx(result.duration_seconds, abs=0.001)
    assert 0.5 < result.duration_seconds < 10


@needs_espeak
def test_it_takes_longer_to_say_more():
    short = render_speech("en", "Hello.")
    long = render_speech("en", "Hello. " * 10)
    assert long.duration_seconds > 3 * short.duration_seconds


@needs_espeak
def test_it_passes_text_on_stdin_so_it_cannot_become_an_option():
    # On argv "--help" would print usage instead of audio and fall back to the estimate.
    result = render_speech("en", "--help")
    assert result.engine == "espeak-ng"
    assert result.wav_bytes[:4] == b"RIFF"


def test_it_estimates_without_espeak(monkeypatch):
    monkeypatch.setattr(speech.shutil, "which", lambda name: None)
    english = render_speech("en", "x" * 30)
    japanese = render_speech("ja", "あ" * 30)
    assert english == speech.SpeechResult(None, 2.3, "estimate")  # 0.3 + 30 / 15
    assert japanese.duration_seconds == pytest.approx(5.3)  # 0.3 + 30 / 6


def test_it_falls_back_to_the_estimate_when_espeak_fails(monkeypatch):
    monkeypatch.setattr(speech.shutil, "which", lambda name: "/bin/false")
    result = render_speech("en", "hello")
    assert result.engine == "estimate"
    assert result.wav_bytes is None
    assert result.note == "espeak-ng exited with 1"


def test_it_falls_back_to_the_estimate_when_espeak_hangs(monkeypatch, tmp_path):
    hanging = tmp_path / "espeak-ng"
    hanging.write_text("#!/bin/sh\nsleep 5\n")
    hanging.chmod(0o755)
    monkeypatch.setattr(speech.shutil, "which", lambda name: str(hanging))
    result = render_speech("ja", "こんにちは", timeout=0.2)
    assert result.engine == "estimate"
    assert result.note == "espeak-ng timed out after 0.2 s"


def test_it_falls_back_when_espeak_writes_something_else(monkeypatch, tmp_path):
    chatty = tmp_path / "espeak-ng"
    chatty.write_text("#!/bin/sh\necho 'this is not audio'\n")
    chatty.chmod(0o755)
    monkeypatch.setattr(speech.shutil, "which", lambda name: str(chatty))
    result = render_speech("en", "not a wav")
    assert result.engine == "estimate"
    assert "no usable WAV" in result.note


def test_it_refuses_an_unknown_language():
    with pytest.raises(ValueError, match="unsupported language 'fr'"):
        render_speech("fr", "bonjour")


def test_it_rewrites_the_sizes_of_a_streamed_wav_header():
    # given a WAV header as espeak-ng streams it: sizes set to "as long as it goes"
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(bytes(16000))  # one second
    streamed = bytearray(buffer.getvalue())
    streamed[4:8] = b"\xff\xff\xff\x7f"
    streamed[40:44] = b"\xff\xff\xff\x7f"
    # when
    fixed, duration = fix_streamed_wav(bytes(streamed))
    # then
    assert duration == 1.0
    assert fixed == buffer.getvalue()


def test_it_refuses_to_fix_what_is_not_a_wav():
    with pytest.raises(ValueError, match="not a RIFF/WAVE"):
        fix_streamed_wav(b"ID3")


def test_it_estimates_ignoring_surrounding_whitespace():
    assert estimate_speech("en", "  hi  ") == estimate_speech("en", "hi")
