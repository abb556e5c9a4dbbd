"""Pages of the alerts: the list with its acknowledge button, and who receives them."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal import alerts
from portal.access import ensure_role, get_tenant_object, member_required
from portal.forms import NotificationSettingForm
from portal.models import Alert, Role
from portal.paging import BadCursor, keyset_page

RECENT_ALERTS = 50
OPEN_ALERTS_PAGE = 50


@require_GET
@member_required
def alert_list(request):
    # Open alerts are paged (a number that keeps failing raises one an hour); the closed ones
    # are the newest few.
    bad_cursor = False
    try:
        page = keyset_page(
            alerts.alert_open_list(),
            field="created_at",
            size=OPEN_ALERTS_PAGE,
            after=request.GET.get("after", ""),
            before=request.GET.get("before", ""),
        )
    except BadCursor:
        bad_cursor = True
        page = keyset_page(alerts.alert_open_list(), field="created_at", size=OPEN_ALERTS_PAGE)
    recent = list(alerts.alert_recent_list()[:RECENT_ALERTS]) if page.is_first else []
    for alert in page.items + recent:
        alert.title = alerts.alert_title(alert)
        alert.resolution_words = alerts.RESOLUTIONS.get(alert.resolution, "")
    return render(
        request,
        "portal/alerts.html",
        {
            "page": page,
            "open_alerts": page.items,
            "recent_alerts": recent,
            "bad_cursor": bad_cursor,
            "query": "",
            "can_acknowledge": request.membership.has_role(Role.STAFF),
        },
    )


@require_POST
@member_required(role=Role.STAFF)
def alert_acknowledge(request, alert_code):
    alert = get_tenant_object(Alert, alert_code)
    if alerts.alert_acknowledge(alert=alert, request=request):
        messages.success(request, _("Alert acknowledged."))
    next_page = request.POST.get("next")
    return redirect("dashboard" if next_page == "dashboard" else "alert_list")


@member_required
def notification_settings(request):
    setting = alerts.notification_setting_get()
    form = NotificationSettingForm(request.POST or None, instance=setting)
    if request.method == "POST":
        ensure_role(request, Role.ADMIN)
        if form.is_valid():
            alerts.notification_setting_update(
                request=request,
                **{field: form.cleaned_data[field] for field in alerts.NOTIFICATION_FIELDS},
            )
            messages.success(request, _("Notification settings saved."))
            return redirect("notification_settings")
    return render(
        request,
        "portal/notification_settings.html",
        {
            "form": form,
            "setting": setting,
            "can_manage": request.membership.has_role(Role.ADMIN),
        },
    )
