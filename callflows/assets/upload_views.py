"""The upload page: a recording uploaded or made in the browser, converted by a worker, heard,
then saved to the library (``callflows.assets.uploads``).

POST stores the file and redirects to the upload's page (POST/redirect/GET: a reload uploads
nothing twice), which follows the conversion live (htmx, every second, as the flow page
follows a test call) and, once it is ready, plays the MP3 with its length before and after.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from callflows.assets import library as asset_library
from callflows.assets import uploads
from callflows.assets.forms import AudioLabelForm, RecordingUploadForm
from callflows.assets.serving import serve_file
from callflows.models import AudioUpload
from portal.access import get_tenant_object, member_required
from portal.models import Role
from portal.outbox import QUEUED_MESSAGE, outbox_waiting
from portal.services import ServiceError


def _upload_page(request, form, *, status=200):
    _max_bytes, max_seconds = asset_library.audio_limits()
    context = {"form": form, "max_seconds": int(max_seconds)}
    return render(request, "callflows/assets/audio_upload.html", context, status=status)


@require_http_methods(["GET", "POST"])
@member_required(role=Role.STAFF)
def audio_upload(request):
    if request.method != "POST":
        return _upload_page(request, RecordingUploadForm())
    form = RecordingUploadForm(
        request.POST, request.FILES, refused_sizes=getattr(request, "upload_refused", None)
    )
    if form.is_valid():
        try:
            upload = uploads.audio_upload_create(
                label=form.cleaned_data["label"], upload=form.cleaned_data["file"], request=request
            )
        except ServiceError as error:
            form.add_error("file", str(error))
        else:
            return redirect("audio_upload_detail", audioupload_code=upload.code)
    return _upload_page(request, form, status=400)


def _status_context(upload: AudioUpload, *, label_form=None) -> dict:
    waiting = upload.status == AudioUpload.Status.QUEUED and bool(
        outbox_waiting([f"callflows.audioupload:{upload.pk}"])
    )
    return {
        "upload": upload,
        # ready: saved under this label (editable); failed: another file, the label kept
        "label_form": label_form or AudioLabelForm(initial={"label": upload.label}),
        "retry_form": RecordingUploadForm(initial={"label": upload.label}),
        "problem": uploads.audio_upload_failure_message(upload)
        if upload.status == AudioUpload.Status.FAILED
        else "",
        "queued_message": QUEUED_MESSAGE if waiting else "",
        "max_seconds": int(asset_library.audio_limits()[1]),
    }


@require_GET
@member_required(role=Role.STAFF)
def audio_upload_detail(request, audioupload_code):
    """The conversion as it goes: the fragment for the live update, else the whole page."""
    upload = get_tenant_object(AudioUpload, audioupload_code)
    context = _status_context(upload)
    if request.headers.get("HX-Request"):
        return render(request, "callflows/assets/_upload_status.html", context)
    return render(request, "callflows/assets/audio_upload_detail.html", context)


@require_GET
@member_required(role=Role.STAFF)
def audio_upload_listen(request, audioupload_code):
    """The converted MP3, for the page's player before it is saved."""
    upload = get_tenant_object(AudioUpload, audioupload_code)
    if upload.status != AudioUpload.Status.READY or not upload.result:
        return render(request, "404.html", status=404)
    storage, name = upload.result.storage, upload.result.name
    return serve_file(
        request,
        opener=lambda: storage.open(name, "rb"),
        size=upload.size_bytes or storage.size(name),
        content_type="audio/mpeg",
        etag=f'"upload-{upload.code}"',
        last_modified=upload.finished_at or upload.updated_at,
        cache_control="private, max-age=3600",
    )


@require_POST
@member_required(role=Role.STAFF)
def audio_upload_save(request, audioupload_code):
    upload = get_tenant_object(AudioUpload, audioupload_code)
    form = AudioLabelForm(request.POST)
    if form.is_valid():
        try:
            audio = uploads.audio_upload_save(
                upload=upload, label=form.cleaned_data["label"], request=request
            )
        except ServiceError as error:
            form.add_error("label", str(error))
        else:
            messages.success(request, _("“%(label)s” saved.") % {"label": audio.label})
            return redirect("audio_edit", audiofile_code=audio.code)
    context = _status_context(upload, label_form=form)
    return render(request, "callflows/assets/audio_upload_detail.html", context, status=400)


@require_POST
@member_required(role=Role.STAFF)
def audio_upload_discard(request, audioupload_code):
    upload = get_tenant_object(AudioUpload, audioupload_code)
    uploads.audio_upload_discard(upload=upload)
    messages.success(request, _("“%(label)s” discarded.") % {"label": upload.label})
    return redirect("audio_upload")
