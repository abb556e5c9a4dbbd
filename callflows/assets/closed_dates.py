"""Closed dates: one day or a period, within the planning horizon, compiled into every flow's
holiday rule."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from callflows.assets.library import (
    CLOSED_DATE_MAX_DAYS_AHEAD,
    republish_flows_of,
)
from callflows.assets.selectors import flows_of_tenant
from callflows.models import ClosedDate
from portal.scoping import current_tenant
from portal.services import ServiceError, audit_record

# --- Closed dates ---------------------------------------------------------------------------


def closed_date_horizon(today=None):
    """The last date a closed date may be set on (``CLOSED_DATE_MAX_DAYS_AHEAD`` from today)."""
    return (today or timezone.localdate()) + timedelta(days=CLOSED_DATE_MAX_DAYS_AHEAD)


def _republish_all_flows() -> None:
    # Closed dates are compiled into every flow's "holiday" rule; a number without a flow of its
    # own answers the default document, which has none.
    republish_flows_of(flow.subscription for flow in flows_of_tenant())


MAX_CLOSED_DAYS = 366  # a range of closed days, at most (every day is compiled into flows)


def closed_date_create(*, date, note: str, request, end_date=None) -> ClosedDate:
    """Close the company on ``date``, or from ``date`` to ``end_date`` (both included)."""
    if end_date == date:
        end_date = None
    last = end_date or date
    shown = (
        _("%(first)s to %(last)s") % {"first": date.isoformat(), "last": last.isoformat()}
        if end_date
        else date.isoformat()
    )
    if end_date is not None and end_date < date:
        raise ServiceError(_("The last day is before the first day."))
    today = timezone.localdate()
    if last < today:
        raise ServiceError(_("%(date)s is in the past.") % {"date": shown})
    if last > closed_date_horizon(today):
        raise ServiceError(
            _("%(date)s is too far ahead: closed dates can be set up to %(max)s.")
            % {"date": last.isoformat(), "max": closed_date_horizon(today).isoformat()}
        )
    if (last - date).days + 1 > MAX_CLOSED_DAYS:
        raise ServiceError(
            _("A closed period lasts at most %(days)d days.") % {"days": MAX_CLOSED_DAYS}
        )
    overlapping = (
        ClosedDate.objects.filter(date__lte=last)
        .filter(Q(end_date__gte=date) | Q(end_date__isnull=True, date__gte=date))
        .first()
    )
    already = _("%(date)s is already a closed date.")
    if overlapping is not None:
        if overlapping.date == date and not end_date and not overlapping.end_date:
            raise ServiceError(already % {"date": date.isoformat()})
        raise ServiceError(
            _("This overlaps closed dates already set: %(dates)s.")
            % {"dates": str(overlapping).strip()}
        )
    try:
        with transaction.atomic():
            closed_date = ClosedDate.objects.create(
                tenant=current_tenant(), date=date, end_date=end_date, note=note
            )
            audit_record(
                action="closeddate.create",
                obj=closed_date,
                request=request,
                after={
                    "date": date.isoformat(),
                    **({"end": end_date.isoformat()} if end_date else {}),
                    "note": note,
                },
            )
            _republish_all_flows()
    except IntegrityError:  # added by someone else in the same instant
        raise ServiceError(already % {"date": date.isoformat()}) from None
    return closed_date


def closed_date_delete(*, closed_date: ClosedDate, request) -> None:
    with transaction.atomic():
        audit_record(
            action="closeddate.delete",
            obj=closed_date,
            request=request,
            before={
                "date": closed_date.date.isoformat(),
                **({"end": closed_date.end_date.isoformat()} if closed_date.end_date else {}),
                "note": closed_date.note,
            },
        )
        closed_date.delete()
        _republish_all_flows()
