"""Recordings as phones, browsers and PCs make them, made in the tests by the library the portal
converts them with (PyAV): nothing committed but this.

A recording is a warbling 440 Hz tone between two stretches of digital silence, so that the
trimmed length is known to the sample: ``lead + seconds + tail`` before, ``seconds`` plus the
margin the converter keeps (``convert.KEEP_SILENCE_SECONDS`` at each end) after.
"""

from __future__ import annotations

import io

import av
import numpy as np

# (FFmpeg's muxer, encoder, sample rate, layout) of what each device records.
KINDS = {
    "iphone.m4a": ("ipod", "aac", 48000, "mono"),  # an iPhone voice memo: AAC in an .m4a
    "android.m4a": ("ipod", "aac", 44100, "stereo"),
    "browser.webm": ("webm", "libopus", 48000, "mono"),  # Chromium's MediaRecorder
    "android.ogg": ("ogg", "libopus", 48000, "mono"),
    "voice.opus": ("opus", "libopus", 48000, "mono"),
    "raw.aac": ("adts", "aac", 44100, "mono"),  # AAC without a container (ADTS)
    "pc.wav": ("wav", "pcm_s16le", 44100, "stereo"),
    "studio.flac": ("flac", "flac", 44100, "mono"),
    "old.mp3": ("mp3", "libmp3lame", 44100, "stereo"),
    "mac.m4a": ("ipod", "alac", 44100, "mono"),  # Apple Lossless
}


def samples(*, seconds: float, lead: float, tail: float, rate: int, level_dbfs: float):
    tone_length = int(seconds * rate)
    t = np.arange(tone_length) / rate
    tone = np.sin(2 * np.pi * 440 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    if tone.size:
        tone *= 10 ** (level_dbfs / 20) / np.abs(tone).max()
    silence = (np.zeros(int(lead * rate)), np.zeros(int(tail * rate)))
    return np.concatenate([silence[0], tone, silence[1]]).astype(np.float32)


def recording(
    kind: str = "iphone.m4a",
    *,
    seconds: float = 2.0,
    lead: float = 1.0,
    tail: float = 1.5,
    level_dbfs: float = -30.0,
) -> bytes:
    """The bytes of a recording of ``kind`` (a key of ``KINDS``)."""
    muxer, encoder, rate, layout = KINDS[kind]
    channels = 2 if layout == "stereo" else 1
    mono = samples(seconds=seconds, lead=lead, tail=tail, rate=rate, level_dbfs=level_dbfs)
    output = io.BytesIO()
    with av.open(output, "w", format=muxer) as container:
        stream = container.add_stream(encoder, rate=rate, layout=layout)
        sample_format = stream.codec_context.format.name
        size = stream.codec_context.frame_size or 1024
        pts = 0
        for start in range(0, mono.size, size):
            chunk = mono[start : start + size]
            if sample_format.endswith("p"):
                array = np.tile(chunk, (channels, 1))
            else:
                array = np.repeat(chunk, channels).reshape(1, -1)
            if sample_format.startswith("s16"):
                array = (array * 32767).astype(np.int16)
            elif sample_format.startswith("s32"):
                array = (array * 2147483647).astype(np.int32)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(array), format=sample_format, layout=layout
            )
            frame.sample_rate = rate
            frame.pts = pts
            pts += frame.samples
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return output.getvalue()


def silent_video() -> bytes:
    """An MP4 with a picture and no sound (what a screen recording without audio is)."""
    output = io.BytesIO()
    with av.open(output, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return output.getvalue()


def decoded(mp3: bytes) -> tuple[np.ndarray, int, int]:
    """An MP3 decoded again: (mono float samples, sample rate, channels of the stream)."""
    with av.open(io.BytesIO(mp3)) as container:
        stream = container.streams.audio[0]
        rate, channels = stream.codec_context.sample_rate, stream.codec_context.channels
        chunks = [frame.to_ndarray().reshape(channels, -1)[0] for frame in container.decode(stream)]
    return np.concatenate(chunks).astype(np.float32), rate, channels
