"""The MP3 library: the MP3 inspector's checks and limits (MP3s sent through the API are stored
as sent; the upload page converts any recording: test_assets_recordings.py), the list with
"used by", rename, delete, the player."""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from callflows.assets.audio import AudioRejected, audio_inspect
from callflows.flows import publishing
from callflows.models import AudioFile, CallFlow
from callflows.tests.factories import SAMPLES, make_audio
from dins.tests.factories import SubscriptionFactory
from portal.models import AuditEvent, Membership
from portal.scoping import scopes_disabled, tenant_scope


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def upload(client, name: str, *, label="Greeting", data: bytes | None = None, tenant=None):
    """An MP3 through the API (``POST /api/v1/assets/audio``) with a staff key of ``tenant``
    (the signed-in person's company when not given)."""
    from api.tests.factories import make_key

    data = sample(name) if data is None else data
    file = SimpleUploadedFile(name, data, content_type="audio/mpeg")
    if tenant is None:
        with scopes_disabled():
            tenant = Membership.objects.filter(user_id=client.session["_auth_user_id"]).first()
            tenant = tenant.tenant
    _key, token = make_key(tenant, role="staff")
    return client.post(
        reverse("api-v1:api_audio_upload"),
        {"label": label, "file": file},
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
    )


def refusal(response) -> str:
    """The reason an API upload was refused (422, on ``file``)."""
    assert response.status_code == 422, response.content
    return " ".join(error["message"] for error in response.json()["errors"])


def stored_files() -> set[str]:
    folder = Path(settings.MEDIA_ROOT) / "audio"
    return {path.name for path in folder.glob("*")} if folder.exists() else set()


def audit_actions(tenant) -> list[str]:
    with tenant_scope(tenant):
        return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def give_flow(subscription, document, *, override=None):
    with tenant_scope(subscription.tenant):
        return CallFlow.objects.create(
            tenant=subscription.tenant,
            subscription=subscription,
            document=document,
            override_document=override,
        )


def playback_flow(audio) -> dict:
    return {
        "rules": [
            {
                "label": "Open",
                "when": {"type": "always"},
                "then": {"type": "playback", "audio": str(audio.code)},
            }
        ],
        "default": {"type": "voicemail", "greeting": None},
    }


@pytest.fixture
def invalidated(monkeypatch):
    """Tokens of the numbers whose flows were published again (in the change's transaction)."""
    tokens: list[str] = []
    publish = publishing.flow_publish

    def recording(*, subscription):
        tokens.append(subscription.action_token)
        return publish(subscription=subscription)

    monkeypatch.setattr(publishing, "flow_publish", recording)
    return tokens


# --- Upload ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,seconds,sample_rate",
    [
        ("greeting-en.mp3", 6.3, 22050),
        ("greeting-ja.mp3", 3.8, 22050),
        ("tone-8khz.mp3", 2.2, 8000),
    ],
)
def test_it_stores_a_valid_mp3_under_its_public_id(client, personas, name, seconds, sample_rate):
    client.force_login(personas.staff_a)

    response = upload(client, name, label="Welcome")

    assert response.status_code == 201
    with tenant_scope(personas.tenant_a):
        audio = AudioFile.objects.get()
    assert audio.label == "Welcome"
    assert audio.original_name == name
    assert audio.size_bytes == len(sample(name))
    assert audio.duration_seconds == pytest.approx(seconds, abs=0.1)
    assert audio.sample_rate == sample_rate
    assert audio.file.name == f"audio/{audio.public_id}.mp3"
    assert (Path(settings.MEDIA_ROOT) / audio.file.name).read_bytes() == sample(name)
    assert audit_actions(personas.tenant_a) == ["api_key.create", "audio.create"]


@pytest.mark.parametrize(
    "name,reason",
    [
        ("empty.mp3", "empty"),
        ("id3-only.mp3", "only an ID3 tag"),
        ("text.mp3", "This is a text file, not MP3 audio."),
        ("wav-renamed.mp3", "This is a WAV file renamed to .mp3; export it as MP3."),
    ],
)
def test_it_refuses_each_invalid_sample_with_its_reason(client, personas, name, reason):
    client.force_login(personas.staff_a)
    files_before = stored_files()

    response = upload(client, name, label="Broken")

    assert reason in refusal(response)
    with tenant_scope(personas.tenant_a):
        assert not AudioFile.objects.exists()
    assert stored_files() == files_before
    assert audit_actions(personas.tenant_a) == ["api_key.create"]


def test_it_refuses_a_file_over_the_size_limit(client, personas, settings):
    settings.AUDIO_MAX_BYTES = 20_000
    client.force_login(personas.staff_a)
    files_before = stored_files()

    response = upload(client, "greeting-en.mp3")  # 25,078 bytes

    assert "The file is 24.5\xa0KB; at most 19.5\xa0KB is allowed." in refusal(response)
    with tenant_scope(personas.tenant_a):
        assert not AudioFile.objects.exists()
    assert stored_files() == files_before


def test_it_refuses_a_recording_over_the_duration_limit(client, personas, settings):
    settings.AUDIO_MAX_SECONDS = 5
    client.force_login(personas.staff_a)

    response = upload(client, "greeting-en.mp3")  # 6.3 s

    assert "The recording lasts 0:06; at most 0:05 is allowed." in refusal(response)
    with tenant_scope(personas.tenant_a):
        assert not AudioFile.objects.exists()


@translation.override("en")
def test_it_holds_the_default_limits_of_10_mb_and_10_minutes():
    # Concatenated MP3s of one format chain frame by frame: a valid, longer MP3.
    tone = sample("tone-8khz.mp3")  # 2.16 s in 4,320 bytes
    assert audio_inspect(tone * 277).duration_seconds < 600
    with pytest.raises(AudioRejected, match=r"lasts 10:0\d; at most 10:00"):
        audio_inspect(tone * 280)
    greeting = sample("greeting-en.mp3")
    with pytest.raises(AudioRejected, match=r"at most 10\.0\xa0MB"):
        audio_inspect(greeting * (10 * 1024 * 1024 // len(greeting) + 1))


def test_it_looks_past_an_id3_tag_to_the_first_frame():
    id3 = b"ID3\x03\x00\x00\x00\x00\x00\x14" + bytes(20)  # a 20-byte tag, syncsafe size
    info = audio_inspect(id3 + sample("tone-8khz.mp3"))
    assert info.duration_seconds == pytest.approx(2.16, abs=0.05)


@pytest.mark.parametrize(
    "data,reason",
    [
        (bytes([0xFF, 0xFD, 0x90, 0x00]) + bytes(518), "Layer II audio, not MP3"),
        (b"\x00\x01\x02\x03" * 100, "no MPEG audio frame starts at byte 0"),
        (sample("greeting-en.mp3")[:208] + bytes(range(256)) * 4, "breaks off after 2 MPEG"),
        (sample("greeting-en.mp3")[:100], "cut off inside its first MPEG frame"),
        (b"OggS" + bytes(60), "Ogg file renamed to .mp3"),
    ],
)
def test_it_refuses_what_is_not_playable_mp3(data, reason):
    with pytest.raises(AudioRejected, match=reason):
        audio_inspect(data)


# --- Polyglot and padded files -----------------------------------------------------------------

GREETING_FRAME = 104  # greeting-en.mp3: MPEG-2 Layer III, 22.05 kHz, 32 kbit/s (104-105 bytes)


def _frames(count: int) -> bytes:
    """The first ``count`` whole frames of greeting-en.mp3."""
    data, offset = sample("greeting-en.mp3"), 0
    for _ in range(count):
        offset += GREETING_FRAME + ((data[offset + 2] >> 1) & 1)  # the padding bit
    return data[:offset]


ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(200) + b"PK\x05\x06" + bytes(18)
HTML = b"<html><body><script>fetch('/steal')</script></body></html>" * 20


@pytest.mark.parametrize(
    "name,data,reason",
    [
        ("frames+zip.mp3", _frames(3) + ZIP, "The audio breaks off after 3 MPEG frames"),
        ("frames+html.mp3", _frames(3) + HTML, "The audio breaks off after 3 MPEG frames"),
        ("frames+html+frames.mp3", _frames(3) + HTML + _frames(5), "breaks off after 3"),
        (
            "junk-then-long.mp3",
            _frames(8) + b"\x13\x37junk" + sample("tone-8khz.mp3") * 310,
            "breaks off after 8 MPEG frames",
        ),
        ("html+frames.mp3", b"<!-- -->" + HTML + _frames(10), "This is a text file"),
        ("junk+frames.mp3", b"\x01\x02\x03junk" + sample("greeting-en.mp3"), "byte 0"),
        (
            "two-formats.mp3",
            sample("greeting-en.mp3") + sample("tone-8khz.mp3"),
            "changes format at byte 25078",
        ),
        (
            "fat-tag.mp3",
            b"ID3\x03\x00\x00\x00\x40\x00\x00" + bytes(1024 * 1024) + sample("tone-8khz.mp3"),
            "tags (title, cover art…) take 1.0",
        ),
    ],
)
def test_it_refuses_a_file_that_is_not_audio_to_its_last_byte(client, personas, name, data, reason):
    client.force_login(personas.staff_a)
    files_before = stored_files()

    response = upload(client, name, data=data, label="Polyglot")

    assert reason in refusal(response)
    with tenant_scope(personas.tenant_a):
        assert not AudioFile.objects.exists()
    assert stored_files() == files_before


def test_it_measures_the_audio_behind_junk_as_what_it_is():
    # 669 s of tone, the length that once passed as 0.2 s behind a few junk bytes
    long_tone = sample("tone-8khz.mp3") * 310
    with pytest.raises(AudioRejected, match=r"lasts 11:10; at most 10:00"):
        audio_inspect(long_tone)


def _info_frame() -> bytes:
    """A Xing "Info" header frame as LAME writes it first: a frame that holds no audio."""
    frame = bytearray(sample("greeting-en.mp3")[:GREETING_FRAME])  # header: padding bit off
    frame[4:] = bytes(len(frame) - 4)
    frame[4 + 9 : 4 + 13] = b"Info"  # MPEG-2 mono: 9 bytes of side information
    frame[4 + 13 : 4 + 17] = (0).to_bytes(4, "big")
    frame[60:69] = b"LAME3.100"
    return bytes(frame)


APE = (
    b"APETAGEX" + (2000).to_bytes(4, "little") + (32 + 21).to_bytes(4, "little")
    + (1).to_bytes(4, "little") + (0xA0000000).to_bytes(4, "little") + bytes(8)
    + (7).to_bytes(4, "little") + bytes(4) + b"Title\x00" + b"Welcome"
    + b"APETAGEX" + (2000).to_bytes(4, "little") + (32 + 21).to_bytes(4, "little")
    + (1).to_bytes(4, "little") + (0x80000000).to_bytes(4, "little") + bytes(8)
)  # fmt: skip
ID3V1 = b"TAG" + b"Welcome".ljust(30, b"\x00") + bytes(95)
ID3V2 = b"ID3\x03\x00\x00\x00\x00\x00\x14" + bytes(20)


@pytest.mark.parametrize(
    "name,data",
    [
        ("id3v2 + audio + id3v1", ID3V2 + sample("greeting-en.mp3") + ID3V1),
        ("audio + APEv2 + id3v1", sample("greeting-en.mp3") + APE + ID3V1),
        ("padding after the tag", ID3V2 + bytes(300) + sample("greeting-en.mp3")),
        ("padding at the end", sample("greeting-en.mp3") + bytes(2000)),
        ("a Xing/LAME Info frame first", _info_frame() + sample("greeting-en.mp3")),
        (
            "an ID3v2 tag between two parts",
            _frames(20) + ID3V2 + sample("greeting-en.mp3")[len(_frames(20)) :],
        ),
        ("a last frame cut short", sample("greeting-en.mp3")[:-40]),
    ],
)
def test_it_accepts_mp3_metadata_and_padding_and_counts_only_the_audio(name, data):
    plain = audio_inspect(sample("greeting-en.mp3"))
    info = audio_inspect(data)
    expected = plain.duration_seconds - (0.026 if "cut short" in name else 0)
    assert info.duration_seconds == pytest.approx(expected, abs=0.001), name
    assert info.sample_rate == plain.sample_rate


def test_the_upload_handler_stores_no_more_than_the_limit_of_an_oversized_file(rf, settings):
    from portal.uploads import CappedUploadHandler

    settings.AUDIO_MAX_BYTES = 100_000
    settings.AUDIO_UPLOAD_MAX_BYTES = 100_000
    request = rf.post("/")
    handler = CappedUploadHandler(request)
    handler.new_file("file", "big.mp3", "audio/mpeg", 5_000_000)
    passed_on = 0
    for start in range(0, 5_000_000, 65_536):
        chunk = handler.receive_data_chunk(bytes(65_536), start)
        passed_on += len(chunk) if chunk is not None else 0
    handler.file_complete(5_000_000)

    assert passed_on <= 100_000
    assert request.upload_refused == {"file": 5_000_000}


# --- Library page ---------------------------------------------------------------------------


def test_it_lists_recordings_with_the_numbers_that_use_them(client, personas):
    used = make_audio(personas.tenant_a, label="Night greeting")
    by_override = make_audio(personas.tenant_a, label="Holiday notice")
    make_audio(personas.tenant_a, label="Unused")
    front = SubscriptionFactory(tenant=personas.tenant_a, din="815011110000")
    give_flow(front, playback_flow(used))
    sales = SubscriptionFactory(tenant=personas.tenant_a, din="815022220000")
    give_flow(
        sales,
        {"rules": [], "default": {"type": "voicemail"}},
        override={"type": "playback", "audio": str(by_override.code)},
    )
    client.force_login(personas.viewer_a)

    page = client.get(reverse("audio_list")).content.decode()

    rows = {
        label: page.split(f'data-audio="{label}"')[1].split("</tr>")[0]
        for label in ("Night greeting", "Holiday notice", "Unused")
    }
    assert "050-1111-0000" in rows["Night greeting"]
    assert "050-2222-0000" in rows["Holiday notice"]
    assert "No number" in rows["Unused"]
    assert reverse("audio_listen", args=[used.code]) in rows["Night greeting"]
    assert "<audio controls" in rows["Night greeting"]
    assert reverse("audio_upload") not in page  # a viewer sees no write actions
    client.force_login(personas.staff_a)
    assert reverse("audio_upload") in client.get(reverse("audio_list")).content.decode()


def test_it_lists_the_library_in_a_constant_number_of_queries(client, personas):
    client.force_login(personas.staff_a)
    counts = []
    for _round in range(2):
        for index in range(3):
            audio = make_audio(personas.tenant_a, label=f"Audio {index}")
            give_flow(SubscriptionFactory(tenant=personas.tenant_a), playback_flow(audio))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("audio_list")).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- Rename and delete ----------------------------------------------------------------------


def test_it_renames_and_invalidates_the_flows_that_use_it(
    client, personas, invalidated, django_capture_on_commit_callbacks
):
    audio = make_audio(personas.tenant_a, label="Old")
    user = SubscriptionFactory(tenant=personas.tenant_a)
    give_flow(user, playback_flow(audio))
    bystander = SubscriptionFactory(tenant=personas.tenant_a)
    give_flow(bystander, playback_flow(make_audio(personas.tenant_a)))
    client.force_login(personas.staff_a)

    invalidated.clear()  # what setting up published
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("audio_edit", args=[audio.code]), {"label": "New"})

    assert response.status_code == 302
    audio.refresh_from_db()
    assert audio.label == "New"
    assert invalidated == [user.action_token]
    with tenant_scope(personas.tenant_a):
        event = AuditEvent.objects.get(action="audio.update")
    assert (event.before["label"], event.after["label"]) == ("Old", "New")


def test_it_refuses_to_delete_a_recording_in_use_and_names_the_number(client, personas):
    audio = make_audio(personas.tenant_a, label="Greeting")
    give_flow(
        SubscriptionFactory(tenant=personas.tenant_a, din="815033330000"), playback_flow(audio)
    )
    client.force_login(personas.staff_a)

    confirm = client.get(reverse("audio_delete", args=[audio.code])).content.decode()
    response = client.post(reverse("audio_delete", args=[audio.code]), follow=True)

    assert "050-3333-0000" in confirm and 'class="danger"' not in confirm
    assert (
        "“Greeting” cannot be deleted: the call flow of 050-3333-0000 uses it."
        in response.content.decode()
    )
    with tenant_scope(personas.tenant_a):
        assert AudioFile.objects.filter(pk=audio.pk).exists()
    assert (Path(settings.MEDIA_ROOT) / audio.file.name).exists()
    assert audit_actions(personas.tenant_a) == []


def test_it_deletes_an_unused_recording_and_its_file(
    client, personas, django_capture_on_commit_callbacks
):
    audio = make_audio(personas.tenant_a, label="Old greeting")
    # A released number's flow no longer answers calls: it does not block the deletion.
    released = SubscriptionFactory(tenant=personas.tenant_a, status="released")
    give_flow(released, playback_flow(audio))
    path = Path(settings.MEDIA_ROOT) / audio.file.name
    client.force_login(personas.staff_a)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("audio_delete", args=[audio.code]), follow=True)

    assert "“Old greeting” deleted." in response.content.decode()
    with tenant_scope(personas.tenant_a):
        assert not AudioFile.objects.filter(pk=audio.pk).exists()
    assert not path.exists()
    assert audit_actions(personas.tenant_a) == ["audio.delete"]
    assert client.get(f"/media/audio/{audio.public_id}.mp3").status_code == 404


def test_it_lets_viewers_see_and_listen_but_change_nothing(client, personas):
    audio = make_audio(personas.tenant_a, label="Greeting")
    client.force_login(personas.viewer_a)

    assert client.get(reverse("audio_edit", args=[audio.code])).status_code == 200
    assert client.get(reverse("audio_listen", args=[audio.code])).status_code == 200
    assert client.get(reverse("audio_upload")).status_code == 403
    assert client.post(reverse("audio_upload"), {"label": "X"}).status_code == 403
    assert client.post(reverse("audio_edit", args=[audio.code]), {"label": "X"}).status_code == 403
    assert client.post(reverse("audio_delete", args=[audio.code])).status_code == 403

    with scopes_disabled():
        assert list(AudioFile.objects.values_list("label", flat=True)) == ["Greeting"]
    assert audit_actions(personas.tenant_a) == []


def test_it_plays_a_recording_only_to_members_of_its_tenant(client, personas):
    audio = make_audio(personas.tenant_a)
    url = reverse("audio_listen", args=[audio.code])

    anonymous = client.get(url)
    client.force_login(personas.owner_b)
    stranger = client.get(url)
    client.force_login(personas.viewer_a)
    member = client.get(url, headers={"range": "bytes=0-9"})

    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    assert stranger.status_code == 404
    assert member.status_code == 206
    assert member["Content-Type"] == "audio/mpeg"
    assert b"".join(member.streaming_content) == sample("greeting-en.mp3")[:10]
    assert member["Cache-Control"].startswith("private")
