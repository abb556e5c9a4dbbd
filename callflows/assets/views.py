"""Pages of the call-flow assets: MP3s, TTS scripts, caller lists, closed dates.

Members of any role see everything; staff and up change things. Audio reaches two audiences:
members through ``audio_listen`` (signed in, scoped to their tenant) and the carrier through
the edge's ``audio_public`` (``callflows/edge/views.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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

# --- One library page set for every kind: MP3s, TTS scripts, caller lists -----------------------


def _can_edit(request) -> bool:
    return request.membership.has_role(Role.STAFF)


@dataclass(frozen=True)
class Library:
    """What differs between the kinds of the library; the pages below are the same for all.

    ``create``, ``update`` and ``delete`` are the kind's services; ``form_for`` fills the form
    from an object; ``extra`` adds what a kind's pages show beside the form (a public URL,
    whether speech can be previewed)."""

    kind: str
    model: type
    object_name: str  # the object's name in its templates: "audio", "script", "caller_list"
    code_param: str  # its code in the URL: "audiofile_code"…
    name_field: str  # the field a refusal of a save belongs to
    list_url: str
    list_template: str
    form_template: str
    form: type
    form_for: Callable
    rows: Callable[[], list]
    update: Callable
    delete: Callable
    saved: Callable[[Any], str]
    create: Callable | None = None
    edit_url: str = ""  # after a save: this object's page (or the list when empty)
    extra: Callable[[], dict] = dict
    extra_for: Callable[[Any], dict] = lambda obj: {}


def _saved_name(obj) -> str:
    return _("“%(name)s” saved.") % {"name": getattr(obj, "name", "")}


def _saved_list(caller_list: CallerList) -> str:
    return _("“%(name)s” saved with %(count)d numbers.") % {
        "name": caller_list.name,
        "count": len(caller_list.numbers),
    }


LIBRARIES = {
    assets_selectors.AUDIO: Library(
        kind=assets_selectors.AUDIO,
        model=AudioFile,
        object_name="audio",
        code_param="audiofile_code",
        name_field="label",
        list_url="audio_list",
        list_template="callflows/assets/audio_list.html",
        form_template="callflows/assets/audio_edit.html",
        form=AudioLabelForm,
        form_for=AudioLabelForm.for_audio,
        rows=assets_selectors.audio_list,
        update=lambda obj, data, request: audio_services.audio_update(
            audio=obj, label=data["label"], request=request
        ),
        delete=lambda obj, request: audio_services.audio_delete(audio=obj, request=request),
        saved=lambda obj: _("Saved."),
        extra=lambda: {"limits": asset_library.audio_limits()},
        extra_for=lambda audio: {"public_url": compiler.audio_public_url(audio)},
    ),
    assets_selectors.SCRIPT: Library(
        kind=assets_selectors.SCRIPT,
        model=TtsScript,
        object_name="script",
        code_param="ttsscript_code",
        name_field="name",
        list_url="script_list",
        list_template="callflows/assets/script_list.html",
        form_template="callflows/assets/script_form.html",
        form=TtsScriptForm,
        form_for=TtsScriptForm.for_script,
        rows=assets_selectors.script_list,
        create=lambda data, request: script_services.script_create(**data, request=request),
        update=lambda obj, data, request: script_services.script_update(
            script=obj, **data, request=request
        ),
        delete=lambda obj, request: script_services.script_delete(script=obj, request=request),
        saved=_saved_name,
        edit_url="script_edit",
        extra=lambda: {"preview_available": script_services.preview_available()},
    ),
    assets_selectors.CALLER_LIST: Library(
        kind=assets_selectors.CALLER_LIST,
        model=CallerList,
        object_name="caller_list",
        code_param="callerlist_code",
        name_field="name",
        list_url="caller_lists",
        list_template="callflows/assets/caller_list_list.html",
        form_template="callflows/assets/caller_list_form.html",
        form=CallerListForm,
        form_for=CallerListForm.for_list,
        rows=assets_selectors.caller_list_list,
        create=lambda data, request: caller_list_services.caller_list_create(
            **data, request=request
        ),
        update=lambda obj, data, request: caller_list_services.caller_list_update(
            caller_list=obj, **data, request=request
        ),
        delete=lambda obj, request: caller_list_services.caller_list_delete(
            caller_list=obj, request=request
        ),
        saved=_saved_list,
    ),
}


def _after_save(library: Library, obj):
    if library.edit_url:
        return redirect(library.edit_url, **{library.code_param: obj.code})
    return redirect(library.list_url)


@require_GET
@member_required
def asset_list(request, *, kind: str):
    library = LIBRARIES[kind]
    context = {
        "rows": library.rows(),
        "can_edit": _can_edit(request),
        "library_limit": asset_library.library_limit(kind),
        **library.extra(),
    }
    return render(request, library.list_template, context)


@require_http_methods(["GET", "POST"])
@member_required(role=Role.STAFF)
def asset_create(request, *, kind: str):
    library = LIBRARIES[kind]
    assert library.create is not None  # the URLconf routes only kinds created on a page
    form = library.form(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            obj = library.create(form.cleaned_data, request)
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, library.saved(obj))
            return _after_save(library, obj)
    context = {"form": form, "can_edit": True, **library.extra()}
    status = 400 if form.is_bound else 200
    return render(request, library.form_template, context, status=status)


@require_http_methods(["GET", "POST"])
@member_required
def asset_edit(request, *, kind: str, **code):
    library = LIBRARIES[kind]
    obj = get_tenant_object(library.model, code[library.code_param])
    form = library.form_for(obj)
    status = 200
    if request.method == "POST":
        ensure_role(request, Role.STAFF)
        form = library.form(request.POST)
        if form.is_valid():
            try:
                library.update(obj, form.cleaned_data, request)
            except ServiceError as error:
                form.add_error(library.name_field, str(error))
            else:
                messages.success(request, library.saved(obj))
                return _after_save(library, obj)
        status = 400
    context = {
        library.object_name: obj,
        "form": form,
        "can_edit": _can_edit(request),
        "used_by": assets_selectors.asset_users(kind=kind, code=obj.code),
        **library.extra(),
        **library.extra_for(obj),
    }
    return render(request, library.form_template, context, status=status)


@require_http_methods(["GET", "POST"])
@member_required(role=Role.STAFF)
def asset_delete(request, *, kind: str, **code):
    """GET: what deleting would affect; POST: delete, refused with its reason if in use."""
    library = LIBRARIES[kind]
    obj = get_tenant_object(library.model, code[library.code_param])
    name = getattr(obj, library.name_field)
    if request.method == "POST":
        try:
            library.delete(obj, request)
        except ServiceError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("“%(name)s” deleted.") % {"name": name})
        return redirect(library.list_url)
    context = {
        "name": name,
        "used_by": assets_selectors.asset_users(kind=kind, code=obj.code),
        "back": library.list_url,
    }
    return render(request, "callflows/assets/confirm_delete.html", context)


@require_safe
@member_required
def audio_listen(request, audiofile_code):
    """The MP3 for the page's player: members of the tenant only."""
    audio = get_tenant_object(AudioFile, audiofile_code)
    return serve_audio(request, audio, cache_control="private, max-age=3600")


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
