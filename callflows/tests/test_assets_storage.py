"""Where MP3s are stored fails for real: a full disk, a read-only one, and a bucket.

The media folder is a real file system mounted for the test (tmpfs: 1 MB, then remounted
read-only), so the kernel refuses the write as it would in production. The upload page says
nothing was saved and why, answers 4xx (never 500), leaves no partial file, and tells
operators. With ``MEDIA_BUCKET`` an S3-compatible server (moto's, on loopback) takes uploads
and the edge plays them from there.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.urls import reverse

from callflows.models import AudioFile, AudioUpload
from callflows.tests.factories import SAMPLES
from portal.models import PlatformAlert, PlatformAlertKind
from portal.scoping import scopes_disabled, tenant_scope
from testing.scaffolding import edge_get

GREETING = (SAMPLES / "greeting-en.mp3").read_bytes()


def _mount(path: Path, *options: str) -> bool:
    result = subprocess.run(  # noqa: S603
        ["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(path)],  # noqa: S607
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


@pytest.fixture
def small_disk(tmp_path, settings):
    """A 1 MB file system as the media folder (needs the right to mount: root in CI)."""
    folder = tmp_path / "media"
    folder.mkdir()
    if shutil.which("mount") is None or not _mount(folder, "size=1m"):
        pytest.skip("mounting a small file system needs root (CI runs as root)")
    settings.MEDIA_ROOT = str(folder)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)  # noqa: S603, S607


def _upload(client, label: str, data: bytes = GREETING):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        reverse("audio_upload"),
        {"label": label, "file": SimpleUploadedFile("greeting.mp3", data, "audio/mpeg")},
    )


def _leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_an_upload_to_a_full_disk_says_so_and_leaves_nothing(client, personas, small_disk):
    client.force_login(personas.staff_a)
    (small_disk / "filler").write_bytes(b"\0" * (1024 * 1024 - 8 * 1024))  # almost full

    response = _upload(client, "Full disk")

    assert response.status_code == 400
    assert "could not be stored" in response.content.decode()
    assert "storage is full" in response.content.decode()
    assert _leftovers(small_disk) == ["filler"]  # no partial file, no temporary file
    with tenant_scope(personas.tenant_a):
        assert not AudioFile.objects.exists()
    assert PlatformAlert.objects.filter(kind=PlatformAlertKind.STORAGE_FAILED).count() == 1


def test_a_conversion_the_disk_cannot_hold_fails_saying_so(
    client, personas, small_disk, task_queue, django_capture_on_commit_callbacks
):
    client.force_login(personas.staff_a)
    with django_capture_on_commit_callbacks(execute=True):
        assert _upload(client, "Fills the disk").status_code == 302
    free = shutil.disk_usage(small_disk).free
    (small_disk / "filler").write_bytes(b"\0" * max(free - 1024, 0))  # the source fits, no more

    assert task_queue.run_all_named("callflows.audio_convert") == 1

    with scopes_disabled():
        upload = AudioUpload.objects.get()
    assert (upload.status, upload.failure_code) == (AudioUpload.Status.FAILED, "not_stored")
    page = client.get(reverse("audio_upload_detail", args=[upload.code])).content.decode()
    assert "could not be stored" in page
    # the source stays for another try; no partial result, no temporary file
    assert _leftovers(small_disk) == sorted([f"audio/uploads/{upload.code}.source", "filler"])
    assert PlatformAlert.objects.filter(kind=PlatformAlertKind.STORAGE_FAILED).count() == 1


def test_an_upload_to_a_read_only_disk_says_so_and_leaves_nothing(client, personas, small_disk):
    client.force_login(personas.staff_a)
    remounted = subprocess.run(  # noqa: S603
        ["mount", "-o", "remount,ro", str(small_disk)],  # noqa: S607
        capture_output=True,
        check=False,
    )
    assert remounted.returncode == 0, remounted.stderr

    response = _upload(client, "Read-only disk")

    assert response.status_code == 400
    assert "cannot be written to" in response.content.decode()
    assert _leftovers(small_disk) == []
    with tenant_scope(personas.tenant_a):
        assert not AudioFile.objects.exists()


def test_a_stored_upload_is_one_whole_file_and_nothing_else(client, personas, small_disk):
    client.force_login(personas.staff_a)
    assert _upload(client, "Fits").status_code == 302
    (stored,) = _leftovers(small_disk)
    assert (small_disk / stored).read_bytes() == GREETING


# --- A bucket -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    """moto's S3-compatible server on loopback (from requirements-dev.txt)."""
    server = Path(sys.executable).with_name("moto_server")
    if not server.exists():
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        assert time.monotonic() < deadline, "moto_server did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def bucket(s3_server, settings, monkeypatch):
    import boto3

    name = f"media-{uuid.uuid4().hex[:8]}"
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setitem(os.environ, key, value)
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=name)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": name,
                "endpoint_url": s3_server,
                "location": "media",
                "default_acl": None,
                "file_overwrite": False,
            },
        },
    }
    with contextlib.suppress(KeyError):
        del storages._storages["default"]
    field = AudioFile._meta.get_field("file")
    monkeypatch.setattr(field, "storage", storages["default"])
    yield boto3.client("s3", endpoint_url=s3_server), name
    with contextlib.suppress(KeyError):
        del storages._storages["default"]


def test_an_upload_goes_to_the_bucket_and_the_edge_plays_it_from_there(
    client, personas, bucket, settings, task_queue, django_capture_on_commit_callbacks
):
    s3, name = bucket
    settings.MEDIA_ROOT = "/nonexistent"  # nothing on this machine's disk
    client.force_login(personas.staff_a)
    with django_capture_on_commit_callbacks(execute=True):
        assert _upload(client, "In the bucket").status_code == 302
    assert task_queue.run_all_named("callflows.audio_convert") == 1  # the worker reads it back
    with scopes_disabled():
        upload = AudioUpload.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(reverse("audio_upload_save", args=[upload.code]), {"label": "Bucket"})
    assert saved.status_code == 302
    with tenant_scope(personas.tenant_a):
        audio = AudioFile.objects.get()
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=name)["Contents"]]
    assert keys == [f"media/audio/{audio.public_id}.mp3"]  # the upload's own files are gone

    played = edge_get(f"/media/audio/{audio.public_id}.mp3")
    stored = s3.get_object(Bucket=name, Key=keys[0])["Body"].read()
    assert played.status_code == 200 and played.content == stored
    assert audio.size_bytes == len(stored) > 1000
