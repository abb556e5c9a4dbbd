"""Is it really MP3? The one MPEG audio inspector, for uploads and for the sandbox carrier.

Xoxzo only says an MP3 must be publicly reachable; a customer finds out about a broken file
when a caller hears silence. So the bytes must really be MPEG-1/2/2.5 Layer III audio, checked
two independent ways that must agree, because each alone accepts files that do not play:

- our own walk over MPEG frame headers (after any ID3v2 tag): at least ``MIN_FRAME_CHAIN``
  consecutive frames whose lengths chain exactly, or an exact chain up to the end of the file.
  A single false "sync" (11 set bits) turns up in WAV samples or random data; three chained ones
  practically never do;
- mutagen, which must parse the file and see the same sample rate and channel count.

The duration is the exact sum of the walked frames' samples, not mutagen's estimate (which, for a
constant bitrate file without a Xing header, is derived from the file size and so counts junk).
Every refusal carries a ``code`` (and ``params``) so that the portal can say it in the user's
language, and an English ``reason`` for the sandbox's transcripts. Pure: no Django, no I/O.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass

import mutagen
import mutagen.mp3

MIN_FRAME_CHAIN = 3
# A file may put some bytes (an encoder's padding, a broken tag) before its first frame; the
# frame search looks this far past the ID3v2 tags and no further, so a text file is not scanned
# end to end looking for a lucky sync.
MAX_LEADING_JUNK = 4096
# Well-known files that get renamed to .mp3: (magic bytes, article, name) to say so precisely.
_OTHER_FORMATS = ((b"OggS", "an", "Ogg"), (b"fLaC", "a", "FLAC"), (b"%PDF", "a", "PDF"))
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
    """The media cannot be played; ``reason`` says why in words a customer can act on.

    ``code`` names the kind of problem (e.g. ``"other_format"``, ``"not_layer3"``) and
    ``params`` its details, for messages in other languages; ``status`` is the HTTP status when
    a fetch itself failed.
    """

    def __init__(
        self, reason: str, *, code: str = "", params: dict | None = None, status: int | None = None
    ) -> None:
        self.reason = reason
        self.code = code
        self.params = params or {}
        self.status = status
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
class _Frame:
    version: str
    layer: int
    sample_rate: int
    channels: int
    length: int  # bytes, header included
    samples: int


def inspect_mp3(data: bytes) -> Mp3Info:
    """Check that ``data`` is playable MP3 audio and measure it, or raise ``MediaError``."""
    if not data:
        raise MediaError("the file is empty", code="empty")
    _refuse_known_other_formats(data)
    audio_start = _skip_id3v2(data)
    if audio_start >= len(data):
        raise MediaError("the file holds an ID3 tag and no audio frames", code="id3_only")
    first_offset, frames = _find_frame_chain(data, audio_start)
    first = frames[0]
    if first.layer != 3:
        raise MediaError(
            f"the audio is MPEG-{first.version} Layer {'I' * first.layer}, not MP3 (Layer III)",
            code="not_layer3",
            params={"layer": "I" * first.layer},
        )
    try:
        audio = mutagen.mp3.MP3(io.BytesIO(data))
    except (mutagen.MutagenError, ValueError, EOFError) as error:
        raise MediaError(
            f"the MP3 cannot be read: {error}", code="unreadable", params={"why": str(error)}
        ) from None
    if (audio.info.sample_rate, audio.info.channels) != (first.sample_rate, first.channels):
        raise MediaError(
            "the file is ambiguous: its frames say "
            f"{first.sample_rate} Hz/{first.channels} ch at byte {first_offset}, mutagen reads "
            f"{audio.info.sample_rate} Hz/{audio.info.channels} ch",
            code="ambiguous",
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
        raise MediaError(
            "the file is a WAV file, not MPEG audio (renamed to .mp3?)",
            code="other_format",
            params={"format": "WAV"},
        )
    if data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        raise MediaError(
            "the file is an AIFF file, not MPEG audio",
            code="other_format",
            params={"format": "AIFF"},
        )
    for magic, article, name in (
        (b"OggS", "an", "Ogg"),
        (b"fLaC", "a", "FLAC"),
        (b"%PDF", "a", "PDF"),
    ):
        if data.startswith(magic):
            raise MediaError(
                f"the file is {article} {name} file, not MPEG audio",
                code="other_format",
                params={"format": name},
            )
    if data[4:8] == b"ftyp":
        raise MediaError(
            "the file is an MP4/M4A container, not MPEG audio",
            code="other_format",
            params={"format": "MP4/M4A"},
        )
    head = data[:512].lstrip()
    if head[:1] == b"<":
        raise MediaError(
            "the file looks like HTML or XML (an error page?), not MPEG audio", code="text"
        )
    try:
        # final=False: a multi-byte character cut at byte 512 is not a decoding error.
        text = codecs.getincrementaldecoder("utf-8")().decode(data[:512], final=False)
    except UnicodeDecodeError:
        return
    if text and all(character.isprintable() or character in "\r\n\t" for character in text):
        raise MediaError(
            f"the file is text, not MPEG audio: starts with {text[:30]!r}", code="text"
        )


def _skip_id3v2(data: bytes) -> int:
    """Offset just past the leading ID3v2 tag(s); several tags in a row do occur."""
    offset = 0
    while data[offset : offset + 3] == b"ID3" and len(data) >= offset + 10:
        flags = data[offset + 5]
        size_bytes = data[offset + 6 : offset + 10]
        if any(byte & 0x80 for byte in size_bytes):
            raise MediaError(
                "the file starts with a corrupt ID3 tag (invalid size)", code="id3_corrupt"
            )
        size = 0
        for byte in size_bytes:
            size = (size << 7) | byte  # "syncsafe" integer: 7 bits per byte
        offset += 10 + size + (10 if flags & 0x10 else 0)  # 0x10: a footer follows
    if data[offset : offset + 3] == b"ID3":
        raise MediaError("the file holds a truncated ID3 tag and no audio frames", code="id3_only")
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
                f"bytes, only {len(data) - offset} are there",
                code="truncated",
                params={"offset": offset},
            )
        if frames:
            raise MediaError(
                f"only {len(frames)} MPEG frame(s) at byte {offset} before the data breaks off: "
                "corrupt or not MPEG audio",
                code="breaks_off",
                params={"count": len(frames), "offset": offset},
            )
    where = "after the ID3 tag" if start else "at the start of the file"
    raise MediaError(
        f"no MPEG audio frames {where}: not MPEG audio", code="no_frames", params={"offset": start}
    )


def _nothing_but_end_after(data: bytes, offset: int) -> bool:
    """True when a frame chain ending at ``offset`` ends the audio: EOF, tags, padding or a
    last frame cut short (a truncated download plays fine up to the cut)."""
    rest = data[offset:]
    if not rest or not rest.strip(b"\x00") or rest.startswith(_TRAILING_TAGS):
        return True
    frame = _frame_at(data, offset)
    return frame is not None and offset + frame.length > len(data)
