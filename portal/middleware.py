"""Opens the tenant scope for each request."""

import zoneinfo

from django.utils import timezone

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
