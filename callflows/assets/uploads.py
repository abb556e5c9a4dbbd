"""Recordings on their way to the library: uploaded or recorded, converted by a worker, heard,
then saved as an MP3 of the library (``callflows.assets.audio.audio_create``).

The upload page accepts any recording (``callflows.assets.convert``): an iPhone voice memo,
a browser recording, a WAV. Converting ten minutes of audio holds a CPU for seconds, so the
page only stores the file (``audio_upload_create``) and hands ``callflows.audio_convert`` to
the worker through the outbox; the page follows the row live and, once it is ready, plays the
MP3 with its length before and after. "Save" checks the MP3 again as any upload
(``audio_create``: the inspector, the limits, the library's size) and audits it. Nothing here
is served to the carrier, and what nobody saved is pruned after ``AUDIO_UPLOAD_KEEP_HOURS``.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from callflows.assets import convert, mpeg
from callflows.assets.audio import (
    AudioNotStored,
    AudioRejected,
    _minutes,
    _rejection_message,
    audio_create,
    media_store,
    refuse_duplicate_label,
)
from callflows.assets.library import audio_limits, refuse_when_library_full
from callflows.assets.selectors import AUDIO
from callflows.models import AudioFile, AudioUpload
from portal.outbox import outbox_enqueue
from portal.scoping import current_tenant, scopes_disabled
from portal.services import ServiceError

logger = logging.getLogger(__name__)

CONVERT_TASK = "callflows.audio_convert"
# A conversion is pure work on our own copy: a worker that died in the middle is simply
# started again, this many times in all.
MAX_ATTEMPTS = 3
# Uploads waiting, converting or waiting to be saved, per company: a page of drafts, not a
# second library.
MAX_OPEN_UPLOADS = 10
Status = AudioUpload.Status


def upload_max_bytes() -> int:
    return settings.AUDIO_UPLOAD_MAX_BYTES


def upload_too_big_message(size: int) -> str:
    return _(
        "The file is %(size)s; at most %(limit)s can be uploaded. Record a shorter greeting "
        "or share it from your phone as a smaller file (a voice memo, not a video)."
    ) % {"size": filesizeformat(size), "limit": filesizeformat(upload_max_bytes())}


def _subject(upload: AudioUpload) -> str:
    return f"callflows.audioupload:{upload.pk}"


def audio_upload_create(*, label: str, upload, request) -> AudioUpload:
    """Store a recording to convert and queue its conversion (``AudioRejected`` says why not)."""
    if upload.size > upload_max_bytes():
        raise AudioRejected(upload_too_big_message(upload.size))
    if not upload.size:
        raise AudioRejected(_("The file is empty."))
    refuse_when_library_full(AUDIO)
    refuse_duplicate_label(label)
    open_uploads = AudioUpload.objects.exclude(status=Status.FAILED).count()
    if open_uploads >= MAX_OPEN_UPLOADS:
        raise ServiceError(
            _(
                "%(count)d recordings are waiting to be saved or discarded. Finish one of "
                "them first (Recordings → Upload)."
            )
            % {"count": open_uploads}
        )
    row = AudioUpload(
        tenant=current_tenant(),
        label=label,
        original_name=os.path.basename(upload.name or "")[:200],
        source_bytes=upload.size,
        uploaded_by=request.user if request.user.is_authenticated else None,
    )
    # upload_to names the file after the row's code; the name given is only shown.
    media_store(row.source, "source", upload)
    try:
        with transaction.atomic():
            row.save()
            # Saved with the row: a broker that is down delays the conversion, the page says so.
            outbox_enqueue(
                CONVERT_TASK,
                kwargs={"tenant_id": row.tenant_id, "upload_id": row.pk},
                subject=_subject(row),
            )
    except BaseException:
        row.source.storage.delete(row.source.name)
        raise
    return row


def _fail(upload_id: int, code: str, params: dict | None = None) -> None:
    AudioUpload.objects.filter(pk=upload_id).update(
        status=Status.FAILED,
        failure_code=code,
        failure_params=params or {},
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )


def audio_upload_convert(*, upload_id: int) -> str:
    """Convert a stored recording into the MP3 the page plays (the task body); its status.

    Idempotent: a redelivered task converts again from the same source and writes the same
    result; after ``MAX_ATTEMPTS`` starts (workers dying in the middle) it is told as failed.
    """
    claimed = AudioUpload.objects.filter(
        pk=upload_id, status__in=(Status.QUEUED, Status.CONVERTING), attempts__lt=MAX_ATTEMPTS
    ).update(
        status=Status.CONVERTING,
        attempts=F("attempts") + 1,
        started_at=timezone.now(),
        updated_at=timezone.now(),
    )
    if not claimed:
        if AudioUpload.objects.filter(pk=upload_id, status=Status.CONVERTING).exists():
            _fail(upload_id, "interrupted")
        return "not claimed"
    upload = AudioUpload.objects.get(pk=upload_id)
    try:
        with upload.source.open("rb") as source:
            data = source.read()
    except OSError as error:
        logger.warning("audio upload %s: source unreadable: %s", upload_id, error)
        _fail(upload_id, "source_missing")
        return Status.FAILED
    max_bytes, max_seconds = audio_limits()
    try:
        converted = convert.recording_convert(data, max_seconds=max_seconds)
        info = mpeg.inspect_mp3(converted.mp3)
    except convert.ConversionRefused as refused:
        _fail(upload_id, refused.code, _json_params(refused.params))
        return Status.FAILED
    except mpeg.MediaError as error:  # our own encoder's output refused: a bug, said plainly
        logger.error("audio upload %s: converted MP3 refused: %s", upload_id, error.reason)
        _fail(upload_id, "inspector", {"code": error.code, **_json_params(error.params)})
        return Status.FAILED
    if info.duration_seconds > max_seconds:
        _fail(upload_id, "too_long", {"seconds": info.duration_seconds})
        return Status.FAILED
    if len(converted.mp3) > max_bytes:
        _fail(upload_id, "too_big_result", {"size": len(converted.mp3)})
        return Status.FAILED
    try:
        media_store(upload.result, "result.mp3", ContentFile(converted.mp3))
    except AudioNotStored:
        _fail(upload_id, "not_stored")
        return Status.FAILED
    AudioUpload.objects.filter(pk=upload_id, status=Status.CONVERTING).update(
        status=Status.READY,
        result=upload.result.name,
        source_format=converted.source_format,
        source_codec=converted.source_codec[:20],
        source_seconds=converted.source_seconds,
        size_bytes=len(converted.mp3),
        duration_seconds=info.duration_seconds,
        trimmed_start_seconds=converted.trimmed_start_seconds,
        trimmed_end_seconds=converted.trimmed_end_seconds,
        gain_db=converted.gain_db,
        bitrate=info.bitrate,
        sample_rate=info.sample_rate,
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )
    return Status.READY


def _json_params(params: dict) -> dict:
    return {key: value for key, value in params.items() if isinstance(value, str | int | float)}


def _delete_files(upload: AudioUpload) -> None:
    storage = upload.source.storage
    names = [name for name in (upload.source.name, upload.result.name) if name]

    def delete() -> None:
        for name in names:
            try:
                storage.delete(name)
            except OSError as error:  # the prune tries again with the next row; say it
                logger.warning("audio upload file %s not deleted: %s", name, error)

    transaction.on_commit(delete)


def audio_upload_save(*, upload: AudioUpload, label: str, request) -> AudioFile:
    """The converted MP3 into the library, checked as any upload; the upload is then gone."""
    if upload.status != Status.READY:
        raise ServiceError(_("This recording is not converted yet."))
    try:
        with upload.result.open("rb") as result:
            data = result.read()
    except OSError:
        raise ServiceError(
            _("The converted recording is no longer here; upload it again.")
        ) from None
    with transaction.atomic():
        # The name shown in the library is the recording's own (memo.m4a), the bytes the MP3's.
        audio = audio_create(
            label=label, upload=ContentFile(data, name=upload.original_name), request=request
        )
        _delete_files(upload)
        upload.delete()
    return audio


def audio_upload_discard(*, upload: AudioUpload) -> None:
    with transaction.atomic():
        _delete_files(upload)
        upload.delete()


def audio_uploads_prune() -> int:
    """Delete uploads older than ``AUDIO_UPLOAD_KEEP_HOURS`` and their files (every company)."""
    cutoff = timezone.now() - timedelta(hours=settings.AUDIO_UPLOAD_KEEP_HOURS)
    pruned = 0
    with scopes_disabled():
        for upload in AudioUpload.objects.filter(created_at__lt=cutoff).order_by("pk")[:500]:
            audio_upload_discard(upload=upload)
            pruned += 1
    return pruned


# --- In words -------------------------------------------------------------------------------


def _seconds(value) -> str:
    return _minutes(float(value or 0))


def audio_upload_failure_message(upload: AudioUpload) -> str:
    """Why the recording could not be converted, in the reader's language, with what to do."""
    params = upload.failure_params or {}
    limit = _minutes(audio_limits()[1])
    messages = {
        "empty": _("The file is empty."),
        "text": _("This is a text file, not a recording."),
        "not_audio_kind": _(
            "This is a %(kind)s file, not a recording. Choose a voice memo or another audio file."
        ),
        "not_audio": _(
            "No sound can be read from this file: it is not a recording, or it is damaged. "
            "Record it again, or choose a voice memo (.m4a), .wav, .mp3, .ogg, .webm or .flac file."
        ),
        "no_sound": _("This file holds no sound (a video without sound, or a picture?)."),
        "codec": _(
            "The sound in this file is in a format that cannot be read. Record it again with "
            "the phone's voice recorder, or choose an .m4a, .wav or .mp3 file."
        ),
        "silent": _("The recording is silent: check that the microphone was on and try again."),
        "too_long": _(
            "The recording lasts %(duration)s without its silence; at most %(limit)s is "
            "allowed. Shorten it."
        ),
        "too_big_result": _("The converted recording is too large (%(size)s); shorten it."),
        "interrupted": _("The conversion was interrupted several times. Upload the file again."),
        "source_missing": _("The uploaded file is no longer here. Upload it again."),
        "not_stored": _(
            "The converted recording could not be stored. Nothing was saved; upload it again "
            "later. The operators have been told."
        ),
    }
    if upload.failure_code == "inspector":
        error = mpeg.MediaError("", code=str(params.get("code", "")), params=params)
        return _rejection_message(error)
    message = messages.get(upload.failure_code)
    if message is None:
        return _("The recording could not be converted. Upload it again.")
    shown = {
        "kind": params.get("kind", ""),
        "codec": params.get("codec", ""),
        "duration": _seconds(params.get("seconds")),
        "limit": limit,
        "size": filesizeformat(params.get("size", 0)),
    }
    return message % shown
