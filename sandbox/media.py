"""MP3 greetings as the sandbox carrier fetches and plays them.

The sandbox plays another company's system, so it judges a file with a decoder of its own and
shares nothing with the portal's upload inspector (``callflows/assets/mpeg.py``, which walks
frame headers and asks mutagen): FFmpeg's MP3 decoder, through PyAV, decodes every frame of the
file as a player would. The two checks disagree when either has a bug, and
``callflows/tests/test_mp3_checks_agree.py`` feeds both the same files to catch it.

Xoxzo only says an MP3 must be publicly reachable (see its API documentation); a customer finds
out about a broken file when a caller hears silence. The sandbox is a strict player so the
portal can warn early: FFmpeg must recognise the bytes as MP3 (MPEG-1/2/2.5 Layer III), and its
decoder must play the file to its end: data it refuses after the last frame it played (a page or
an archive glued on) fails the call, a frame or two it refuses between good ones is a glitch. A
download cut inside its last frame and zero padding after the audio still play. The
duration is the count of decoded samples, not an estimate from the file size.
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass, field

import av
import requests

DEFAULT_MAX_BYTES = 10 * 1024 * 1024  # [choice] Xoxzo publishes no limit; ~40 min at 32 kbit/s.
_MP3_DECODERS = ("mp3", "mp3float")
# A frame or two the decoder refuses in a long file is a glitch; more is a damaged file.
MAX_DAMAGED_FRAMES = 2
MAX_DAMAGED_SHARE = 0.01
_OTHER_LAYERS = {"mp2": "II", "mp2float": "II", "mp1": "I", "mp1float": "I"}
_MPEG_VERSION_BY_RATE = {
    44100: "1", 48000: "1", 32000: "1",
    22050: "2", 24000: "2", 16000: "2",
    11025: "2.5", 12000: "2.5", 8000: "2.5",
}  # fmt: skip
# What FFmpeg's probe names, in words a customer knows.
_CONTAINERS = {
    "wav": "a WAV file",
    "ogg": "an Ogg file",
    "flac": "a FLAC file",
    "mov,mp4,m4a,3gp,3g2,mj2": "an MP4/M4A container",
    "aac": "AAC audio",
    "matroska,webm": "a WebM/Matroska file",
}


class MediaError(ValueError):
    """The media cannot be played; ``reason`` says why in words a customer can act on."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        self.reason = reason
        self.status = status  # the HTTP status when the fetch itself failed
        super().__init__(reason)


@dataclass(frozen=True)
class Mp3Info:
    duration_seconds: float
    bitrate: int  # bit/s, as FFmpeg reports the stream (its average for VBR files)
    sample_rate: int  # Hz
    channels: int
    frame_count: int = 0
    kind: str = "MPEG-1 Layer III"
    damaged_frames: int = 0  # frames the decoder skipped, each a glitch of a few milliseconds


@dataclass(frozen=True)
class FetchedMedia:
    url: str
    data: bytes
    content_type: str
    elapsed_ms: float
    # Things worth telling the customer that did not stop the fetch (e.g. a wrong content type).
    notes: tuple[str, ...] = field(default=())


# --- playing -------------------------------------------------------------------------------------


def inspect_mp3(data: bytes) -> Mp3Info:
    """Decode ``data`` as the carrier's player would and measure it, or raise ``MediaError``."""
    if not data:
        raise MediaError("the file is empty")
    container = _open(data)
    with container:
        name = container.format.name
        if name != "mp3":
            words = _CONTAINERS.get(name, f"{name} data")
            raise MediaError(f"the file is {words}, not MPEG audio (renamed to .mp3?)")
        if not container.streams.audio:
            raise MediaError("the file holds no audio stream: not MPEG audio")
        stream = container.streams.audio[0]
        codec = stream.codec_context.name
        if codec in _OTHER_LAYERS:
            raise MediaError(f"the audio is MPEG Layer {_OTHER_LAYERS[codec]}, not MP3 (Layer III)")
        if codec not in _MP3_DECODERS:
            raise MediaError(f"the audio is {codec}, not MP3")
        seen = _decode_all(container, stream)
        bitrate = stream.bit_rate or 0
    if not seen.samples:
        raise MediaError("the file holds no audio frames the decoder can play")
    _judge(seen)
    return Mp3Info(
        duration_seconds=round(seen.samples / seen.sample_rate, 3),
        bitrate=int(bitrate),
        sample_rate=seen.sample_rate,
        channels=seen.channels,
        frame_count=seen.frames,
        damaged_frames=seen.damaged,
        kind=f"MPEG-{_MPEG_VERSION_BY_RATE.get(seen.sample_rate, '?')} Layer III",
    )


def _open(data: bytes):
    """FFmpeg's own guess of the format first (to name a WAV or an Ogg file); when it cannot
    tell, as for a file of a frame or two, the MP3 reader the carrier uses for an MP3 URL."""
    for forced in (None, "mp3"):
        try:
            return av.open(io.BytesIO(data), mode="r", format=forced)
        except (av.error.FFmpegError, EOFError, ValueError):
            continue
    raise MediaError(_looks_like(data) or "the decoder finds no audio in it: not MPEG audio")


@dataclass
class _Decoded:
    sample_rate: int
    channels: int
    samples: int = 0
    frames: int = 0
    damaged: int = 0  # packets the decoder refused between frames it played: a glitch
    refused_at_end: bool = False  # the decoder refused what follows the last frame it played
    off_format: int = 0  # frames of another sample rate or channel count than the first


def _decode_all(container, stream) -> _Decoded:
    """Decode every packet as a player does: a damaged frame between good ones is a glitch a
    caller hardly hears; data the decoder refuses after the last good frame is the audio
    breaking off into something else (an error page, an archive, noise)."""
    seen = _Decoded(sample_rate=stream.sample_rate, channels=stream.channels)
    for packet in container.demux(stream):
        if packet.size and not bytes(packet).strip(b"\x00"):
            continue  # zero padding after the audio, as encoders and downloads leave it
        try:
            decoded = packet.decode()
        except (av.error.FFmpegError, ValueError):
            seen.refused_at_end = True
            continue
        for frame in decoded:
            if (frame.sample_rate, len(frame.layout.channels)) != (seen.sample_rate, seen.channels):
                seen.off_format += 1  # a damaged header, or another file from here on
                continue
            if seen.refused_at_end:
                seen.damaged += 1
                seen.refused_at_end = False
            seen.samples += frame.samples
            seen.frames += 1
    return seen


def _judge(seen: _Decoded) -> None:
    at = seen.samples / seen.sample_rate if seen.sample_rate else 0.0
    if seen.refused_at_end:
        raise MediaError(
            f"the audio breaks off after {at:.2f} s ({seen.frames} frames): the decoder refuses "
            "what follows, corrupt or not MPEG audio"
        )
    limit = max(MAX_DAMAGED_FRAMES, seen.frames * MAX_DAMAGED_SHARE)
    if seen.off_format > limit:
        raise MediaError(
            f"the audio changes format: {seen.off_format} frames differ from the first "
            f"{seen.sample_rate} Hz/{seen.channels} ch ones, two files joined together?"
        )
    seen.damaged += seen.off_format
    if seen.damaged > limit:
        raise MediaError(
            f"the decoder refuses {seen.damaged} of {seen.frames + seen.damaged} frames: "
            "the file is damaged"
        )


def _looks_like(data: bytes) -> str:
    """What bytes FFmpeg could not open look like, so the customer knows what they uploaded
    ("" when nothing is recognised)."""
    if data.startswith(b"ID3"):
        return "the file holds an ID3 tag and no audio frames"
    if data.startswith(b"OggS"):
        return "the file is an Ogg file, not MPEG audio"
    if data[4:8] == b"ftyp":
        return "the file is an MP4/M4A container, not MPEG audio"
    head = data[:512].lstrip()
    if head[:1] == b"<":
        return "the file looks like HTML or XML (an error page?), not MPEG audio"
    text = head.decode("utf-8", errors="replace")
    if "\ufffd" not in text[:-3] and all(c.isprintable() or c in "\r\n\t" for c in text[:-3]):
        return f"the file is text, not MPEG audio: starts with {text[:30]!r}"
    return ""


# --- fetching ------------------------------------------------------------------------------------


def is_timeout(error: requests.RequestException) -> bool:
    """requests reports a read timeout during streaming as a ConnectionError; see through it."""
    return isinstance(error, requests.Timeout) or "timed out" in str(error).lower()


def describe_request_error(error: requests.RequestException) -> str:
    """A short reason for a failed request ("Connection refused"), not urllib3's full repr."""
    if is_timeout(error):
        return "timed out"
    text = str(error)
    found = re.search(r"\[Errno -?\d+\] ([^'\"()\]]+)", text)
    if found:
        return found.group(1).strip().rstrip(".")
    if isinstance(error, requests.ConnectionError):
        return "connection failed"
    return type(error).__name__


def fetch_media(
    url: str,
    *,
    timeout: float = 5.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    session: requests.Session | None = None,
) -> FetchedMedia:
    """GET ``url`` the way the carrier does before playing it, or raise ``MediaError``.

    ``timeout`` bounds the connection, every read and the whole download: a caller hears
    silence while the carrier waits. Redirects are followed (CDNs use them) [choice].
    """
    if not url.startswith(("http://", "https://")):
        raise MediaError(f"not an http(s) URL: {url!r}")
    own_session = session is None
    if session is None:
        session = requests.Session()
        session.max_redirects = 5
    started = _now()
    try:
        with session.get(url, timeout=(timeout, timeout), stream=True) as response:
            if response.status_code != 200:
                raise MediaError(
                    f"MP3 URL answered HTTP {response.status_code}", status=response.status_code
                )
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise MediaError(f"the MP3 is {int(declared)} bytes, more than {max_bytes}")
            content_type = response.headers.get("Content-Type", "")
            data = _read_capped(response, max_bytes=max_bytes, deadline=started + timeout)
    except requests.RequestException as error:
        if is_timeout(error):
            raise MediaError(f"MP3 URL timed out after {timeout:g} s") from None
        raise MediaError(f"MP3 URL unreachable: {describe_request_error(error)}") from None
    finally:
        if own_session:
            session.close()
    notes = []
    mime = content_type.split(";", 1)[0].strip().lower()
    if not mime.startswith("audio/"):
        # Not fatal: Xoxzo decodes the bytes, but a wrong type often means an error page.
        notes.append(f"served as {mime or 'no content type'}, not audio/mpeg")
    return FetchedMedia(
        url=url,
        data=data,
        content_type=content_type,
        elapsed_ms=round((_now() - started) * 1000, 1),
        notes=tuple(notes),
    )


def fetch_mp3(
    url: str,
    *,
    timeout: float = 5.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    session: requests.Session | None = None,
) -> bytes:
    """The bytes at ``url`` (see ``fetch_media``, which also reports content-type notes)."""
    return fetch_media(url, timeout=timeout, max_bytes=max_bytes, session=session).data


def _read_capped(response: requests.Response, *, max_bytes: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise MediaError(f"the MP3 is larger than {max_bytes} bytes")
        if _now() > deadline:
            raise requests.Timeout("download exceeded its time budget")
        chunks.append(chunk)
    return b"".join(chunks)


def _now() -> float:
    return time.monotonic()
