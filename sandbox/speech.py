"""Text-to-speech for the sandbox carrier's ``say`` command.

The sandbox needs a duration (for the transcript and the billing estimate) and, where possible,
real audio a developer can listen to. espeak-ng provides both when it is installed; it is an
optional system package, so without it (or when it fails) the sandbox estimates the duration
from the text and returns no audio: a call is never failed because the sandbox itself cannot
speak, since the real carrier would have spoken.

The estimate (``engine="estimate"``) is deliberately simple: ``LEAD_SECONDS`` plus the text
length divided by a per-language speaking rate, ``CHARACTERS_PER_SECOND``: about 15 for English
(espeak-ng's default 175 words a minute at ~5 characters a word) and 6 for Japanese (kana read at
~7 morae a second, a kanji carrying ~2). It is within a factor of ~2 of real speech, which is what a
billing estimate rounded up to whole minutes needs.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from dataclasses import dataclass

ESPEAK = "espeak-ng"
ESPEAK_VOICES = {"ja": "ja", "en": "en"}
CHARACTERS_PER_SECOND = {"ja": 6.0, "en": 15.0}
LEAD_SECONDS = 0.3


@dataclass(frozen=True)
class SpeechResult:
    wav_bytes: bytes | None
    duration_seconds: float
    engine: str  # "espeak-ng" or "estimate"
    note: str = ""  # why the estimate was used although espeak-ng is installed


def render_speech(lang: str, text: str, *, timeout: float = 5.0) -> SpeechResult:
    """Speak ``text`` in ``lang`` ("ja" or "en") to WAV bytes, or estimate its duration."""
    if lang not in ESPEAK_VOICES:
        raise ValueError(f"unsupported language {lang!r}; expected one of {sorted(ESPEAK_VOICES)}")
    executable = shutil.which(ESPEAK)
    if executable is None:
        return estimate_speech(lang, text)
    # The text goes through stdin, never argv: a text starting with "-" must not become an option.
    command = [executable, "-v", ESPEAK_VOICES[lang], "-b", "1", "--stdin", "--stdout"]
    try:
        completed = subprocess.run(  # noqa: S603 (fixed argv, text on stdin)
            command,
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return estimate_speech(lang, text, note=f"{ESPEAK} timed out after {timeout:g} s")
    except OSError as error:
        return estimate_speech(lang, text, note=f"{ESPEAK} could not run: {error.strerror}")
    if completed.returncode != 0:
        stderr = " ".join(completed.stderr.decode("utf-8", "replace").split())[:200]
        note = f"{ESPEAK} exited with {completed.returncode}" + (f": {stderr}" if stderr else "")
        return estimate_speech(lang, text, note=note)
    try:
        wav_bytes, duration = fix_streamed_wav(completed.stdout)
    except ValueError as error:
        return estimate_speech(lang, text, note=f"{ESPEAK} wrote no usable WAV: {error}")
    return SpeechResult(wav_bytes=wav_bytes, duration_seconds=round(duration, 3), engine=ESPEAK)


def estimate_speech(lang: str, text: str, *, note: str = "") -> SpeechResult:
    """A duration estimate without audio; see the module docstring for the rates."""
    rate = CHARACTERS_PER_SECOND.get(lang, CHARACTERS_PER_SECOND["en"])
    duration = LEAD_SECONDS + len(text.strip()) / rate
    return SpeechResult(
        wav_bytes=None, duration_seconds=round(duration, 3), engine="estimate", note=note
    )


def fix_streamed_wav(data: bytes) -> tuple[bytes, float]:
    """Return ``data`` with correct RIFF/data sizes, and its duration in seconds.

    espeak-ng writes to a pipe it cannot seek back on, so its header claims ~2 GB of audio
    (0x7FFFFFFF-ish sizes); stored as is, such a file confuses players and ``wave``.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE stream")
    offset = 12
    byte_rate = None
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        (chunk_size,) = struct.unpack_from("<I", data, offset + 4)
        if chunk_id == b"fmt ":
            (byte_rate,) = struct.unpack_from("<I", data, offset + 16)
        elif chunk_id == b"data":
            if not byte_rate:
                raise ValueError("data chunk before a valid fmt chunk")
            audio_length = len(data) - (offset + 8)
            fixed = bytearray(data)
            struct.pack_into("<I", fixed, 4, len(data) - 8)
            struct.pack_into("<I", fixed, offset + 4, audio_length)
            return bytes(fixed), audio_length / byte_rate
        offset += 8 + chunk_size + (chunk_size & 1)  # chunks are padded to even sizes
    raise ValueError("no data chunk")
