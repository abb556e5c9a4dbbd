"""The days a company is closed: Japanese public holidays and its own closed dates.

One place for the set every "holiday" rule matches, used by the flow compiler (the action URL)
and by the pages that reason about opening hours (the day/night switch).
"""

from __future__ import annotations

import datetime

import holidays
from django.utils import timezone

from callflows.models import ClosedDate


def closed_dates_for_tenant(*, today: datetime.date | None = None) -> set[str]:
    """ISO dates: public holidays of this year and next, and the active tenant's closed dates."""
    year = (today or timezone.localdate()).year
    dates = {day.isoformat() for day in holidays.Japan(years=[year, year + 1])}
    for first, last in ClosedDate.objects.values_list("date", "end_date"):
        day = first
        while day <= (last or first):
            dates.add(day.isoformat())
            day += datetime.timedelta(days=1)
    return dates
