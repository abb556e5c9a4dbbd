"""Pages for platform operators (superusers): the landing page and costs across companies."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from dins.costs import costs_by_tenant_kept
from dins.operators import selectors as operator_selectors
from portal.platform import platform_alert_acknowledge


def operator_required(view):
    """Platform operators only; anonymous visitors are sent to sign in."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_superuser:
            raise PermissionDenied(_("This page is for platform operators only."))
        return view(request, *args, **kwargs)

    return wrapper


@require_GET
@operator_required
def operator_home(request):
    return render(
        request,
        "portal/operator.html",
        {
            "tenants": operator_selectors.tenant_overview(),
            "stuck": operator_selectors.stuck_work(),
            "alerts": operator_selectors.platform_alerts(),
            "operator_alerts": operator_selectors.operator_alerts(),
            "orphans": operator_selectors.orphan_count(),
        },
    )


@require_POST
@operator_required
def operator_alert_acknowledge(request, alert_id: int):
    if platform_alert_acknowledge(alert_id=alert_id):
        messages.success(request, _("Alert acknowledged."))
    return redirect("operator_home")


@require_GET
@operator_required
def operator_costs(request):
    return render(request, "portal/operator_costs.html", {"costs": costs_by_tenant_kept()})
