"""The call log: answered calls, newest first, paged by cursor."""

from __future__ import annotations

import datetime
from typing import Literal
from uuid import UUID

from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import Field

from api import schemas
from api.errors import ApiError
from api.v1.common import ERRORS, invalid_field
from callflows.calllog.export import call_log_csv_chunks
from callflows.calllog.selectors import SOURCE_LABELS, call_log_list, caller_search, tenant_today
from dins.models import Subscription
from portal.access import get_tenant_object
from portal.fields import DATE_MAX, DATE_MIN
from portal.formats import phone_out, time_out
from portal.paging import BadCursor, keyset_page

router = Router(tags=["call log"])
MAX_PAGE = 200


class CallFilters(Schema):
    """The call log page's filters, as query parameters of the JSON and the CSV routes."""

    number: UUID | None = Field(None, description="Only this number's calls")
    since: datetime.date | None = Field(None, description="From this day (company's zone)")
    until: datetime.date | None = Field(None, description="To this day, included")
    caller: str = Field(
        "",
        max_length=30,
        description="The caller's last digits (5678), or the number from its start "
        "(090-1234…, +8190…), as on the page",
    )
    anonymous: bool = False
    rule: str = Field("", max_length=100)
    source: str = Field("", description="flow, override, stale or fallback")
    kind: Literal["", "callers", "tests"] = Field(
        "", description="callers: callers' calls only; tests: the flow page's test calls only"
    )


def _calls(filters: CallFilters):
    """The call log filtered as on the page (the page's selector, the same filters)."""
    if filters.source and filters.source not in SOURCE_LABELS:
        raise ApiError(
            422,
            "invalid",
            _("Some input is not valid."),
            errors=[{"field": "source", "message": _("Unknown source.")}],
        )
    for field, day in (("since", filters.since), ("until", filters.until)):
        if day is not None and not DATE_MIN <= day <= DATE_MAX:
            raise invalid_field(
                field,
                _("Enter a date from %(min)s to %(max)s.")
                % {"min": DATE_MIN.isoformat(), "max": DATE_MAX.isoformat()},
            )
    caller = caller_search(filters.caller) if filters.caller.strip() else None
    if filters.caller.strip() and caller is None:
        raise invalid_field("caller", _("Enter digits of a phone number."))
    number = filters.number
    return call_log_list(
        subscriptions=[get_tenant_object(Subscription, number)] if number else None,
        since=filters.since,
        until=filters.until,
        caller=caller,
        anonymous=filters.anonymous,
        rule=filters.rule,
        source=filters.source,
        kind=filters.kind,
    )


@router.get("", response={200: schemas.CallPage, **ERRORS}, url_name="api_call_list")
def call_list(
    request,
    filters: Query[CallFilters],
    cursor: str = Query("", max_length=200, description="next_cursor of the previous page"),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
):
    """Answered calls, newest first, filtered as on the call log page; pages by cursor."""
    try:
        page = keyset_page(_calls(filters), field="at", size=limit, after=cursor)
    except BadCursor:
        raise invalid_field("cursor", _("Not a cursor this API gave.")) from None
    zone = request.tenant.zone
    return {
        "items": [
            {
                "code": call.code,
                "number": call.subscription.code,
                "at": time_out(call.at, zone),
                "caller": phone_out(call.caller),
                "recipient": phone_out(call.recipient),
                "rule": call.rule,
                "command": call.command,
                "source": call.source,
                "latency_ms": call.latency_ms,
                "test": call.is_test,
            }
            for call in page.items
        ],
        "next_cursor": page.next_cursor,
    }


CSV_RESPONSE = {
    200: {
        "description": "The call log as CSV (UTF-8 with BOM), the columns of the page's export",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/csv",
    response=ERRORS,
    url_name="api_call_csv",
    openapi_extra={"responses": CSV_RESPONSE},
)
def call_csv(
    request,
    filters: Query[CallFilters],
):
    """The filtered call log as CSV, streamed: every call, newest first."""
    rows = _calls(filters)
    response = StreamingHttpResponse(
        call_log_csv_chunks(rows, tenant=request.tenant), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="calls-{tenant_today():%Y%m%d}.csv"'
    return response
