"""MP3 playing (FFmpeg's decoder) over every sample file and broken files, and fetching over
HTTP."""

import io
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import mutagen.mp3
import pytest

from sandbox.media import MediaError, fetch_media, fetch_mp3, inspect_mp3

DATA = Path(__file__).parent / "data"

# name: (duration s, sample rate, bit/s) for files to accept, or a reason fragment to refuse.
SAMPLES = {
    "greeting-en.mp3": (6.3, 22050, 32000),
    "greeting-ja.mp3": (3.8, 22050, 32000),
    "tone-8khz.mp3": (2.2, 8000, 16000),
    "wav-renamed.mp3": "WAV file, not MPEG audio",
    "text.mp3": "text, not MPEG audio",
    "empty.mp3": "empty",
    "id3-only.mp3": "ID3 tag and no audio frames",
}


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_it_has_an_expectation_for_every_sample_file():
    assert {path.name for path in DATA.glob("*.mp3")} == set(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_it_accepts_valid_samples_and_refuses_invalid_ones(name):
    expected = SAMPLES[name]
    if isinstance(expected, str):
        with pytest.raises(MediaError) as raised:
            inspect_mp3(sample(name))
        assert expected in raised.value.reason
        return
    duration, sample_rate, bitrate = expected
    info = inspect_mp3(sample(name))
    assert info.duration_seconds == pytest.approx(duration, abs=0.1)
    assert info.sample_rate == sample_rate
    assert info.bitrate == bitrate
    assert info.channels == 1
    assert info.kind.endswith("Layer III")


def test_it_refuses_raw_pcm_without_a_wav_header():
    # given WAV samples without the RIFF header that names them: only decoding can tell
    pcm = sample("wav-renamed.mp3")[44:]
    with pytest.raises(MediaError, match="not MPEG audio"):
        inspect_mp3(pcm)


def test_it_refuses_a_lone_false_frame_sync():
    header = bytes([0xFF, 0xF3, 0x40, 0xC4])  # a valid MPEG-2 Layer III header, 104-byte frame
    with pytest.raises(MediaError, match="finds no audio in it: not MPEG audio"):
        inspect_mp3(header + bytes(range(100)) + b"this is no second frame" * 20)


def test_it_refuses_frames_that_break_off_into_junk_although_mutagen_reads_them():
    data = sample("greeting-en.mp3")[:208] + b"hello world" * 50  # two frames, then text
    assert mutagen.mp3.MP3(io.BytesIO(data)).info.length > 0  # mutagen alone would accept it
    with pytest.raises(MediaError, match=r"breaks off after 0.05 s \(2 frames\)"):
        inspect_mp3(data)


def test_it_refuses_a_file_cut_inside_its_first_frame():
    with pytest.raises(MediaError, match="finds no audio in it: not MPEG audio"):
        inspect_mp3(sample("greeting-en.mp3")[:100])


def test_it_accepts_a_download_cut_inside_a_later_frame():
    info = inspect_mp3(sample("greeting-en.mp3")[:5000])
    assert 1.0 < info.duration_seconds < 1.4


def test_it_refuses_mpeg_layer_two():
    # MPEG-1 Layer II, 160 kbit/s, 44.1 kHz: frames of 522 bytes, chained correctly.
    frame = bytes([0xFF, 0xFD, 0x90, 0x00]) + bytes(518)
    with pytest.raises(MediaError, match=r"Layer II, not MP3"):
        inspect_mp3(frame * 4)


def test_it_looks_past_id3_tags_and_trailing_tags():
    audio = sample("tone-8khz.mp3")
    id3 = b"ID3\x03\x00\x00\x00\x00\x00\x14" + bytes(20)  # 20 bytes of tag, syncsafe size
    id3v1 = b"TAG" + bytes(125)
    info = inspect_mp3(id3 + audio + id3v1)
    assert info.duration_seconds == inspect_mp3(audio).duration_seconds


def test_it_refuses_a_truncated_id3_tag():
    with pytest.raises(MediaError, match="ID3"):
        inspect_mp3(b"ID3\x03\x00")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<!DOCTYPE html><html><body>Not Found</body></html>", "HTML or XML"),
        (b"OggS" + bytes(100), "Ogg"),
        (b"\x00\x00\x00\x20ftypM4A " + bytes(100), "MP4"),
        ("こんにちは\n".encode() * 200, "text, not MPEG audio"),
    ],
)
def test_it_names_common_wrong_formats(data, reason):
    with pytest.raises(MediaError) as raised:
        inspect_mp3(data)
    assert reason in raised.value.reason


# --- fetching over real HTTP -----------------------------------------------------------------


@pytest.fixture(scope="module")
def audio_server():
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # else delayed ACKs add ~40 ms per reused connection

        def do_GET(self):
            name = self.path.rsplit("/", 1)[-1]
            if self.path.startswith("/slow/"):
                release.wait(3)
            if self.path.startswith("/endless/"):
                # No Content-Length: the size cap must stop the read, not the header check.
                self.send_response(200)
                self.send_header("Content-Type", "audio/mpeg")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for _ in range(64):
                        self.wfile.write(bytes(16 * 1024))
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client hung up at its cap, as it should
                return
            if not (DATA / name).is_file():
                self.send_error(404)
                return
            body = (DATA / name).read_bytes()
            self.send_response(200)
            plain = self.path.startswith("/plain/")
            self.send_header("Content-Type", "text/plain" if plain else "audio/mpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    release.set()
    server.shutdown()
    server.server_close()


def test_it_fetches_an_mp3_and_inspects_it(audio_server):
    data = fetch_mp3(f"{audio_server}/audio/greeting-ja.mp3")
    assert data == sample("greeting-ja.mp3")
    assert inspect_mp3(data).duration_seconds == pytest.approx(3.8, abs=0.1)


def test_it_notes_a_content_type_that_is_not_audio(audio_server):
    fetched = fetch_media(f"{audio_server}/plain/tone-8khz.mp3")
    assert fetched.data == sample("tone-8khz.mp3")
    assert fetched.notes == ("served as text/plain, not audio/mpeg",)
    assert fetch_media(f"{audio_server}/audio/tone-8khz.mp3").notes == ()


def test_it_reports_the_status_of_a_missing_file(audio_server):
    with pytest.raises(MediaError) as raised:
        fetch_mp3(f"{audio_server}/audio/missing.mp3")
    assert raised.value.reason == "MP3 URL answered HTTP 404"
    assert raised.value.status == 404


def test_it_refuses_a_file_larger_than_the_cap_by_its_declared_length(audio_server):
    with pytest.raises(MediaError, match="25078 bytes, more than 10000"):
        fetch_mp3(f"{audio_server}/audio/greeting-en.mp3", max_bytes=10_000)


def test_it_stops_reading_a_stream_beyond_the_cap(audio_server):
    with pytest.raises(MediaError, match="larger than 100000 bytes"):
        fetch_mp3(f"{audio_server}/endless/x.mp3", max_bytes=100_000)


def test_it_times_out_on_a_slow_server(audio_server):
    with pytest.raises(MediaError, match=r"timed out after 0.3 s"):
        fetch_mp3(f"{audio_server}/slow/tone-8khz.mp3", timeout=0.3)


def test_it_reports_an_unreachable_server():
    with socket.socket() as probe:  # a port that was free a moment ago and is closed now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(MediaError, match="MP3 URL unreachable: Connection refused"):
        fetch_mp3(f"http://127.0.0.1:{port}/a.mp3", timeout=1)


def test_it_refuses_a_url_that_is_not_http():
    with pytest.raises(MediaError, match="not an http"):
        fetch_mp3("file:///etc/passwd")
