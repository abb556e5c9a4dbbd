"""MP3 greetings as the sandbox carrier fetches and checks them before "playing" them.

The sandbox plays another company's system, so it has its own check and does not use the
portal's upload inspector (``callflows/assets/mpeg.py``): what the carrier accepts is its own
affair, and a file that only the portal's check would pass must show up as a failed call here.
Like a player, it looks for playable audio at the start of the file rather than judging the
whole of it.

Xoxzo only says an MP3 must be publicly reachable (see its API documentation); a customer finds
out about a broken file when a caller hears silence. The sandbox is stricter than a forgiving
player so the portal can warn early: the bytes must really be MPEG-1/2/2.5 Layer III audio.

Two independent checks must agree, because each alone accepts files that do not play:

- our own walk over MPEG frame headers (after any ID3v2 tag): at least ``MIN_FRAME_CHAIN``
  consecutive frames whose lengths chain exactly, or an exact chain up to the end of the file.
  A single false "sync" (11 set bits) turns up in WAV samples or random data; three chained ones
  practically never do;
- mutagen, which must parse the file and see the same sample rate and channel count.

The duration is the exact sum of the walked frames' samples, not mutagen's estimate (which, for a
constant bitrate file without a Xing header, is derived from the file size and so counts junk).
"""

from __future__ import annotations

import codecs
import io
import re
import time
from dataclasses import dataclass, field

import mutagen
import mutagen.mp3
import requests

DEFAULT_MAX_BYTES = 10 * 1024 * 1024  # [choice] Xoxzo publishes no limit; ~40 min at 32 kbit/s.
MIN_FRAME_CHAIN = 3
# A file may put some bytes (an encoder's padding, a broken tag) before its first frame; the
# frame search looks this far past the ID3v2 tags and no further, so a text file is not scanned
# end to end looking for a lucky sync.
MAX_LEADING_JUNK = 4096
_TRAILING_TAGS = (b"TAG", b"APETAGEX", b"LYRICSBEGIN", b"ID3", b"3DI")

_VERSIONS = {0b00: "2.5", 0b10: "2", 0b11: "1"}
_LAYERS = {0b01: 3, 0b10: 2, 0b11: 1}
_SAMPLE_RATES = {
    "1": (44100, 48000, 32000),
    "2": (22050, 24000, 16000),
    "2.5": (11025, 12000, 8000),
}
# kbit/s by bitrate index 1..14 (0 = free format and 15 = invalid are refused).
_BITRATES = {
    ("1", 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    ("1", 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    ("1", 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    ("2", 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    ("2", 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    ("2", 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
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
    bitrate: int  # bit/s, as mutagen reports it (average for VBR files with a Xing header)
    sample_rate: int  # Hz
    channels: int
    frame_count: int = 0
    kind: str = "MPEG-1 Layer III"


@dataclass(frozen=True)
class FetchedMedia:
    url: str
    data: bytes
    content_type: str
    elapsed_ms: float
    # Things worth telling the customer that did not stop the fetch (e.g. a wrong content type).
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class _Frame:
    version: str
    layer: int
    sample_rate: int
    channels: int
    length: int  # bytes, header included
    samples: int


# --- inspection ----------------------------------------------------------------------------------


def inspect_mp3(data: bytes) -> Mp3Info:
    """Check that ``data`` is playable MP3 audio and measure it, or raise ``MediaError``."""
    if not data:
        raise MediaError("the file is empty")
    _refuse_known_other_formats(data)
    audio_start = _skip_id3v2(data)
    if audio_start >= len(data):
        raise MediaError("the file holds an ID3 tag and no audio frames")
    first_offset, frames = _find_frame_chain(data, audio_start)
    first = frames[0]
    if first.layer != 3:
        raise MediaError(
            f"the audio is MPEG-{first.version} Layer {'I' * first.layer}, not MP3 (Layer III)"
        )
    try:
        audio = mutagen.mp3.MP3(io.BytesIO(data))
    except (mutagen.MutagenError, ValueError, EOFError) as error:
        raise MediaError(f"the MP3 cannot be read: {error}") from None
    if (audio.info.sample_rate, audio.info.channels) != (first.sample_rate, first.channels):
        raise MediaError(
            "the file is ambiguous: its frames say "
            f"{first.sample_rate} Hz/{first.channels} ch at byte {first_offset}, mutagen reads "
            f"{audio.info.sample_rate} Hz/{audio.info.channels} ch"
        )
    duration = sum(frame.samples for frame in frames) / first.sample_rate
    return Mp3Info(
        duration_seconds=round(duration, 3),
        bitrate=int(audio.info.bitrate),
        sample_rate=first.sample_rate,
        channels=first.channels,
        frame_count=len(frames),
        kind=f"MPEG-{first.version} Layer III",
    )


def _refuse_known_other_formats(data: bytes) -> None:
    """Name the common wrong files precisely instead of saying "no MPEG frame found"."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        raise MediaError("the file is a WAV file, not MPEG audio (renamed to .mp3?)")
    for magic, name in ((b"OggS", "an Ogg"), (b"fLaC", "a FLAC"), (b"%PDF", "a PDF")):
        if data.startswith(magic):
            raise MediaError(f"the file is {name} file, not MPEG audio")
    if data[4:8] == b"ftyp":
        raise MediaError("the file is an MP4/M4A container, not MPEG audio")
    head = data[:512].lstrip()
    if head[:1] == b"<":
        raise MediaError("the file looks like HTML or XML (an error page?), not MPEG audio")
    try:
        # final=False: a multi-byte character cut at byte 512 is not a decoding error.
        text = codecs.getincrementaldecoder("utf-8")().decode(data[:512], final=False)
    except UnicodeDecodeError:
        return
    if text and all(character.isprintable() or character in "\r\n\t" for character in text):
        raise MediaError(f"the file is text, not MPEG audio: starts with {text[:30]!r}")


def _skip_id3v2(data: bytes) -> int:
    """Offset just past the leading ID3v2 tag(s); several tags in a row do occur."""
    offset = 0
    while data[offset : offset + 3] == b"ID3" and len(data) >= offset + 10:
        flags = data[offset + 5]
        size_bytes = data[offset + 6 : offset + 10]
        if any(byte & 0x80 for byte in size_bytes):
            raise MediaError("the file starts with a corrupt ID3 tag (invalid size)")
        size = 0
        for byte in size_bytes:
            size = (size << 7) | byte  # "syncsafe" integer: 7 bits per byte
        offset += 10 + size + (10 if flags & 0x10 else 0)  # 0x10: a footer follows
    if data[offset : offset + 3] == b"ID3":
        raise MediaError("the file holds a truncated ID3 tag and no audio frames")
    return offset


def _frame_at(data: bytes, offset: int) -> _Frame | None:
    """The MPEG audio frame whose header starts at ``offset``, or None if there is none."""
    header = data[offset : offset + 4]
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version = _VERSIONS.get((header[1] >> 3) & 0b11)
    layer = _LAYERS.get((header[1] >> 1) & 0b11)
    bitrate_index = header[2] >> 4
    sample_rate_index = (header[2] >> 2) & 0b11
    if version is None or layer is None or bitrate_index in (0, 15) or sample_rate_index == 3:
        return None
    if header[3] & 0b11 == 0b10:  # reserved emphasis value
        return None
    bitrate = _BITRATES[("1" if version == "1" else "2", layer)][bitrate_index - 1] * 1000
    sample_rate = _SAMPLE_RATES[version][sample_rate_index]
    padding = (header[2] >> 1) & 1
    if layer == 1:
        length = (12 * bitrate // sample_rate + padding) * 4
        samples = 384
    elif layer == 2 or version == "1":
        length = 144 * bitrate // sample_rate + padding
        samples = 1152
    else:  # Layer III of MPEG-2 and 2.5 carries half the samples per frame
        length = 72 * bitrate // sample_rate + padding
        samples = 576
    channels = 1 if header[3] >> 6 == 0b11 else 2
    return _Frame(version, layer, sample_rate, channels, length, samples)


def _chain(data: bytes, offset: int) -> list[_Frame]:
    """Complete frames following each other exactly from ``offset`` with the same stream format."""
    frames: list[_Frame] = []
    first = _frame_at(data, offset)
    while first is not None:
        frame = _frame_at(data, offset)
        if frame is None or (frame.version, frame.layer, frame.sample_rate) != (
            first.version,
            first.layer,
            first.sample_rate,
        ):
            break
        if offset + frame.length > len(data):
            break  # a truncated last frame is common and harmless; it is not counted
        frames.append(frame)
        offset += frame.length
    return frames


def _find_frame_chain(data: bytes, start: int) -> tuple[int, list[_Frame]]:
    search_end = min(len(data), start + MAX_LEADING_JUNK)
    first_candidate: tuple[int, _Frame, list[_Frame]] | None = None
    for offset in range(start, search_end):
        if data[offset] != 0xFF:
            continue
        frame = _frame_at(data, offset)
        if frame is None:
            continue
        frames = _chain(data, offset)
        end = offset + sum(f.length for f in frames)
        if len(frames) >= MIN_FRAME_CHAIN or (frames and _nothing_but_end_after(data, end)):
            return offset, frames
        if first_candidate is None:
            first_candidate = (offset, frame, frames)
    if first_candidate is not None:
        offset, frame, frames = first_candidate
        if not frames and offset + frame.length > len(data):
            raise MediaError(
                f"the MP3 is truncated: its first frame at byte {offset} needs {frame.length} "
                f"bytes, only {len(data) - offset} are there"
            )
        if frames:
            raise MediaError(
                f"only {len(frames)} MPEG frame(s) at byte {offset} before the data breaks off: "
                "corrupt or not MPEG audio"
            )
    where = "after the ID3 tag" if start else "at the start of the file"
    raise MediaError(f"no MPEG audio frames {where}: not MPEG audio")


def _nothing_but_end_after(data: bytes, offset: int) -> bool:
    """True when a frame chain ending at ``offset`` ends the audio: EOF, tags, padding or a
    last frame cut short (a truncated download plays fine up to the cut)."""
    rest = data[offset:]
    if not rest or not rest.strip(b"\x00") or rest.startswith(_TRAILING_TAGS):
        return True
    frame = _frame_at(data, offset)
    return frame is not None and offset + frame.length > len(data)


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
    if own_session:
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
