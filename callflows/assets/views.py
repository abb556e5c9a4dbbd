"""Pages of the call-flow assets: MP3s, TTS scripts, caller lists, closed dates.

Members of any role see everything; staff and up change things. Audio reaches two audiences:
members through ``audio_listen`` (signed in, scoped to their tenant) and the carrier through
the edge's ``audio_public`` (``callflows/edge/views.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
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
    CallerListForm,
    ClosedDateForm,
    TtsScriptForm,
)
from callflows.assets.serving import serve_audio, serve_file
from callflows.flows import compiler
from callflows.models import AudioFile, CallerList, ClosedDate, TtsScript
from portal.access import ensure_role, get_tenant_object, member_required
from portal.models import Role
from portal.services import ServiceError

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
@member_required
def audio_edit(request, audiofile_code):
    audio = get_tenant_object(AudioFile, audiofile_code)
    form = AudioLabelForm.for_audio(audio)
    status = 200
    if request.method == "POST":
        ensure_role(request, Role.STAFF)
        form = AudioLabelForm(request.POST)
        if form.is_valid():
            try:
                audio_services.audio_update(
                    audio=audio, label=form.cleaned_data["label"], request=request
                )
            except ServiceError as error:
                form.add_error("label", str(error))
            else:
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
    return serve_audio(request, audio, cache_control="private, max-age=3600")


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
            try:
                script_services.script_update(script=script, **form.cleaned_data, request=request)
            except ServiceError as error:
                form.add_error("name", str(error))
            else:
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
            try:
                caller_list_services.caller_list_update(
                    caller_list=caller_list, **form.cleaned_data, request=request
                )
            except ServiceError as error:
                form.add_error("name", str(error))
            else:
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
