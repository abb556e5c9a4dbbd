"""Every error under ``/api/`` in the API's documented shape, whoever produced it.

The operations answer ``{"detail", "code", "errors"?}`` themselves (``api.v1``). What answers
before or around them is Django's: 404 for a path that is no operation, 405 for a method an
operation does not take, 400 for a form it could not read, the 500 page of an exception that
escaped. Programs parse JSON, so such an answer is replaced by the same status in the same
shape (headers such as ``Allow`` are kept).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from api.errors import error_response

API_PREFIX = "/api/"
CODES = {
    400: ("invalid", lambda: _("The request could not be read.")),
    401: ("not_authenticated", lambda: _("Send an API key.")),
    403: ("permission_denied", lambda: _("Not allowed.")),
    404: ("not_found", lambda: _("Not found.")),
    405: ("method_not_allowed", lambda: _("This method is not allowed here.")),
    413: ("too_large", lambda: _("The request is too large.")),
    500: (
        "server_error",
        lambda: _(
            "Something went wrong on our side. Try again; if it keeps failing, tell us when."
        ),
    ),
}
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class ApiErrorShapeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not request.path.startswith(API_PREFIX)
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        status = response.status_code
        code, detail = CODES.get(status, ("server_error" if status >= 500 else "invalid", None))
        reshaped = error_response(
            status, code, detail() if detail else _("The request could not be served.")
        )
        for name in KEPT_HEADERS:
            if name in response:
                reshaped[name] = response[name]
        return reshaped
