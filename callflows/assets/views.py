"""Pages of the call-flow assets (MP3s, TTS scripts, caller lists, closed dates) and the files.

Members of any role see everything; staff and up change things. Audio reaches two audiences:
members through ``audio_listen`` (signed in, scoped to their tenant) and the carrier through
``audio_public``, which answers at an unguessable URL and names no tenant.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import BinaryIO

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.utils.http import http_date, parse_etags, parse_http_date_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from callflows.assets import audio as audio_services
from callflows.assets import caller_lists as caller_list_services
from callflows.assets import closed_dates as closed_date_services
from callflows.assets import library as asset_library
from callflows.assets import scripts as script_services
from callflows.assets import selectors as assets_selectors
from callflows.assets.forms import (
    AudioLabelForm,
    AudioUploadForm,
    CallerListForm,
    ClosedDateForm,
    TtsScriptForm,
)
from callflows.flows import compiler
from callflows.models import AudioFile, CallerList, ClosedDate, TtsScript
from portal.access import ensure_role, get_tenant_object, member_required
from portal.headers import with_carrier_headers
from portal.models import Role
from portal.services import ServiceError

# [choice] How long the carrier (and any cache between) may keep a public MP3. The bytes behind
# a public_id never change, so only a deletion is delayed by at most this much.
AUDIO_PUBLIC_MAX_AGE = 60 * 60
_PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


# --- Serving files with ranges and validators -----------------------------------------------


class RangeNotSatisfiable(Exception):
    pass


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte range a ``Range`` header asks of ``size`` bytes.

    None means "send the whole file": no header, a malformed one or several ranges (RFC 9110
    lets a server ignore Range; players ask for one range at a time). Raises
    ``RangeNotSatisfiable`` for a range that starts past the end.
    """
    match = _RANGE.fullmatch(header.replace(" ", ""))
    if not match or match.groups() == ("", ""):
        return None
    start, end = match.groups()
    if not start:  # "bytes=-500": the last 500 bytes
        suffix = int(end)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - suffix), size - 1
    first = int(start)
    if end and int(end) < first:
        return None  # malformed: ignored
    if first >= size:
        raise RangeNotSatisfiable
    return first, min(int(end), size - 1) if end else size - 1


class _FileSlice:
    """Reads ``length`` bytes of ``file`` from ``start``; what FileResponse streams."""

    def __init__(self, file: BinaryIO, start: int, length: int):
        file.seek(start)
        self.file = file
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        chunk = self.file.read(size)
        self.remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        self.file.close()


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison, as If-None-Match wants it."""
    wanted = parse_etags(header)
    return "*" in wanted or etag.removeprefix("W/") in {tag.removeprefix("W/") for tag in wanted}


def serve_file(
    request,
    *,
    opener: Callable[[], BinaryIO],
    size: int,
    content_type: str,
    etag: str,
    last_modified: datetime,
    cache_control: str,
) -> HttpResponse:
    """Answer GET/HEAD for a file: 200, 206 for one range, 304, or 416.

    Uses no middleware, session or template: the public MP3 is served on the minimal WSGI path.
    """
    modified = int(last_modified.timestamp())
    validators = {
        "ETag": etag,
        "Last-Modified": http_date(modified),
        "Cache-Control": cache_control,
    }
    if_none_match = request.headers.get("If-None-Match")
    if_modified_since = parse_http_date_safe(request.headers.get("If-Modified-Since") or "")
    if (if_none_match and _etag_matches(if_none_match, etag)) or (
        not if_none_match and if_modified_since is not None and modified <= if_modified_since
    ):
        response = HttpResponseNotModified()
        for name, value in validators.items():
            response[name] = value
        return response

    wanted = request.headers.get("Range", "")
    if_range = request.headers.get("If-Range")
    if if_range and if_range not in (etag, http_date(modified)):
        wanted = ""  # the client's partial copy is of another version: send it all
    try:
        requested = byte_range(wanted, size) if wanted else None
    except RangeNotSatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    first, last = requested or (0, size - 1)
    length = max(0, last - first + 1)
    if request.method == "HEAD":
        response = HttpResponse(content_type=content_type)
    else:
        response = FileResponse(_FileSlice(opener(), first, length), content_type=content_type)
    if requested:
        response.status_code = 206
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    for name, value in validators.items():
        response[name] = value
    return response


def _not_found() -> HttpResponse:
    # No template: on the minimal WSGI path the portal's 404 page (it links to portal URLs)
    # cannot be rendered. Empty either way, whether the id ever existed or not.
    return with_carrier_headers(HttpResponse(b"", status=404, content_type="text/plain"))


def carrier_not_found(request, exception=None) -> HttpResponse:
    """404 of the edge's URLconf (``callflows.edge.urls``): any path there that
    is not ``<id>.mp3`` or an action URL."""
    return _not_found()


def carrier_bad_request(request, exception=None) -> HttpResponse:
    return with_carrier_headers(HttpResponse(b"", status=400, content_type="text/plain"))


def carrier_server_error(request) -> HttpResponse:
    return with_carrier_headers(HttpResponse(b"", status=500, content_type="text/plain"))


def _serve_audio(request, audio: AudioFile, *, cache_control: str) -> HttpResponse:
    storage, name = audio.file.storage, audio.file.name
    try:
        size = storage.size(name)
    except OSError:
        return _not_found()
    return serve_file(
        request,
        opener=lambda: storage.open(name, "rb"),
        size=size,
        content_type="audio/mpeg",
        etag=f'"{audio.public_id}-{size}"',
        last_modified=audio.created_at,
        cache_control=cache_control,
    )


@require_safe
def audio_public(request, public_id):
    """``/media/audio/<public_id>.mp3``: the MP3 the carrier plays; nothing else in media is."""
    if not _PUBLIC_ID.fullmatch(public_id):
        return _not_found()
    audio = assets_selectors.audio_by_public_id(public_id)
    if audio is None:
        return _not_found()
    max_age = getattr(settings, "AUDIO_PUBLIC_MAX_AGE", AUDIO_PUBLIC_MAX_AGE)
    response = _serve_audio(request, audio, cache_control=f"public, max-age={max_age}")
    return with_carrier_headers(response)


# --- MP3 library ------------------------------------------------------------------------------


def _can_edit(request) -> bool:
    return request.membership.has_role(Role.STAFF)


@require_GET
@member_required
def audio_list(request):
    context = {
        "rows": assets_selectors.audio_list(),
        "can_edit": _can_edit(request),
        "limits": asset_library.audio_limits(),
        "library_limit": asset_library.library_limit(assets_selectors.AUDIO),
    }
    return render(request, "callflows/assets/audio_list.html", context)


@require_http_methods(["GET", "POST"])
@member_required(role=Role.STAFF)
def audio_upload(request):
    if request.method != "POST":
        return render(request, "callflows/assets/audio_upload.html", {"form": AudioUploadForm()})
    form = AudioUploadForm(
        request.POST, request.FILES, refused_sizes=getattr(request, "upload_refused", None)
    )
    if form.is_valid():
        try:
            audio = audio_services.audio_create(
                label=form.cleaned_data["label"], upload=form.cleaned_data["file"], request=request
            )
        except ServiceError as error:
            form.add_error("file", str(error))
        else:
            messages.success(request, _("“%(label)s” uploaded.") % {"label": audio.label})
            return redirect("audio_list")
    return render(request, "callflows/assets/audio_upload.html", {"form": form}, status=400)


@require_http_methods(["GET", "POST"])
@member_required
def audio_edit(request, audiofile_code):
    audio = get_tenant_object(AudioFile, audiofile_code)
    form = AudioLabelForm.for_audio(audio)
    status = 200
    if request.method == "POST":
        ensure_role(request, Role.STAFF)
        form = AudioLabelForm(request.POST)
        if form.is_valid():
            audio_services.audio_update(
                audio=audio, label=form.cleaned_data["label"], request=request
            )
            messages.success(request, _("Saved."))
            return redirect("audio_list")
        status = 400
    context = {
        "audio": audio,
        "form": form,
        "can_edit": _can_edit(request),
        "used_by": assets_selectors.asset_users(kind=assets_selectors.AUDIO, code=audio.code),
        "public_url": compiler.audio_public_url(audio),
    }
    return render(request, "callflows/assets/audio_edit.html", context, status=status)


@require_http_methods(["GET", "POST"])
@member_required(role=Role.STAFF)
def audio_delete(request, audiofile_code):
    audio = get_tenant_object(AudioFile, audiofile_code)
    return _delete_page(
        request,
        name=audio.label,
        kind=assets_selectors.AUDIO,
        code=audio.code,
        back="audio_list",
        delete=lambda: audio_services.audio_delete(audio=audio, request=request),
    )


@require_safe
@member_required
def audio_listen(request, audiofile_code):
    """The MP3 for the page's player: members of the tenant only."""
    audio = get_tenant_object(AudioFile, audiofile_code)
    return _serve_audio(request, audio, cache_control="private, max-age=3600")


def _delete_page(request, *, name: str, kind: str, code, back: str, delete):
    """GET: what deleting would affect; POST: ``delete()``, refused with its reason if in use."""
    if request.method == "POST":
        try:
            delete()
        except ServiceError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("“%(name)s” deleted.") % {"name": name})
        return redirect(back)
    return _confirm_delete(request, name=name, kind=kind, code=code, back=back)


def _confirm_delete(request, *, name: str, kind: str, code, back: str):
    context = {
        "name": name,
        "used_by": assets_selectors.asset_users(kind=kind, code=code),
        "back": back,
    }
    return render(request, "callflows/assets/confirm_delete.html", context)


# --- TTS scripts ------------------------------------------------------------------------------


@require_GET
@member_required
def script_list(request):
    context = {
        "rows": assets_selectors.script_list(),
        "can_edit": _can_edit(request),
        "preview_available": script_services.preview_available(),
        "library_limit": asset_library.library_limit(assets_selectors.SCRIPT),
    }
    return render(request, "callflows/assets/script_list.html", context)


@require_http_methods(["GET", "POST"])
@member_required(role=Role.STAFF)
def script_create(request):
    form = TtsScriptForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            script = script_services.script_create(**form.cleaned_data, request=request)
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("“%(name)s” saved.") % {"name": script.name})
            return redirect("script_edit", ttsscript_code=script.code)
    context = {"form": form, "can_edit": True}
    return render(
        request, "callflows/assets/script_form.html", context, status=400 if form.is_bound else 200
    )


@require_http_methods(["GET", "POST"])
@member_required
def script_edit(request, ttsscript_code):
    script = get_tenant_object(TtsScript, ttsscript_code)
    form = TtsScriptForm.for_script(script)
    status = 200
    if request.method == "POST":
        ensure_role(request, Role.STAFF)
        form = TtsScriptForm(request.POST)
        if form.is_valid():
            script_services.script_update(script=script, **form.cleaned_data, request=request)
            messages.success(request, _("“%(name)s” saved.") % {"name": script.name})
            return redirect("script_edit", ttsscript_code=script.code)
        status = 400
    context = {
        "script": script,
        "form": form,
        "can_edit": _can_edit(request),
        "used_by": assets_selectors.asset_users(kind=assets_selectors.SCRIPT, code=script.code),
        "preview_available": script_services.preview_available(),
    }
    return render(request, "callflows/assets/script_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@member_required(role=Role.STAFF)
def script_delete(request, ttsscript_code):
    script = get_tenant_object(TtsScript, ttsscript_code)
    return _delete_page(
        request,
        name=script.name,
        kind=assets_selectors.SCRIPT,
        code=script.code,
        back="script_list",
        delete=lambda: script_services.script_delete(script=script, request=request),
    )


@require_safe
@member_required
def script_listen(request, ttsscript_code):
    """A WAV preview of the script by espeak-ng (a different voice from the carrier's)."""
    script = get_tenant_object(TtsScript, ttsscript_code)
    try:
        path = script_services.script_preview_render(script=script)
    except script_services.PreviewUnavailable as error:
        return HttpResponse(str(error), status=503, content_type="text/plain; charset=utf-8")
    stat = path.stat()
    return serve_file(
        request,
        opener=lambda: path.open("rb"),
        size=stat.st_size,
        content_type="audio/wav",
        etag=f'"{path.stem}"',
        last_modified=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
        cache_control="private, max-age=3600",
    )


# --- Caller lists -----------------------------------------------------------------------------


@require_GET
@member_required
def caller_lists(request):
    context = {
        "rows": assets_selectors.caller_list_list(),
        "can_edit": _can_edit(request),
        "library_limit": asset_library.library_limit(assets_selectors.CALLER_LIST),
    }
    return render(request, "callflows/assets/caller_list_list.html", context)


@require_http_methods(["GET", "POST"])
@member_required(role=Role.STAFF)
def caller_list_create(request):
    form = CallerListForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            caller_list = caller_list_services.caller_list_create(
                **form.cleaned_data, request=request
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("“%(name)s” saved with %(count)d numbers.")
                % {"name": caller_list.name, "count": len(caller_list.numbers)},
            )
            return redirect("caller_lists")
    context = {"form": form, "can_edit": True}
    return render(
        request,
        "callflows/assets/caller_list_form.html",
        context,
        status=400 if form.is_bound else 200,
    )


@require_http_methods(["GET", "POST"])
@member_required
def caller_list_edit(request, callerlist_code):
    caller_list = get_tenant_object(CallerList, callerlist_code)
    form = CallerListForm.for_list(caller_list)
    status = 200
    if request.method == "POST":
        ensure_role(request, Role.STAFF)
        form = CallerListForm(request.POST)
        if form.is_valid():
            caller_list_services.caller_list_update(
                caller_list=caller_list, **form.cleaned_data, request=request
            )
            messages.success(
                request,
                _("“%(name)s” saved with %(count)d numbers.")
                % {"name": caller_list.name, "count": len(caller_list.numbers)},
            )
            return redirect("caller_lists")
        status = 400
    context = {
        "caller_list": caller_list,
        "form": form,
        "can_edit": _can_edit(request),
        "used_by": assets_selectors.asset_users(
            kind=assets_selectors.CALLER_LIST, code=caller_list.code
        ),
    }
    return render(request, "callflows/assets/caller_list_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@member_required(role=Role.STAFF)
def caller_list_delete(request, callerlist_code):
    caller_list = get_tenant_object(CallerList, callerlist_code)
    return _delete_page(
        request,
        name=caller_list.name,
        kind=assets_selectors.CALLER_LIST,
        code=caller_list.code,
        back="caller_lists",
        delete=lambda: caller_list_services.caller_list_delete(
            caller_list=caller_list, request=request
        ),
    )


# --- Closed dates -----------------------------------------------------------------------------


def _closed_dates_page(request, *, form=None, status=200):
    context = {
        "closed_dates": assets_selectors.closed_date_list(),
        "form": form or ClosedDateForm(),
        "can_edit": _can_edit(request),
    }
    return render(request, "callflows/assets/closed_dates.html", context, status=status)


@require_GET
@member_required
def closed_dates(request):
    return _closed_dates_page(request)


@require_POST
@member_required(role=Role.STAFF)
def closed_date_add(request):
    form = ClosedDateForm(request.POST)
    if form.is_valid():
        try:
            closed_date = closed_date_services.closed_date_create(
                **form.cleaned_data, request=request
            )
        except ServiceError as error:
            form.add_error("date", str(error))
        else:
            messages.success(request, _("%(date)s added.") % {"date": str(closed_date).strip()})
            return redirect("closed_dates")
    return _closed_dates_page(request, form=form, status=400)


@require_POST
@member_required(role=Role.STAFF)
def closed_date_delete(request, closeddate_code):
    closed_date = get_tenant_object(ClosedDate, closeddate_code)
    closed_date_services.closed_date_delete(closed_date=closed_date, request=request)
    messages.success(request, _("%(date)s removed.") % {"date": str(closed_date).strip()})
    return redirect("closed_dates")
