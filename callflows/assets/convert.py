"""Any recording into an MP3 the carrier plays well: the one place that decodes and encodes audio.

Owners have recordings, not MP3 encoders: an iPhone voice memo is AAC in an ``.m4a``, Android
records ``.m4a`` or ``.ogg``, a browser's MediaRecorder makes Opus in ``.webm`` (Safari: AAC in
``.mp4``), a PC ``.wav``. PyAV (``av``) ships FFmpeg's decoders and LAME in its wheel, so nothing
is installed from the system. What comes out (``TARGET_*``):

- mono at 22,050 Hz, 48 kbit/s constant bitrate (MPEG-2 Layer III): more than a telephone line
  carries (8 kHz narrowband, 16 kHz wideband), a tenth of a WAV's size, ~3.6 MB for the
  10-minute limit;
- leading and trailing silence trimmed (below ``SILENCE_DBFS``), keeping ``KEEP_SILENCE_SECONDS``
  at each end so the greeting does not start or stop abruptly;
- loudness normalised to ``TARGET_LUFS`` (ITU-R BS.1770 integrated loudness, measured by
  FFmpeg's ``ebur128`` filter), the gain lowered when the peaks would clip; a recording made
  too quietly is raised by at most ``MAX_GAIN_DB``.

Decoding someone's file is the riskiest thing the portal does with input, so it happens in a
worker (``callflows.audio_convert``), never in a page's request; after FFmpeg has probed what
the file is, only the containers and codecs of ``CONTAINERS`` and ``CODECS`` are decoded, and
decoding stops once the audio is longer than any greeting may be. The whole recording (at most
``AUDIO_UPLOAD_MAX_BYTES``) and its samples (4 bytes a sample at 22,050 Hz: 53 MB for ten
minutes) are held in memory. Refusals carry a
``code`` and ``params`` for a message in the owner's language (``callflows.assets.uploads``).
Pure apart from PyAV and numpy: no Django, no I/O but the bytes given.
"""

from __future__ import annotations

import codecs
import io
import math
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

TARGET_SAMPLE_RATE = 22050
TARGET_BITRATE = 48_000
TARGET_LUFS = -16.0
MAX_PEAK_DBFS = -1.0
MAX_GAIN_DB = 30.0
SILENCE_DBFS = -45.0
KEEP_SILENCE_SECONDS = 0.2
# Silence is judged in steps this long; the trimmed length is exact to one step.
SILENCE_STEP_SECONDS = 0.01
# A recording this much longer than the limit may still fit once its silence is trimmed; one
# longer than that is refused without decoding the rest.
TRIM_ALLOWANCE_SECONDS = 60
# What phones, browsers and PCs record in (FFmpeg's names for the containers they use).
CONTAINERS = {
    "mov,mp4,m4a,3gp,3g2,mj2": "M4A/MP4",
    "matroska,webm": "WebM",
    "ogg": "Ogg",
    "wav": "WAV",
    "flac": "FLAC",
    "mp3": "MP3",
    "aac": "AAC",
    "aiff": "AIFF",
    "caf": "CAF",
}
CODECS = {
    "aac",
    "opus",
    "vorbis",
    "flac",
    "alac",
    "mp3",
    "mp3float",
    "mp2",
    "pcm_s16le",
    "pcm_s16be",
    "pcm_s24le",
    "pcm_s24be",
    "pcm_s32le",
    "pcm_f32le",
    "pcm_f64le",
    "pcm_u8",
    "pcm_alaw",
    "pcm_mulaw",
    "amr_nb",
    "amr_wb",
}


class ConversionRefused(ValueError):
    """The bytes cannot become a greeting; ``code`` and ``params`` say why (English in str)."""

    def __init__(self, code: str, reason: str, **params) -> None:
        super().__init__(reason)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Converted:
    mp3: bytes
    source_format: str  # "M4A/MP4", "WebM", …
    source_codec: str  # FFmpeg's decoder name: "aac", "opus", …
    source_seconds: float  # the recording as uploaded
    seconds: float  # the MP3 (trimmed)
    trimmed_start_seconds: float
    trimmed_end_seconds: float
    loudness_before: float | None  # LUFS of the trimmed recording; None when too short to tell
    gain_db: float


def _sniff(data: bytes) -> None:
    """Name the common files that are not recordings, before FFmpeg guesses at them."""
    if not data:
        raise ConversionRefused("empty", "the file is empty")
    for magic, name in (
        (b"%PDF", "PDF"),
        (b"PK\x03\x04", "ZIP"),
        (b"\x89PNG", "PNG"),
        (b"\xff\xd8\xff", "JPEG"),
        (b"GIF8", "GIF"),
    ):
        if data.startswith(magic):
            raise ConversionRefused("not_audio_kind", f"the file is a {name} file", kind=name)
    head = data[:512].lstrip()
    if head[:1] == b"<":
        raise ConversionRefused("text", "the file is HTML or XML, not a recording")
    try:
        # final=False: a multi-byte character cut at byte 512 is not a decoding error.
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return
    if text and all(character.isprintable() or character in "\r\n\t" for character in text):
        raise ConversionRefused("text", "the file is text, not a recording")


def _open(data: bytes):
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, OSError) as error:
        raise ConversionRefused("not_audio", f"no audio can be read from it ({error})") from None
    if container.format.name not in CONTAINERS:
        container.close()
        raise ConversionRefused(
            "not_audio", f"{container.format.name} is not a recording format we read"
        )
    streams = [stream for stream in container.streams if stream.type == "audio"]
    if not streams:
        container.close()
        raise ConversionRefused("no_sound", "the file holds no sound (a video or a picture?)")
    stream = streams[0]
    if stream.codec_context.name not in CODECS:
        name = stream.codec_context.name
        container.close()
        raise ConversionRefused("codec", f"its sound is {name}, which we do not read", codec=name)
    return container, stream


def _decode(data: bytes, *, max_seconds: float) -> tuple[np.ndarray, str, str]:
    """The recording as mono float samples at the target rate, with its format and codec.

    Refuses (``too_long``) as soon as it is longer than ``max_seconds`` plus the allowance
    that trimming might take back: nothing longer is decoded.
    """
    container, stream = _open(data)
    format_name = CONTAINERS[container.format.name]
    codec = stream.codec_context.name
    resampler = av.AudioResampler(format="flt", layout="mono", rate=TARGET_SAMPLE_RATE)
    limit = int((max_seconds + TRIM_ALLOWANCE_SECONDS) * TARGET_SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    count = 0
    try:
        with container:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    count += chunk.size
                if count > limit:
                    raise ConversionRefused(
                        "too_long",
                        f"the recording lasts more than {count / TARGET_SAMPLE_RATE:.0f} s",
                        seconds=count / TARGET_SAMPLE_RATE,
                    )
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except av.FFmpegError as error:
        if not chunks:
            raise ConversionRefused("not_audio", f"the sound cannot be decoded ({error})") from None
        # A recording cut off at the end (a phone that ran out of space) keeps what is there.
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if samples.size == 0:
        raise ConversionRefused("no_sound", "the file holds no sound")
    return samples.astype(np.float32, copy=False), format_name, codec


def _dbfs(value: float) -> float:
    return 20 * math.log10(value) if value > 0 else -math.inf


def _sound_bounds(samples: np.ndarray) -> tuple[int, int] | None:
    """First and last sample (exclusive) of the part louder than silence; None if all silent."""
    step = max(1, int(SILENCE_STEP_SECONDS * TARGET_SAMPLE_RATE))
    usable = samples.size - samples.size % step
    if usable == 0:
        return None
    peaks = np.abs(samples[:usable]).reshape(-1, step).max(axis=1)
    if samples.size > usable:
        peaks = np.append(peaks, np.abs(samples[usable:]).max())
    loud = np.flatnonzero(peaks >= 10 ** (SILENCE_DBFS / 20))
    if loud.size == 0:
        return None
    keep = int(KEEP_SILENCE_SECONDS * TARGET_SAMPLE_RATE)
    start = max(0, int(loud[0]) * step - keep)
    end = min(samples.size, (int(loud[-1]) + 1) * step + keep)
    return start, end


def loudness_lufs(samples: np.ndarray, sample_rate: int = TARGET_SAMPLE_RATE) -> float | None:
    """Integrated loudness (BS.1770, gated) of mono ``samples``, by FFmpeg's ``ebur128``.

    None when the audio is too short (under 0.4 s) or too quiet for the gate to measure.
    """
    samples = samples.astype(np.float32, copy=False)
    graph = av.filter.Graph()
    source = graph.add_abuffer(
        format="flt", sample_rate=sample_rate, layout="mono", time_base=Fraction(1, sample_rate)
    )
    meter = graph.add("ebur128", "metadata=1")
    sink = graph.add("abuffersink")
    source.link_to(meter)
    meter.link_to(sink)
    graph.configure()
    integrated = None
    block = 4096
    position = 0

    def drain() -> None:
        nonlocal integrated
        while True:
            try:
                frame = sink.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            value = frame.metadata.get("lavfi.r128.I")
            if value is not None:
                integrated = float(value)

    for start in range(0, samples.size, block):
        chunk = samples[start : start + block].reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
        frame.sample_rate = sample_rate
        frame.pts = position
        position += chunk.shape[1]
        source.push(frame)
        drain()
    source.push(None)
    drain()
    if integrated is None or integrated <= -70.0:
        return None
    return integrated


def _encode(samples: np.ndarray) -> bytes:
    output = io.BytesIO()
    with av.open(output, mode="w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=TARGET_SAMPLE_RATE, layout="mono")
        stream.codec_context.bit_rate = TARGET_BITRATE
        size = stream.codec_context.frame_size or 1152
        pts = 0
        pcm = samples.reshape(1, -1)
        for start in range(0, pcm.shape[1], size):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(pcm[:, start : start + size]), format="fltp", layout="mono"
            )
            frame.sample_rate = TARGET_SAMPLE_RATE
            frame.pts = pts
            pts += frame.samples
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return output.getvalue()


def recording_convert(data: bytes, *, max_seconds: float) -> Converted:
    """``data`` (any recording of ``CONTAINERS``) as a trimmed, normalised mono MP3.

    Raises ``ConversionRefused``; the caller checks the MP3 with the upload inspector and the
    length limit, like any MP3.
    """
    _sniff(data)
    samples, format_name, codec = _decode(data, max_seconds=max_seconds)
    source_seconds = samples.size / TARGET_SAMPLE_RATE
    bounds = _sound_bounds(samples)
    if bounds is None:
        raise ConversionRefused("silent", "the recording is silent", seconds=source_seconds)
    start, end = bounds
    trimmed = samples[start:end]
    if trimmed.size / TARGET_SAMPLE_RATE > max_seconds:
        raise ConversionRefused(
            "too_long",
            f"the recording lasts {trimmed.size / TARGET_SAMPLE_RATE:.0f} s without its silence",
            seconds=trimmed.size / TARGET_SAMPLE_RATE,
        )
    loudness = loudness_lufs(trimmed)
    peak = float(np.abs(trimmed).max())
    gain_db = 0.0 if loudness is None else TARGET_LUFS - loudness
    gain_db = min(gain_db, MAX_GAIN_DB, MAX_PEAK_DBFS - _dbfs(peak))
    gained = trimmed * np.float32(10 ** (gain_db / 20))
    mp3 = _encode(np.clip(gained, -1.0, 1.0))
    return Converted(
        mp3=mp3,
        source_format=format_name,
        source_codec=codec,
        source_seconds=source_seconds,
        seconds=trimmed.size / TARGET_SAMPLE_RATE,
        trimmed_start_seconds=start / TARGET_SAMPLE_RATE,
        trimmed_end_seconds=(samples.size - end) / TARGET_SAMPLE_RATE,
        loudness_before=loudness,
        gain_db=gain_db,
    )
