"""What every module of the API shares: the error responses each operation declares, and the
refusal of a form's input in the API's error shape."""

from __future__ import annotations

from django.utils.translation import gettext as _

from api import schemas
from api.errors import ApiError, form_errors

ERRORS = {
    400: schemas.Error,
    401: schemas.Error,
    403: schemas.Error,
    404: schemas.Error,
    409: schemas.Error,
    422: schemas.Error,
    429: schemas.Error,
}


def invalid_form(form) -> ApiError:
    return ApiError(422, "invalid", _("Some input is not valid."), errors=form_errors(form))


def invalid_field(field: str | None, message: str) -> ApiError:
    return ApiError(
        422, "invalid", _("Some input is not valid."), errors=[{"field": field, "message": message}]
    )
