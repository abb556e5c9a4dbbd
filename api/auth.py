"""Who is calling the API: the key in ``Authorization: Bearer <key>``, its tenant and role.

``key_scope`` wraps every API operation (``NinjaAPI.add_decorator``): it checks the key and
the key's rate limit, then runs the operation inside the key's tenant scope, exactly as
``portal.middleware.TenantMiddleware`` does for a signed-in member. The request then looks
to the shared services like a member's: ``request.user`` is the key's creator (numbers kept,
calls placed "by" them), and ``request.audit_actor_label`` makes the audit log name the key.
"""

from __future__ import annotations

from functools import wraps

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from api.errors import ApiError, error_response
from api.keys import KeyRefused, api_key_authenticate, api_key_rate_limited, key_has_role
from api.language import answer_language
from portal.audit_words import API_KEY_ACTOR
from portal.models import Role
from portal.scoping import tenant_scope

BEARER = {"WWW-Authenticate": "Bearer"}


def key_scope(run):
    @wraps(run)
    def wrapper(request, *args, **kwargs):
        request.api_key = None
        header = request.headers.get("Authorization", "")
        scheme, _space, token = header.partition(" ")
        if not header:
            return error_response(
                401,
                "not_authenticated",
                _("Send an API key: Authorization: Bearer <key>."),
                headers=BEARER,
            )
        if scheme.lower() != "bearer" or not token.strip():
            return error_response(
                401, "invalid_key", _("The API key is not valid."), headers=BEARER
            )
        try:
            key = api_key_authenticate(token.strip())
        except KeyRefused as refused:
            return error_response(401, refused.code, refused.detail, headers=BEARER)
        wait = api_key_rate_limited(key)
        if wait is not None:
            return error_response(
                429,
                "rate_limited",
                _("Too many requests with this key; try again in %(seconds)d seconds.")
                % {"seconds": wait},
                headers={"Retry-After": str(wait)},
            )
        request.api_key = key
        request.user = key.holder
        request.tenant = key.tenant
        request.membership = None
        request.audit_actor_label = f"{API_KEY_ACTOR}{key.prefix}:{key.name}"
        language = answer_language(request, key.tenant)
        with (
            tenant_scope(key.tenant),
            timezone.override(key.tenant.zone),
            translation.override(language),
        ):
            response = run(request, *args, **kwargs)
        response["Content-Language"] = language
        return response

    return wrapper


class ApiKeyAuth(HttpBearer):
    """The security scheme the OpenAPI document declares; ``key_scope`` did the checking."""

    def authenticate(self, request, token):
        return getattr(request, "api_key", None)


def require_role(request, role: str) -> None:
    """403 unless the key's role is ``role`` or higher (the pages' rule for the same action)."""
    key = request.api_key
    if key_has_role(key, role):
        return
    acting = getattr(key, "effective_role", key.role)
    if acting != key.role:
        detail = _(
            "This needs the %(role)s role or higher; this key acts with the rights of "
            "%(name)s, who is %(acting)s now."
        ) % {"role": Role(role).label, "name": key.holder, "acting": Role(acting).label}
    else:
        detail = _("This needs a key with the %(role)s role or higher; this key is %(mine)s.") % {
            "role": Role(role).label,
            "mine": key.get_role_display(),
        }
    raise ApiError(403, "permission_denied", detail)
