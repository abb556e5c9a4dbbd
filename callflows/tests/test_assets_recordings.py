"""A greeting from any recording: uploaded (or recorded in the browser), converted by the worker
into an MP3 the carrier plays well, heard on the page, then saved; anything else refused in
the owner's language with nothing stored.

Recordings are made here by PyAV (``callflows/tests/recordings.py``): their lengths are known
to the sample, so the lengths, sizes and levels asserted cannot flake.
"""

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from callflows.assets import convert, uploads
from callflows.models import AudioFile, AudioUpload
from callflows.tests.factories import make_audio, make_audio_upload
from callflows.tests.recordings import KINDS, decoded, recording, silent_video
from portal.models import AuditEvent
from portal.names import name_key
from portal.scoping import scopes_disabled, tenant_scope
from sandbox import media as sandbox_media

KEEP = convert.KEEP_SILENCE_SECONDS


@pytest.fixture(autouse=True)
def after_commit(django_capture_on_commit_callbacks):
    """Run what a commit triggers (the outbox hands the conversion over) inside each test."""
    global _capture
    _capture = django_capture_on_commit_callbacks
    yield


def post_recording(client, name: str, data: bytes, *, label: str = "Greeting"):
    file = SimpleUploadedFile(name, data, content_type="application/octet-stream")
    with _capture(execute=True):
        return client.post(reverse("audio_upload"), {"label": label, "file": file})


def upload_row() -> AudioUpload:
    with scopes_disabled():
        return AudioUpload.objects.get()


def media_files() -> set[str]:
    """Every file under media/audio (the folder is shared by the whole run: compare sets)."""
    root = Path(settings.MEDIA_ROOT) / "audio"
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def committed(call):
    """``call()`` with what its commit triggers run (files deleted after commit)."""
    with _capture(execute=True):
        return call()


def converted(client, task_queue, name: str, data: bytes, *, label: str = "Greeting"):
    """Upload, let the worker convert, and return the upload's page as the browser sees it."""
    response = post_recording(client, name, data, label=label)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert task_queue.names() == ["callflows.audio_convert"]
    assert task_queue.run_all() == 1
    return client.get(response["Location"])


# --- Converting ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_it_turns_any_recording_into_a_trimmed_mono_mp3_the_carrier_accepts(
    client, personas, task_queue, kind
):
    client.force_login(personas.staff_a)
    data = recording(kind, seconds=2.0, lead=1.0, tail=1.5)

    page = converted(client, task_queue, kind, data, label="Welcome")

    upload = upload_row()
    assert page.status_code == 200 and upload.status == AudioUpload.Status.READY
    assert upload.source_seconds == pytest.approx(4.5, abs=0.06)  # encoders pad a little
    expected = 2.0 + 2 * KEEP
    assert upload.duration_seconds == pytest.approx(expected, abs=0.1)
    assert upload.trimmed_start_seconds == pytest.approx(1.0 - KEEP, abs=0.06)
    assert upload.sample_rate == convert.TARGET_SAMPLE_RATE
    assert upload.bitrate == pytest.approx(convert.TARGET_BITRATE, rel=0.01)
    # the page plays the MP3 and says both lengths
    html = page.content.decode()
    assert 'data-upload-status="ready"' in html
    assert "4.5 s" in html and f"{upload.duration_seconds:.1f} s" in html
    listened = client.get(reverse("audio_upload_listen", args=[upload.code]))
    mp3 = b"".join(listened.streaming_content)
    assert listened["Content-Type"] == "audio/mpeg" and len(mp3) == upload.size_bytes
    # the carrier's own inspector (the sandbox's, not the portal's) plays it: mono MP3
    played = sandbox_media.inspect_mp3(mp3)
    assert played.channels == 1 and played.sample_rate == 22050
    # (FFmpeg leaves out the encoder's delay and padding that LAME's header records, 1,100 to
    # 2,200 samples: 0.05 to 0.1 s less than the frames hold)
    assert upload.duration_seconds - 0.1 <= played.duration_seconds <= upload.duration_seconds
    assert len(mp3) < len(data) or kind.endswith((".webm", ".ogg", ".m4a"))


def test_it_evens_out_the_loudness_of_quiet_and_loud_recordings():
    levels = {}
    for level in (-36.0, -6.0):
        result = convert.recording_convert(
            recording("iphone.m4a", seconds=4.0, level_dbfs=level), max_seconds=600
        )
        samples, rate, channels = decoded(result.mp3)
        levels[level] = convert.loudness_lufs(samples, rate)
        assert channels == 1
        assert 20 * np.log10(np.abs(samples).max()) <= convert.MAX_PEAK_DBFS + 0.5

    # 30 dB apart before, within 1 LU of the target after
    assert levels[-36.0] == pytest.approx(convert.TARGET_LUFS, abs=1.0)
    assert levels[-6.0] == pytest.approx(convert.TARGET_LUFS, abs=1.0)


def test_a_recording_made_too_quietly_is_raised_no_more_than_the_limit():
    result = convert.recording_convert(
        recording("pc.wav", seconds=2.0, level_dbfs=-44.0), max_seconds=600
    )
    assert result.gain_db == pytest.approx(convert.MAX_GAIN_DB)


def test_saving_puts_the_mp3_in_the_library_audited_and_forgets_the_upload(
    client, personas, task_queue
):
    client.force_login(personas.staff_a)
    files_before = media_files()
    converted(client, task_queue, "memo.m4a", recording("iphone.m4a"), label="Welcome")
    upload = upload_row()
    result = (Path(settings.MEDIA_ROOT) / upload.result.name).read_bytes()

    response = committed(
        lambda: client.post(reverse("audio_upload_save", args=[upload.code]), {"label": "受付"})
    )

    with tenant_scope(personas.tenant_a):
        audio = AudioFile.objects.get()
        actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert response.status_code == 302
    assert response["Location"] == reverse("audio_edit", args=[audio.code])
    assert audio.label == "受付" and audio.original_name == "memo.m4a"
    assert audio.uploaded_by == personas.staff_a
    assert (Path(settings.MEDIA_ROOT) / audio.file.name).read_bytes() == result
    assert audio.duration_seconds == pytest.approx(upload.duration_seconds, abs=0.001)
    assert actions == ["audio.create"]
    with scopes_disabled():
        assert not AudioUpload.objects.exists()
    # the upload's two files are gone, the library's MP3 is there
    assert media_files() - files_before == {f"{audio.public_id}.mp3"}


def test_reloading_the_page_after_an_upload_uploads_nothing_again(client, personas, task_queue):
    client.force_login(personas.staff_a)
    response = post_recording(client, "memo.m4a", recording("iphone.m4a"))

    for _ in range(3):
        assert client.get(response["Location"]).status_code == 200

    with scopes_disabled():
        assert AudioUpload.objects.count() == 1
    assert len(task_queue.sent) == 1


def test_the_page_follows_the_conversion_until_it_is_ready(client, personas, task_queue):
    client.force_login(personas.staff_a)
    response = post_recording(client, "memo.m4a", recording("iphone.m4a"))
    detail = response["Location"]

    waiting = client.get(detail, headers={"HX-Request": "true"}).content.decode()
    task_queue.run_all()
    ready = client.get(detail, headers={"HX-Request": "true"}).content.decode()

    assert 'data-upload-status="queued"' in waiting and 'hx-trigger="every 1s"' in waiting
    assert 'data-upload-status="ready"' in ready and "hx-trigger" not in ready


def test_discarding_deletes_the_upload_and_its_files(client, personas, task_queue):
    client.force_login(personas.staff_a)
    files_before = media_files()
    converted(client, task_queue, "memo.m4a", recording("iphone.m4a"))
    upload = upload_row()
    assert len(media_files() - files_before) == 2  # the recording and its MP3

    response = committed(lambda: client.post(reverse("audio_upload_discard", args=[upload.code])))

    assert response.status_code == 302
    with scopes_disabled():
        assert not AudioUpload.objects.exists() and not AudioFile.objects.exists()
    assert media_files() == files_before


def test_uploads_nobody_saved_are_pruned_after_a_day(personas, settings, time_machine):
    time_machine.move_to("2026-12-06T09:00:00+09:00")
    old = make_audio_upload(personas.tenant_b, label="yesterday")
    time_machine.move_to("2026-12-07T10:00:00+09:00")
    kept = make_audio_upload(personas.tenant_a, label="today")

    assert committed(uploads.audio_uploads_prune) == 1

    with scopes_disabled():
        assert list(AudioUpload.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not (Path(settings.MEDIA_ROOT) / old.result.name).exists()
    assert (Path(settings.MEDIA_ROOT) / kept.result.name).exists()


def test_a_worker_that_died_converting_converts_again_then_gives_up(personas, task_queue):
    upload = make_audio_upload(personas.tenant_a)
    with scopes_disabled():
        AudioUpload.objects.filter(pk=upload.pk).update(
            status=AudioUpload.Status.CONVERTING, attempts=uploads.MAX_ATTEMPTS
        )
    with tenant_scope(personas.tenant_a):
        assert uploads.audio_upload_convert(upload_id=upload.pk) == "not claimed"
    upload.refresh_from_db()
    assert upload.status == AudioUpload.Status.FAILED and upload.failure_code == "interrupted"


# --- Refusals ----------------------------------------------------------------------------------

NOT_RECORDINGS = {
    "notes.txt": (
        lambda: "営業時間のメモ\n".encode() * 40,
        "これは文字のファイルで、録音ではありません",
    ),
    "invoice.pdf": (lambda: b"%PDF-1.7\n" + bytes(4000), "PDFのファイルで、録音ではありません"),
    "photos.zip": (lambda: b"PK\x03\x04" + bytes(4000), "ZIPのファイルで、録音ではありません"),
    "noise.m4a": (lambda: bytes(range(256)) * 40, "音声を読み取れません"),
    "screen.mp4": (silent_video, "音が入っていません"),
    "silence.wav": (
        lambda: recording("pc.wav", seconds=0.0, lead=2.0, tail=0.0),
        "録音が無音です",
    ),
    "long.m4a": (
        lambda: recording("iphone.m4a", seconds=7.0, lead=0.5, tail=0.5),
        "無音を除いて0:07あります",
    ),
}


@pytest.mark.parametrize("name", sorted(NOT_RECORDINGS))
def test_what_is_no_usable_recording_is_told_in_japanese_and_nothing_is_saved(
    client, personas, settings, task_queue, name
):
    settings.AUDIO_MAX_SECONDS = 5
    make, message = NOT_RECORDINGS[name]
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    client.force_login(personas.staff_a)

    page = converted(client, task_queue, name, make(), label="挨拶")

    html = page.content.decode()
    assert upload_row().status == AudioUpload.Status.FAILED
    assert message in html, html[html.find("data-upload-problem") :][:400]
    assert 'value="挨拶"' in html  # the label typed is kept for the next try
    with scopes_disabled():
        assert not AudioFile.objects.exists()
        assert not AuditEvent.objects.filter(action="audio.create").exists()


def test_a_file_over_the_upload_limit_is_refused_unstored(client, personas, settings, task_queue):
    settings.AUDIO_UPLOAD_MAX_BYTES = 20_000
    client.force_login(personas.staff_a)
    files_before = media_files()
    data = recording("pc.wav", seconds=1.0)  # ~400 KB of WAV

    response = post_recording(client, "big.wav", data, label="Big")

    assert response.status_code == 400
    assert "at most 19.5\xa0KB can be uploaded" in response.content.decode()
    assert 'value="Big"' in response.content.decode()
    with scopes_disabled():
        assert not AudioUpload.objects.exists()
    assert media_files() == files_before and task_queue.sent == []


def test_an_empty_file_is_refused_unstored(client, personas, task_queue):
    client.force_login(personas.staff_a)
    response = post_recording(client, "empty.m4a", b"")
    assert response.status_code == 400
    with scopes_disabled():
        assert not AudioUpload.objects.exists()
    assert task_queue.sent == []


@pytest.mark.parametrize(
    "taken,typed",
    [
        ("VIP", "\uff56\uff49\uff50"),  # full-width "vip", as an input method types it
        ("Welcome", " welcome "),
        ("受付", "受付"),
    ],
)
def test_a_name_the_library_holds_already_is_refused_whatever_its_width_or_case(
    client, personas, task_queue, taken, typed
):
    make_audio(personas.tenant_a, label=taken)
    with scopes_disabled():
        AudioFile.objects.filter(label=taken).update(name_key=name_key(taken))
    client.force_login(personas.staff_a)

    response = post_recording(client, "memo.m4a", recording("iphone.m4a"), label=typed)

    assert response.status_code == 400
    assert f"A recording named “{taken}” already exists" in response.content.decode()
    assert task_queue.sent == []


def test_viewers_cannot_upload_or_open_uploads(client, personas):
    upload = make_audio_upload(personas.tenant_a)
    client.force_login(personas.viewer_a)
    for url in (
        reverse("audio_upload"),
        reverse("audio_upload_detail", args=[upload.code]),
        reverse("audio_upload_listen", args=[upload.code]),
    ):
        assert client.get(url).status_code == 403
    assert client.post(reverse("audio_upload_save", args=[upload.code])).status_code == 403
    with scopes_disabled():
        assert AudioUpload.objects.count() == 1


def test_the_upload_page_offers_recording_and_the_file_types_people_have(client, personas):
    client.force_login(personas.staff_a)
    html = client.get(reverse("audio_upload")).content.decode()
    assert "data-recorder" in html and "js/recorder.js" in html
    assert 'accept="audio/*,.m4a' in html
