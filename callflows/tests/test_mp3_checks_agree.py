"""The portal's upload check and the sandbox carrier's player judge the same files alike.

They share no code: the portal walks MPEG frame headers and asks mutagen
(``callflows/assets/mpeg.py``), the sandbox decodes every frame with FFmpeg through PyAV
(``sandbox/media.py``). A file the portal accepts and the carrier cannot play is a caller
hearing silence; a bug in either check shows here as a disagreement.

One difference is a rule, not a bug: the portal refuses bytes that are not audio in front of
the audio or between its frames (a few frames hidden behind a text, two files spliced), which
a player skips.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from callflows.assets import mpeg
from sandbox import media

SAMPLES = Path(__file__).resolve().parents[2] / "sandbox" / "tests" / "data"
PLAYABLE = ("greeting-en.mp3", "greeting-ja.mp3", "tone-8khz.mp3")
# Durations agree to a frame: the decoder counts a last frame cut short, the walk does not.
DURATION_TOLERANCE = 0.1


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def corpus() -> dict[str, bytes]:
    """Every sample, and each playable one cut, padded, followed by junk, tagged and damaged."""
    chance = random.Random(22)
    files = {path.name: path.read_bytes() for path in sorted(SAMPLES.glob("*.mp3"))}
    for name in PLAYABLE:
        audio = _sample(name)
        for cut in (50, 100, 104, 105, 208, 300, 1000, len(audio) // 2, len(audio) - 1):
            files[f"{name} cut at byte {cut}"] = audio[:cut]
        for frames in (1, 2, 3, 10):
            head = audio[: 104 * frames]
            files[f"{name} {frames} frames then text"] = head + b"hello world" * 50
            files[f"{name} {frames} frames then zeros"] = head + bytes(500)
            files[f"{name} {frames} frames then noise"] = head + chance.randbytes(500)
        files[f"{name} then an error page"] = audio + b"<html>error</html>"
        files[f"{name} then a ZIP archive"] = audio + b"PK\x03\x04" + chance.randbytes(300)
        files[f"{name} with ID3v1"] = audio + b"TAG" + bytes(125)
        files[f"{name} with ID3v2"] = b"ID3\x03\x00\x00\x00\x00\x00\x14" + bytes(20) + audio
    files["two files joined"] = _sample("greeting-en.mp3") + _sample("tone-8khz.mp3")
    files["MPEG Layer II"] = (bytes([0xFF, 0xFD, 0x90, 0x00]) + bytes(518)) * 4
    return files


def foreign_bytes() -> dict[str, bytes]:
    chance = random.Random(23)
    files = {}
    for name in PLAYABLE:
        audio = _sample(name)
        middle = len(audio) // 2
        files[f"text then {name}"] = b"hello world\n" * 3 + audio
        files[f"noise then {name}"] = chance.randbytes(100) + audio
        files[f"{name} with junk inside"] = audio[:middle] + b"JUNKJUNK" + audio[middle:]
    return files


def damaged() -> dict[str, bytes]:
    """One byte flipped somewhere in the audio: in a frame's data the decoder skips that frame
    and the walk cannot see it; in a frame's header both see it, the player as a glitch."""
    chance = random.Random(24)
    files = {}
    for name in PLAYABLE:
        audio = _sample(name)
        for _ in range(12):
            flipped = bytearray(audio)
            at = chance.randrange(200, len(audio))
            flipped[at] ^= 0xFF
            files[f"{name} byte {at} flipped"] = bytes(flipped)
    return files


def verdict(check, data: bytes) -> float | str:
    """The duration a check measures, or its refusal."""
    try:
        return check(data).duration_seconds
    except (mpeg.MediaError, media.MediaError) as refusal:
        return f"refused: {refusal.reason}"


def disagreements(files: dict[str, bytes]) -> list[str]:
    found = []
    for name, data in files.items():
        portal, carrier = verdict(mpeg.inspect_mp3, data), verdict(media.inspect_mp3, data)
        if isinstance(portal, str) and isinstance(carrier, str):
            continue
        both_play = isinstance(portal, float) and isinstance(carrier, float)
        if both_play and abs(portal - carrier) <= DURATION_TOLERANCE:
            continue
        found.append(f"{name}: portal {portal!r}, sandbox {carrier!r}")
    return found


def test_the_corpus_holds_files_each_check_accepts_and_refuses():
    files = corpus()
    portal = [verdict(mpeg.inspect_mp3, data) for data in files.values()]
    accepted = sum(isinstance(seen, float) for seen in portal)
    assert len(files) > 60
    assert 20 < accepted < len(files) - 20


def test_the_portal_and_the_sandbox_agree_on_every_file():
    assert disagreements(corpus()) == []


def test_what_the_portal_accepts_of_damaged_files_plays_as_long():
    files = damaged()
    for name, data in files.items():
        portal, carrier = verdict(mpeg.inspect_mp3, data), verdict(media.inspect_mp3, data)
        if isinstance(portal, float):
            assert isinstance(carrier, float), f"{name}: the portal accepts, the sandbox {carrier}"
            assert abs(portal - carrier) <= DURATION_TOLERANCE, name


def test_the_portal_refuses_bytes_that_are_not_audio_which_a_player_skips():
    for name, data in foreign_bytes().items():
        assert isinstance(verdict(mpeg.inspect_mp3, data), str), name
        assert isinstance(verdict(media.inspect_mp3, data), float), name


def test_a_bug_in_the_portals_check_shows_as_a_disagreement(monkeypatch):
    # given a portal check that takes whatever follows the frames for a tag
    monkeypatch.setattr(mpeg, "_id3v2_length", lambda data, offset: len(data) - offset)
    found = disagreements(corpus())
    assert "greeting-en.mp3 2 frames then text: portal 0.052, sandbox " in "\n".join(found)


def test_a_bug_in_the_sandboxs_player_shows_as_a_disagreement(monkeypatch):
    # given a player that stops at the first packet it cannot decode and calls that the end
    def lenient(container, stream):
        seen = media._Decoded(sample_rate=stream.sample_rate, channels=stream.channels)
        for packet in container.demux(stream):
            try:
                decoded = packet.decode()
            except Exception:
                break
            seen.samples += sum(frame.samples for frame in decoded)
            seen.frames += len(decoded)
        return seen

    monkeypatch.setattr(media, "_decode_all", lenient)
    assert any("frames then text: portal 'refused" in line for line in disagreements(corpus()))


@pytest.mark.parametrize("name", PLAYABLE)
def test_both_measure_the_samples_alike(name):
    portal, carrier = mpeg.inspect_mp3(_sample(name)), media.inspect_mp3(_sample(name))
    assert (portal.sample_rate, portal.channels) == (carrier.sample_rate, carrier.channels)
    assert portal.kind == carrier.kind
