"""The REST API, version 1: numbers, call flows, the call log, alerts, assets, outbound calls.

Thin like the pages: every endpoint parses its input (the pages' own forms where they exist,
so the same rules refuse the same input), calls the service or selector the page calls, and
renders. Objects are found through ``portal.access.get_tenant_object`` inside the key's
tenant scope (``api.auth.key_scope``): another company's object is 404, as on the pages.
One module per resource; this one builds the API, its error handlers and its routes.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.signals import got_request_exception
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from api.auth import ApiKeyAuth, key_scope
from api.errors import ApiError, error_response, server_error_response, too_large_response
from api.v1 import alerts, assets, calls, flows, numbers, outbound
from portal.services import InvalidInput, ServiceError
from portal.text import UnstorableText, text_problem

logger = logging.getLogger("django.request")


class Api(NinjaAPI):
    def get_openapi_operation_id(self, operation) -> str:
        # One module per resource, one name space of operations: api_v1_<function>.
        return f"api_v1_{operation.view_func.__name__}"


api = Api(
    title="DIN Portal API",
    version="1",
    description="A company's numbers, call flows, calls and alerts. Authenticate with "
    "`Authorization: Bearer <key>` (Settings → API). Errors: `{detail, code, errors?}`.\n\n"
    "**Language.** Descriptions, previews and errors are in the company's language unless "
    "the request sends `Accept-Language` (`en`, `ja`).\n\n"
    "**Formats** (the same in webhook payloads and the call-log CSV): phone numbers E.164 "
    'with `+` (`+815012345678`; `""` for a withheld caller); times ISO 8601 to the second '
    "with the company's UTC offset (`2026-12-07T12:30:00+09:00`); money in credits as a "
    'decimal string with two places (`"650.00"`); one of the company\'s numbers by its '
    "public id, the `code` of `/numbers/{code}`, in a field called `number` (its digits are "
    "`e164`). Inside a flow document a transfer's `number` is the destination, E.164.",
    auth=ApiKeyAuth(),
    urls_namespace="api-v1",
)
api.add_decorator(key_scope, mode="view")  # around auth and validation too


# --- Errors -----------------------------------------------------------------------------------


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return error_response(exc.status, exc.code, exc.detail, errors=exc.errors)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return error_response(404, "not_found", _("Not found."))


@api.exception_handler(PermissionDenied)
def _forbidden(request, exc):
    return error_response(403, "permission_denied", str(exc) or _("Not allowed."))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return error_response(401, "not_authenticated", _("Send an API key."))


@api.exception_handler(ServiceError)
def _service_error(request, exc):
    return error_response(409, "conflict", str(exc))


@api.exception_handler(InvalidInput)
def _invalid_input(request, exc):
    # The pages show it on the field it names; here, a field error.
    errors = [{"field": exc.field, "message": str(exc)}]
    return error_response(422, "invalid", _("Some input is not valid."), errors=errors)


def _field(location) -> str | None:
    """``("body", "payload", "document", "rules", 0)`` → ``document.rules[0]``."""
    field = ""
    for part in location:
        if part in ("body", "payload"):
            continue
        field += f"[{part}]" if isinstance(part, int) else f".{part}" if field else str(part)
    return field or None


def _message(error: dict) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return _("Unknown field: this operation does not read it. Remove it.")
    if kind == "missing":
        return _("This field is required.")
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return _("Send a JSON object here.")
    if kind == "string_pattern_mismatch" and isinstance(error.get("input"), str):
        # A line's pattern (api.schemas.LINE_PATTERN): say what the pages' validator says.
        return text_problem(error["input"]) or error.get("msg", "")
    if kind == "timezone_aware":
        return _("Give the time with its offset, e.g. 2026-12-07T09:00:00+09:00.")
    return error.get("msg", "")


@api.exception_handler(NinjaValidationError)
def _invalid(request, exc: NinjaValidationError):
    errors = [
        {"field": _field(error.get("loc", ())), "message": _message(error)} for error in exc.errors
    ]
    return error_response(422, "invalid", _("Some input is not valid."), errors=errors)


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    if exc.status_code == 400 and exc.__cause__ is not None:  # the body did not parse
        return error_response(
            400, "invalid_json", _("The request body is not valid JSON (UTF-8, one value).")
        )
    return error_response(exc.status_code, "invalid", str(exc))


@api.exception_handler(RequestDataTooBig)
def _too_large(request, exc):
    return too_large_response()


@api.exception_handler(UnstorableText)
def _unstorable(request, exc: UnstorableText):
    # A string no validator caught reached the database's door (portal.text): nothing was
    # written; the field is named as the model knows it.
    return error_response(
        422,
        "invalid",
        _("Some input is not valid."),
        errors=[{"field": exc.field, "message": str(exc)}],
    )


@api.exception_handler(Exception)
def _server_error(request, exc: Exception):
    """Anything else: logged as Django logs a 500, answered in the API's shape."""
    logger.error("Internal Server Error: %s", request.path, exc_info=exc)
    got_request_exception.send(sender=None, request=request)
    return server_error_response()


api.add_router("/numbers", numbers.router)
api.add_router("/numbers", flows.router)
api.add_router("/numbers", outbound.number_calls)
api.add_router("/outbound-calls", outbound.router)
api.add_router("/calls", calls.router)
api.add_router("/alerts", alerts.router)
api.add_router("/assets", assets.router)
