"""The portal's own middleware: hostile input refused at the edge, private pages kept out of
caches, and the tenant scope opened for each request."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _

from portal.scoping import scopes_disabled, tenant_scope
from portal.selectors import memberships_of_user

SESSION_TENANT_KEY = "tenant_code"


class TenantMiddleware:
    """Chooses the signed-in user's active tenant and scopes the request to it.

    The active tenant is the one whose code the session holds (set by the tenant switcher),
    else the user's first tenant. Requests without a member (anonymous, operators without a
    tenant) run with no scope, so any tenant-owned query fails closed. Django admin is for
    platform operators and works across tenants, visibly.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = None
        request.membership = None
        request.memberships = []
        if request.path.startswith("/admin/"):
            with scopes_disabled():
                return self.get_response(request)
        if not request.user.is_authenticated:
            return self.get_response(request)

        request.memberships = memberships_of_user(request.user)
        if not request.memberships:
            return self.get_response(request)
        wanted = request.session.get(SESSION_TENANT_KEY)
        membership = next(
            (m for m in request.memberships if str(m.tenant.code) == wanted),
            request.memberships[0],
        )
        request.membership = membership
        request.tenant = membership.tenant
        with tenant_scope(membership.tenant):
            timezone.activate(zoneinfo.ZoneInfo(membership.tenant.timezone))
            try:
                return self.get_response(request)
            finally:
                timezone.deactivate()


def _nul_field(request) -> str | None:
    """Where a NUL character is: ``"path"``, or the query or form field's name; else None."""
    if "\x00" in request.path_info:
        return "path"
    sources = [request.GET]
    if request.method == "POST":
        sources.append(request.POST)
    for source in sources:
        for name, values in source.lists():
            if "\x00" in name:
                return "?"
            if any("\x00" in value for value in values):
                return name
    return None


# The company API answers JSON (api/); its URLs start here.
API_PREFIX = "/api/"


class RefuseNulMiddleware:
    """Answers 400 to a request with a NUL character in its path, query or form fields (under
    ``/api/``: 422 in the API's shape, naming the field).

    No form of the portal can produce one (browsers do not send it), PostgreSQL cannot store
    it in a text column, and every field would otherwise need its own check: refused here,
    once, for every view. Placed before CSRF and the views so that nothing reads the value.
    Reading the form here is what the CSRF check does next anyway; a request that is too
    large or has too many fields fails here with Django's own 400.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            field = _nul_field(request)
        except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
            if not request.path.startswith(API_PREFIX):
                raise  # Django's 400 page
            return JsonResponse(
                {
                    "detail": _(
                        "The request is too large: at most %(size)d KB of JSON or form data, "
                        "files aside."
                    )
                    % {"size": settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024},
                    "code": "too_large",
                },
                status=413,
            )
        if field is not None:
            reason = _(
                "The request contained a NUL character (\\0), which no field accepts. "
                "Remove it (it often comes with text copied from a binary file) and "
                "try again."
            )
            if request.path.startswith(API_PREFIX):
                # Programs get the API's error shape, the field named, as the API's own
                # validators answer a NUL inside a JSON body (422).
                return JsonResponse(
                    {
                        "detail": _("Some input is not valid."),
                        "code": "invalid",
                        "errors": [{"field": field, "message": reason}],
                    },
                    status=422,
                )
            return render(request, "400.html", {"reason": reason}, status=400)
        return self.get_response(request)


class PrivatePagesMiddleware:
    """``Cache-Control: no-store`` on every answer to a signed-in person.

    Pages show a company's numbers, calls and members: a shared computer's browser or a proxy
    must not keep them. A view that chose its own caching (an MP3 for the player) keeps it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "Cache-Control" not in response:
            patch_cache_control(response, no_store=True, private=True)
        return response
