"""How views reach tenant data: membership checks, role checks and object look-ups.

Views never query tenant-owned models by primary key themselves; they call
``get_tenant_object`` which answers 404 alike for a missing object and for another tenant's
object, so a response never tells whether a code exists elsewhere.
"""

from functools import wraps

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from portal.models import Role


def member_required(view=None, *, role: str = Role.VIEWER):
    """Let through signed-in members of the active tenant holding at least ``role``."""

    def decorator(func):
        @wraps(func)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                from django.contrib.auth.views import redirect_to_login

                return redirect_to_login(request.get_full_path())
            if request.membership is None:
                return redirect("no_tenant")
            ensure_role(request, role)
            return func(request, *args, **kwargs)

        return wrapper

    return decorator(view) if view is not None else decorator


def ensure_role(request, role: str) -> None:
    """Raise 403 unless the member's role is ``role`` or higher."""
    if not request.membership.has_role(role):
        raise PermissionDenied(
            _("This needs the %(role)s role or higher; your role here is %(mine)s.")
            % {"role": Role(role).label, "mine": Role(request.membership.role).label}
        )


def get_tenant_object(model, code, *, queryset=None):
    """The active tenant's ``model`` row with this code, or 404."""
    queryset = model.objects.all() if queryset is None else queryset
    try:
        return queryset.get(code=code)
    except (model.DoesNotExist, ValidationError, ValueError):
        raise Http404 from None
