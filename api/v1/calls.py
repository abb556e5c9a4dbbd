"""The call log: answered calls, newest first, paged by cursor."""

from __future__ import annotations

import base64
import binascii
import datetime
from uuid import UUID

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from ninja import Query, Router

from api import schemas
from api.errors import ApiError
from api.v1.common import ERRORS
from callflows.calllog.selectors import SOURCE_LABELS, call_log_list
from dins.models import Subscription
from portal.access import get_tenant_object

router = Router(tags=["call log"])
MAX_PAGE = 200


def _cursor_encode(call) -> str:
    raw = f"{call.at.isoformat()}|{call.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_decode(cursor: str) -> tuple[datetime.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_text, pk_text = raw.split("|")
        at = parse_datetime(at_text)
        if at is None or timezone.is_naive(at):
            raise ValueError(at_text)
        return at, int(pk_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            422,
            "invalid",
            _("Some input is not valid."),
            errors=[{"field": "cursor", "message": _("Not a cursor this API gave.")}],
        ) from None


@router.get("", response={200: schemas.CallPage, **ERRORS}, url_name="api_call_list")
def call_list(
    request,
    number: UUID | None = Query(None, description="Only this number's calls"),
    since: datetime.date | None = Query(None, description="From this day (company's zone)"),
    until: datetime.date | None = Query(None, description="To this day, included"),
    caller: str = Query("", max_length=30, description="Digits the caller's number contains"),
    anonymous: bool = False,
    rule: str = Query("", max_length=100),
    source: str = Query("", description="flow, override, stale or fallback"),
    cursor: str = Query("", max_length=200, description="next_cursor of the previous page"),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
):
    """Answered calls, newest first, filtered as on the call log page; pages by cursor."""
    if source and source not in SOURCE_LABELS:
        raise ApiError(
            422,
            "invalid",
            _("Some input is not valid."),
            errors=[{"field": "source", "message": _("Unknown source.")}],
        )
    subscription = get_tenant_object(Subscription, number) if number else None
    digits = "".join(ch for ch in caller if ch.isdigit())
    rows = call_log_list(
        subscription=subscription,
        since=since,
        until=until,
        caller=digits,
        anonymous=anonymous,
        rule=rule,
        source=source,
    )
    if cursor:
        at, pk = _cursor_decode(cursor)
        rows = rows.filter(at__lte=at).exclude(at=at, pk__gte=pk)
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "items": [
            {
                "code": call.code,
                "number": call.subscription.code,
                "at": call.at,
                "caller": call.caller,
                "recipient": call.recipient,
                "rule": call.rule,
                "command": call.command,
                "source": call.source,
                "latency_ms": call.latency_ms,
            }
            for call in page
        ],
        "next_cursor": _cursor_encode(page[-1]) if more else None,
    }
