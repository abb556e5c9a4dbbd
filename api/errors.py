"""One shape for every error the API answers: ``{"detail": …, "code": …}``, plus ``errors``
(a list of ``{"field", "message"}``) when input was refused field by field."""

from __future__ import annotations

from django.http import JsonResponse


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
