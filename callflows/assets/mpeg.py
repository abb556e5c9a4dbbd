"""Is it really MP3? The portal's one MPEG audio inspector, for uploads.

Xoxzo only says an MP3 must be publicly reachable; a customer finds out about a broken file
when a caller hears silence, and whatever the portal accepts is served to anyone at its public
URL. So the whole file must be MPEG-1/2/2.5 Layer III audio, checked two independent ways that
must agree:

- our own walk over the file from its first byte to its last: ID3v2 tags, then MPEG frames
  whose lengths chain exactly (one stream format throughout), then at the end only ID3v1, APEv2
  or ID3v2 tags, or a last frame cut short. Tags may also sit between frames. Nothing else is
  allowed anywhere: a few valid frames in front of an HTML page or a ZIP archive, or junk in
  front of hours of audio, are refused, with the byte where the audio stops;
- mutagen, which must parse the file and see the same sample rate and channel count.

The duration is the exact sum of the walked frames' samples (a Xing/Info/VBRI header frame,
where LAME keeps its tag, is metadata and not counted), not mutagen's estimate, which for a
constant bitrate file without a Xing header is derived from the file size.
Every refusal carries a ``code`` (and ``params``) so that the portal can say it in the user's
language, and an English ``reason``. Pure: no Django, no I/O.

The sandbox carrier has its own, separate check (``sandbox/media.py``): it plays another
company's system and must not share the portal's judgement.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass
from functools import lru_cache

import mutagen
import mutagen.mp3

# [choice] Tags (title, artist, cover art) are fine; a file that is mostly tags is not a
# greeting but a container for something else.
MAX_METADATA_BYTES = 1024 * 1024

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
    """Check that ``data`` is MP3 audio to its last byte and measure it, or raise ``MediaError``."""
    if not data:
        raise MediaError("the file is empty", code="empty")
    _refuse_known_other_formats(data)
    audio_start = _skip_id3v2(data)
    if audio_start >= len(data):
        raise MediaError("the file holds an ID3 tag and no audio frames", code="id3_only")
    audio_end = _trailing_tags_start(data, audio_start)
    walk = _walk(data, audio_start, audio_end)
    metadata = len(data) - walk.audio_bytes
    if metadata > MAX_METADATA_BYTES:
        raise MediaError(
            f"the file's tags take {metadata} bytes, more than {MAX_METADATA_BYTES}",
            code="metadata_too_large",
            params={"size": metadata, "limit": MAX_METADATA_BYTES},
        )
    first = walk.first
    try:
        audio = mutagen.mp3.MP3(io.BytesIO(data))
    except (mutagen.MutagenError, ValueError, EOFError) as error:
        raise MediaError(
            f"the MP3 cannot be read: {error}", code="unreadable", params={"why": str(error)}
        ) from None
    info = audio.info
    assert isinstance(info, mutagen.mp3.MPEGInfo)  # what an MP3 that was read has
    if (info.sample_rate, info.channels) != (first.sample_rate, first.channels):
        raise MediaError(
            "the file is ambiguous: its frames say "
            f"{first.sample_rate} Hz/{first.channels} ch at byte {walk.first_offset}, mutagen "
            f"reads {info.sample_rate} Hz/{info.channels} ch",
            code="ambiguous",
        )
    return Mp3Info(
        duration_seconds=round(walk.samples / first.sample_rate, 3),
        bitrate=int(info.bitrate),
        sample_rate=first.sample_rate,
        channels=first.channels,
        frame_count=walk.frame_count,
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
    return _frame_of_header(header)


@lru_cache(maxsize=4096)
def _frame_of_header(header: bytes) -> _Frame | None:
    """Parsed once per distinct header: a file has a handful, repeated thousands of times."""
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


def _syncsafe(four: bytes) -> int | None:
    if len(four) < 4 or any(byte & 0x80 for byte in four):
        return None
    size = 0
    for byte in four:
        size = (size << 7) | byte  # "syncsafe" integer: 7 bits per byte
    return size


def _id3v2_length(data: bytes, offset: int) -> int | None:
    """The length of the ID3v2 tag starting at ``offset`` (header and footer included)."""
    if data[offset : offset + 3] != b"ID3" or len(data) < offset + 10:
        return None
    size = _syncsafe(data[offset + 6 : offset + 10])
    if size is None:
        return None
    return 10 + size + (10 if data[offset + 5] & 0x10 else 0)


def _ape_length(data: bytes, offset: int) -> int | None:
    """The length of the APEv2 tag whose header starts at ``offset``."""
    if data[offset : offset + 8] != b"APETAGEX" or len(data) < offset + 32:
        return None
    size = int.from_bytes(data[offset + 12 : offset + 16], "little")  # items and footer
    return 32 + size


def _trailing_tags_start(data: bytes, start: int) -> int:
    """Where the tags at the end of the file begin (ID3v1, APEv2, ID3v2 with a footer; in any
    order and number), or the file's length when there are none."""
    end = len(data)
    while end > start:
        if end - start >= 128 and data[end - 128 : end - 125] == b"TAG":
            end -= 128
            continue
        if end - start >= 32 and data[end - 32 : end - 24] == b"APETAGEX":
            size = int.from_bytes(data[end - 20 : end - 16], "little")  # items and footer
            flags = int.from_bytes(data[end - 12 : end - 8], "little")
            total = size + (32 if flags & 0x80000000 else 0)  # bit 31: a header too
            if not 32 <= total <= end - start:
                raise MediaError(
                    "the APE tag at the end of the file is corrupt", code="tag_corrupt"
                )
            end -= total
            continue
        if end - start >= 20 and data[end - 10 : end - 7] == b"3DI":
            tag_size = _syncsafe(data[end - 4 : end])
            tag = None if tag_size is None else tag_size + 20  # with its header and footer
            if tag is None or tag > end - start or data[end - tag : end - tag + 3] != (b"ID3"):
                raise MediaError(
                    "the ID3 tag at the end of the file is corrupt", code="tag_corrupt"
                )
            end -= tag
            continue
        return end
    return end


_XING_OFFSETS = {("1", 2): 36, ("1", 1): 21, ("2", 2): 21, ("2", 1): 13}


def _is_info_frame(data: bytes, offset: int, frame: _Frame) -> bool:
    """True for the Xing/Info (LAME) or VBRI header frame an encoder puts first: metadata."""
    version = "1" if frame.version == "1" else "2"
    crc = 0 if data[offset + 1] & 1 else 2  # protection bit 0: a 16-bit CRC follows the header
    at = offset + _XING_OFFSETS[(version, frame.channels)] + crc
    return data[at : at + 4] in (b"Xing", b"Info") or data[offset + 36 : offset + 40] == b"VBRI"


@dataclass
class _Walk:
    first: _Frame
    first_offset: int
    frame_count: int = 0
    samples: int = 0
    audio_bytes: int = 0


def _walk(data: bytes, start: int, end: int) -> _Walk:
    """Every byte from ``start`` to ``end`` accounted for as frames, tags or zero padding."""
    offset = start
    while offset < end and data[offset] == 0:  # padding an encoder left after the ID3 tag
        offset += 1
    first = _frame_at(data, offset)
    if first is None:
        where = "after the ID3 tag" if start else "at the start of the file"
        raise MediaError(
            f"no MPEG audio frames {where}: not MPEG audio",
            code="no_frames",
            params={"offset": start},
        )
    if first.layer != 3:
        raise MediaError(
            f"the audio is MPEG-{first.version} Layer {'I' * first.layer}, not MP3 (Layer III)",
            code="not_layer3",
            params={"layer": "I" * first.layer},
        )
    walk = _Walk(first=first, first_offset=offset)
    stream = (first.version, first.layer, first.sample_rate)
    frames_seen = 0
    while offset < end:
        frame = _frame_at(data, offset)
        if frame is None:
            tag = _id3v2_length(data, offset) or _ape_length(data, offset)
            if tag is not None and offset + tag <= end:
                offset += tag
                continue
            if not data[offset:end].strip(b"\x00"):
                break  # zero padding to the end
            raise MediaError(
                f"the audio breaks off after {frames_seen} MPEG frame(s) at byte {offset}, and "
                f"{end - offset} bytes of other data follow: corrupt or not MPEG audio",
                code="breaks_off",
                params={"count": frames_seen, "offset": offset, "rest": len(data) - offset},
            )
        if (frame.version, frame.layer, frame.sample_rate) != stream:
            raise MediaError(
                f"the audio changes format at byte {offset} (MPEG-{frame.version}, "
                f"{frame.sample_rate} Hz): two files joined together?",
                code="mixed",
                params={"offset": offset},
            )
        if offset + frame.length > end:
            if frames_seen == 0:
                raise MediaError(
                    f"the MP3 is truncated: its first frame at byte {offset} needs "
                    f"{frame.length} bytes, only {end - offset} are there",
                    code="truncated",
                    params={"offset": offset},
                )
            break  # a last frame cut short (an interrupted export) plays up to the cut
        if not (frames_seen == 0 and _is_info_frame(data, offset, frame)):
            walk.frame_count += 1
            walk.samples += frame.samples
            walk.audio_bytes += frame.length
        frames_seen += 1
        offset += frame.length
    if walk.frame_count == 0:
        raise MediaError("the file holds no audio frames", code="id3_only")
    return walk
