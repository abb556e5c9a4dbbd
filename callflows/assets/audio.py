"""MP3s: inspected to their last byte before they are stored, renamed, deleted (audited;
the flows that play them are published again)."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass

from django.core.files.base import ContentFile, File
from django.db import IntegrityError, transaction
from django.db.models.fields.files import FieldFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from callflows.assets import mpeg
from callflows.assets.library import (
    audio_limits,
    duplicate_name_message,
    refuse_delete_while_used,
    refuse_duplicate_name,
    refuse_when_library_full,
    republish_flows_of,
)
from callflows.assets.selectors import AUDIO, asset_users
from callflows.models import AudioFile
from portal.models import PlatformAlertKind
from portal.names import name_key
from portal.platform import platform_alert_raise
from portal.scoping import current_tenant
from portal.services import ServiceError, audit_record
from portal.storage import storage_failure_words

logger = logging.getLogger(__name__)

# --- MP3 inspection -------------------------------------------------------------------------


class AudioRejected(ServiceError):
    """The upload is not an MP3 the carrier can play, or breaks a limit; the message says why."""


class AudioNotStored(ServiceError):
    """The MP3 was fine but the storage could not take it (full, read-only, away): nothing was
    saved, operators were told; the message says so."""


@dataclass(frozen=True)
class AudioInfo:
    duration_seconds: float
    bitrate: int  # bit/s
    sample_rate: int  # Hz


def _minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _rejection_message(error: mpeg.MediaError) -> str:
    """What went wrong with the file, in the uploader's language (``mpeg`` says it in English)."""
    params = error.params
    messages = {
        "empty": _("The file is empty."),
        "other_format": _("This is a %(format)s file renamed to .mp3; export it as MP3."),
        "id3_only": _(
            "The file holds only an ID3 tag (title, artist…) and no audio; export it again."
        ),
        "id3_corrupt": _("The file starts with a corrupt ID3 tag; export it again."),
        "text": _("This is a text file, not MP3 audio."),
        "not_layer3": _(
            "This is MPEG Layer %(layer)s audio, not MP3 (Layer III); export it as MP3."
        ),
        "no_frames": _("This is not MP3 audio: no MPEG audio frame starts at byte %(offset)d."),
        "truncated": _("The file is cut off inside its first MPEG frame."),
        "breaks_off": ngettext(
            "The audio breaks off after %(count)d MPEG frame, at byte %(offset)d, and "
            "%(rest)s of other data follow: the file is corrupt or hides something else. "
            "Export it again as MP3.",
            "The audio breaks off after %(count)d MPEG frames, at byte %(offset)d, and "
            "%(rest)s of other data follow: the file is corrupt or hides something else. "
            "Export it again as MP3.",
            params.get("count", 0),
        ),
        "mixed": _(
            "The audio changes format at byte %(offset)d: these are two recordings joined "
            "together. Export it again as one MP3."
        ),
        "metadata_too_large": _(
            "The file's tags (title, cover art…) take %(size)s; at most %(limit)s is allowed. "
            "Remove the cover art or export it again without tags."
        ),
        "tag_corrupt": _("The tags at the end of the file are corrupt; export it again."),
        "ambiguous": _("The file is corrupt: its MPEG frames contradict each other."),
        "unreadable": _("The file cannot be read as MP3 audio (%(why)s)."),
    }
    message = messages.get(error.code)
    if message is None:
        return _("This is not MP3 audio.")
    shown = dict(params)
    for key in ("rest", "size", "limit"):
        if key in shown:
            shown[key] = filesizeformat(shown[key])
    return message % shown


def audio_inspect(data: bytes) -> AudioInfo:
    """Check that ``data`` is MP3 audio within the limits and measure it, or ``AudioRejected``.

    The bytes are checked by ``callflows.assets.mpeg``, to the last byte.
    """
    max_bytes, max_seconds = audio_limits()
    if len(data) > max_bytes:
        raise AudioRejected(audio_too_big_message(len(data), max_bytes))
    try:
        info = mpeg.inspect_mp3(data)
    except mpeg.MediaError as error:
        raise AudioRejected(_rejection_message(error)) from None
    if info.duration_seconds > max_seconds:
        raise AudioRejected(
            _("The recording lasts %(duration)s; at most %(limit)s is allowed. Shorten it.")
            % {"duration": _minutes(info.duration_seconds), "limit": _minutes(max_seconds)}
        )
    return AudioInfo(
        duration_seconds=info.duration_seconds,
        bitrate=info.bitrate,
        sample_rate=info.sample_rate,
    )


def refuse_duplicate_label(label: str, *, instead_of: AudioFile | None = None) -> None:
    refuse_duplicate_name(AUDIO, label, instead_of=instead_of)


def audio_too_big_message(size: int, limit: int) -> str:
    return _(
        "The file is %(size)s; at most %(limit)s is allowed. "
        "Shorten it or export it at a lower bitrate."
    ) % {"size": filesizeformat(size), "limit": filesizeformat(limit)}


# --- MP3 library ----------------------------------------------------------------------------


def _audio_values(audio: AudioFile) -> dict:
    return {
        "label": audio.label,
        "file": audio.original_name,
        "size_bytes": audio.size_bytes,
        "duration_seconds": audio.duration_seconds,
    }


def audio_create(*, label: str, upload, request) -> AudioFile:
    """Store an uploaded MP3 after checking it (``AudioRejected`` says why not)."""
    max_bytes, _seconds = audio_limits()
    if upload.size > max_bytes:  # before reading it into memory
        raise AudioRejected(audio_too_big_message(upload.size, max_bytes))
    refuse_when_library_full(AUDIO)
    refuse_duplicate_label(label)
    data = b"".join(upload.chunks())
    info = audio_inspect(data)
    audio = AudioFile(
        tenant=current_tenant(),
        label=label,
        name_key=name_key(label),
        original_name=os.path.basename(upload.name or "")[:200],
        size_bytes=len(data),
        duration_seconds=info.duration_seconds,
        bitrate=info.bitrate,
        sample_rate=info.sample_rate,
        uploaded_by=request.user,
    )
    # upload_to names the file after the unguessable public_id; the given name is ignored.
    _store(audio, data)
    try:
        with transaction.atomic():
            audio.save()
            audit_record(
                action="audio.create", obj=audio, request=request, after=_audio_values(audio)
            )
    except IntegrityError:  # the same name saved by someone else in the same instant
        audio.file.storage.delete(audio.file.name)
        raise AudioRejected(duplicate_name_message(AUDIO, label)) from None
    except BaseException:
        audio.file.storage.delete(audio.file.name)
        raise
    return audio


def _store(audio: AudioFile, data: bytes) -> None:
    media_store(audio.file, f"{audio.public_id}.mp3", ContentFile(data))


def media_store(file: FieldFile, name: str, content: File) -> None:
    """Write a recording's file, whole or not at all. A storage that fails (a full or
    read-only disk, a bucket that does not answer) is the server's problem: operators are told,
    and ``AudioNotStored`` says to the uploader that nothing was saved."""
    try:
        file.save(name, content, save=False)
    except Exception as error:
        logger.exception("media file %s could not be stored", name)
        with contextlib.suppress(Exception):
            if file.name:
                file.storage.delete(file.name)
        platform_alert_raise(
            kind=PlatformAlertKind.STORAGE_FAILED,
            subject="media",
            message=f"A recording could not be stored: {type(error).__name__}: {error}. "
            "Check the media folder's free space and permissions (or MEDIA_BUCKET).",
        )
        raise AudioNotStored(
            _(
                "The recording could not be stored: %(why)s. Nothing was saved; try again "
                "later. The operators have been told."
            )
            % {"why": storage_failure_words(error)}
        ) from None


def audio_update(*, audio: AudioFile, label: str, request) -> AudioFile:
    before = _audio_values(audio)
    if label == audio.label:
        return audio
    refuse_duplicate_label(label, instead_of=audio)
    with transaction.atomic():
        audio.label, audio.name_key = label, name_key(label)
        audio.save(update_fields=["label", "name_key", "updated_at"])
        audit_record(
            action="audio.update",
            obj=audio,
            request=request,
            before=before,
            after=_audio_values(audio),
        )
        republish_flows_of(asset_users(kind=AUDIO, code=audio.code, live_only=False))
    return audio


def audio_delete(*, audio: AudioFile, request) -> None:
    """Delete the row, and its file once the deletion is committed."""
    refuse_delete_while_used(kind=AUDIO, asset=audio, label=audio.label)
    storage, name = audio.file.storage, audio.file.name
    with transaction.atomic():
        # Released numbers' flows may still name it: they recompile to the fallback.
        republish_flows_of(asset_users(kind=AUDIO, code=audio.code, live_only=False))
        audit_record(action="audio.delete", obj=audio, request=request, before=_audio_values(audio))
        audio.delete()
        transaction.on_commit(lambda: storage.delete(name))
