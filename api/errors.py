"""One shape for every error the API answers: ``{"detail": …, "code": …}``, plus ``errors``
(a list of ``{"field", "message"}``) when input was refused field by field."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext as _


class ApiError(Exception):
    """An answer other than success, raised from an endpoint and rendered by the API."""

    def __init__(self, status: int, code: str, detail: str, *, errors: list | None = None):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors or []


def error_response(
    status: int, code: str, detail: str, *, errors: list | None = None, headers: dict | None = None
) -> JsonResponse:
    body: dict = {"detail": str(detail), "code": code}
    if errors:
        body["errors"] = errors
    return JsonResponse(body, status=status, headers=headers)


def form_errors(form) -> list[dict]:
    """A Django form's errors as ``[{"field": name or null, "message": text}, …]``."""
    return [
        {"field": None if field == "__all__" else field, "message": str(message)}
        for field, messages in form.errors.items()
        for message in messages
    ]


def too_large_response() -> JsonResponse:
    """413 for a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (or with too many fields)."""
    return error_response(
        413,
        "too_large",
        _("The request is too large: at most %(size)d KB of JSON or form data, files aside.")
        % {"size": settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024},
    )


def server_error_response() -> JsonResponse:
    return error_response(
        500,
        "server_error",
        _("Something went wrong on our side. Try again; if it keeps failing, tell us when."),
    )
