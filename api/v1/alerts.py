"""A company's alerts: list and acknowledge."""

from __future__ import annotations

from uuid import UUID

from django.utils.translation import gettext as _
from ninja import Query, Router

from api import schemas
from api.auth import require_role
from api.v1.common import ERRORS, invalid_field
from portal import alerts
from portal.access import get_tenant_object
from portal.formats import time_out
from portal.models import Alert, Role
from portal.paging import BadCursor, keyset_page

router = Router(tags=["alerts"])
MAX_ALERTS = 200


def _alert(alert: Alert) -> dict:
    zone = alert.tenant.zone
    return {
        "code": alert.code,
        "kind": alert.kind,
        "title": alerts.alert_title(alert),
        "number": alert.number_code,
        "context": alert.context,
        "created_at": time_out(alert.created_at, zone),
        "acknowledged_at": time_out(alert.acknowledged_at, zone),
    }


@router.get("", response={200: schemas.AlertList, **ERRORS}, url_name="api_alert_list")
def alert_list(
    request,
    open: bool = Query(True, description="Only alerts not acknowledged"),
    cursor: str = Query("", max_length=200, description="next_cursor of the previous page"),
    limit: int = Query(50, ge=1, le=MAX_ALERTS),
):
    """Open alerts, newest first (``open=false``: the last 30 days', as on the alerts page);
    pages by cursor."""
    found = alerts.alert_open_list() if open else alerts.alert_recent_list()
    try:
        page = keyset_page(
            found.select_related("tenant"),
            field="created_at",
            size=limit,
            after=cursor,
        )
    except BadCursor:
        raise invalid_field("cursor", _("Not a cursor this API gave.")) from None
    return {"items": [_alert(alert) for alert in page.items], "next_cursor": page.next_cursor}


@router.post(
    "/{uuid:alert_code}/acknowledge",
    response={200: schemas.Acknowledged, **ERRORS},
    url_name="api_alert_acknowledge",
)
def alert_acknowledge(request, alert_code: UUID):
    """Take the alert off the open list (staff keys); ``changed`` is false the second time."""
    require_role(request, Role.STAFF)
    alert = get_tenant_object(Alert, alert_code)
    changed = alerts.alert_acknowledge(alert=alert, request=request)
    alert.refresh_from_db(fields=["acknowledged_at"])
    return {
        "code": alert.code,
        "acknowledged_at": time_out(alert.acknowledged_at, request.tenant.zone),
        "changed": changed,
    }
