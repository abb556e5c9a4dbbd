"""The library of a company's call flows: MP3s, TTS scripts, caller lists."""

from __future__ import annotations

from django.utils.translation import gettext as _
from ninja import File, Form, Router
from ninja.files import UploadedFile

from api import schemas
from api.auth import require_role
from api.errors import ApiError
from api.v1.common import ERRORS, invalid_form
from callflows.assets import audio as audio_services
from callflows.assets import scripts as script_services
from callflows.assets import selectors as asset_selectors
from callflows.assets.forms import AudioUploadForm, TtsScriptForm
from portal.models import Role
from portal.services import ServiceError

router = Router(tags=["assets"])


def users(row) -> list:
    return [s.code for s in row.used_by]


def _script(script, used_by: list) -> dict:
    return {
        "code": script.code,
        "name": script.name,
        "language": script.language,
        "text": script.text,
        "used_by": used_by,
    }


def _refused(field: str | None, error: ServiceError) -> ApiError:
    # The page shows a refusal of the service on the form: here, as a field error too.
    return ApiError(
        422,
        "invalid",
        _("Some input is not valid."),
        errors=[{"field": field, "message": str(error)}],
    )


@router.get("", response={200: schemas.Assets, **ERRORS}, url_name="api_asset_list")
def asset_list(request):
    """The library: MP3s, TTS scripts and caller lists, with the live numbers using each."""

    return {
        "audio": [
            {
                "code": row.asset.code,
                "label": row.asset.label,
                "duration_seconds": row.asset.duration_seconds,
                "size_bytes": row.asset.size_bytes,
                "used_by": users(row),
            }
            for row in asset_selectors.audio_list()
        ],
        "scripts": [_script(row.asset, users(row)) for row in asset_selectors.script_list()],
        "caller_lists": [
            {
                "code": row.asset.code,
                "name": row.asset.name,
                "count": len(row.asset.numbers),
                "used_by": users(row),
            }
            for row in asset_selectors.caller_list_list()
        ],
    }


@router.post("/audio", response={201: schemas.AudioAsset, **ERRORS}, url_name="api_audio_upload")
def audio_upload(
    request,
    label: str = Form(
        "",
        max_length=100,
        pattern=schemas.LINE_PATTERN,
        description="What the MP3 is called in the library",
    ),
    file: UploadedFile = File(None, description="The MP3 (multipart/form-data)"),
):
    """Add an MP3 to the library (staff keys): checked as on the upload page (format, size,
    length, the library's limit); a refused file says why, as a field error on ``file``."""
    require_role(request, Role.STAFF)
    form = AudioUploadForm(
        request.POST, request.FILES, refused_sizes=getattr(request, "upload_refused", None)
    )
    if not form.is_valid():
        raise invalid_form(form)
    try:
        audio = audio_services.audio_create(
            label=form.cleaned_data["label"], upload=form.cleaned_data["file"], request=request
        )
    except audio_services.AudioNotStored as error:
        raise ApiError(503, "storage_unavailable", str(error)) from None
    except ServiceError as error:
        raise _refused("file", error) from None
    return 201, {
        "code": audio.code,
        "label": audio.label,
        "duration_seconds": audio.duration_seconds,
        "size_bytes": audio.size_bytes,
        "used_by": [],
    }


@router.get("/scripts", response={200: schemas.ScriptList, **ERRORS}, url_name="api_script_list")
def script_list(request):
    """The TTS scripts, with the live numbers using each."""
    return {"items": [_script(row.asset, users(row)) for row in asset_selectors.script_list()]}


@router.post(
    "/scripts", response={201: schemas.ScriptAsset, **ERRORS}, url_name="api_script_create"
)
def script_create(request, payload: schemas.ScriptIn):
    """Add a TTS script (staff keys), checked as on the page (language, length, what the
    carrier can say)."""
    require_role(request, Role.STAFF)
    form = TtsScriptForm(payload.model_dump())
    if not form.is_valid():
        raise invalid_form(form)
    try:
        script = script_services.script_create(**form.cleaned_data, request=request)
    except ServiceError as error:
        raise _refused(None, error) from None
    return 201, _script(script, [])
