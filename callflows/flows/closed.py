"""The days a company is closed: Japanese public holidays and its own closed dates.

One place for the set every "holiday" rule matches, used by the flow compiler (the action URL)
and by the pages that reason about opening hours (the day/night switch). A closed date is one
day or a period (``ClosedDate.end_date``), expanded here to its days.
"""

from __future__ import annotations

import datetime

import holidays
from django.db.models import Q

from callflows.models import ClosedDate


def closed_days(first_day: datetime.date, last_day: datetime.date) -> set[datetime.date]:
    """Public holidays and the active tenant's closed days from ``first_day`` to ``last_day``."""
    years = range(first_day.year, last_day.year + 1)
    days = {day for day in holidays.Japan(years=years) if first_day <= day <= last_day}
    periods = ClosedDate.objects.filter(date__lte=last_day).filter(
        Q(end_date__gte=first_day) | Q(end_date__isnull=True, date__gte=first_day)
    )
    for start, end in periods.values_list("date", "end_date"):
        day = max(start, first_day)
        while day <= min(end or start, last_day):
            days.add(day)
            day += datetime.timedelta(days=1)
    return days
