"""The week view: what a caller hears on each day of the week, hour by hour, at a glance.

Computed by asking the action URL's own evaluator (``callflows.flows.rules.evaluate``) about a
compiled flow at every moment the answer can change: midnight and the start and end of every
hours rule. Between two such moments no condition changes, so the segments are exact, not
sampled.

Rows: Monday to Sunday of an ordinary week (public holidays and closed dates left out), then,
when the flow has a holiday rule, a public holiday or closed date. Callers who withhold their
number or are in a caller list may hear something else: ``special_callers`` describes them.
Pure functions of the compiled flow; no database.
"""

from __future__ import annotations

import copy
import datetime
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from callflows.flows.rules import evaluate

DAY_MINUTES = 24 * 60
HOLIDAY = "holiday"
# A caller in no list: digits no real number has (lists hold valid numbers only).
ORDINARY_CALLER = "+000000000000"


@dataclass(frozen=True)
class Segment:
    start: int  # minutes since midnight, local time
    end: int
    rule: str
    command: str
    answer: int = 0  # index into WeekView.answers: the same answer has the same colour

    @property
    def minutes(self) -> int:
        return self.end - self.start


@dataclass
class DayRow:
    key: str  # "0" (Monday) … "6" (Sunday), or "holiday"
    date: datetime.date
    segments: list[Segment]
    is_today: bool = False


@dataclass
class WeekView:
    rows: list[DayRow]
    answers: list[tuple[str, str]] = field(default_factory=list)  # (rule, command), in order
    today_is_closed_date: bool = False
    upcoming_closed: list[datetime.date] = field(default_factory=list)


def without_override(compiled: dict) -> dict:
    plain = copy.deepcopy(compiled)
    plain["override"] = None
    return plain


def _with_closed_dates(compiled: dict, dates: list[str]) -> dict:
    changed = copy.deepcopy(compiled)
    for rule in changed["rules"]:
        if rule["when"]["type"] == "holiday":
            rule["when"]["dates"] = dates
    return changed


def boundaries(compiled: dict) -> list[int]:
    """Every minute of a day at which some rule may start or stop matching."""
    moments = {0}
    for rule in compiled["rules"]:
        when = rule["when"]
        if when["type"] == "hours":
            moments.update({when["start"] % DAY_MINUTES, when["end"] % DAY_MINUTES})
    return sorted(moments)


def day_segments(compiled: dict, day: datetime.date, *, caller: str) -> list[Segment]:
    """What ``caller`` hears over ``day`` (local date), merged into runs of one answer."""
    zone = ZoneInfo(compiled["tz"])
    segments: list[Segment] = []
    moments = boundaries(compiled)
    for index, minute in enumerate(moments):
        end = moments[index + 1] if index + 1 < len(moments) else DAY_MINUTES
        at = datetime.datetime.combine(day, datetime.time(minute // 60, minute % 60), zone)
        answer = evaluate(compiled, at, caller)
        if segments and (segments[-1].rule, segments[-1].command) == (answer.rule, answer.command):
            last = segments[-1]
            segments[-1] = Segment(last.start, end, last.rule, last.command)
        else:
            segments.append(Segment(minute, end, answer.rule, answer.command))
    return segments


def has_holiday_rule(compiled: dict) -> bool:
    return any(rule["when"]["type"] == "holiday" for rule in compiled["rules"])


def closed_dates_of(compiled: dict) -> set[str]:
    dates: set[str] = set()
    for rule in compiled["rules"]:
        if rule["when"]["type"] == "holiday":
            dates.update(rule["when"]["dates"])
    return dates


def week_view(
    compiled: dict, *, today: datetime.date, caller: str = ORDINARY_CALLER, upcoming_days: int = 30
) -> WeekView:
    """The ordinary week starting today (each weekday's next date), plus a closed day."""
    compiled = without_override(compiled)
    closed = closed_dates_of(compiled)
    ordinary = _with_closed_dates(compiled, [])
    rows = []
    for weekday in range(7):
        day = today + datetime.timedelta(days=(weekday - today.weekday()) % 7)
        rows.append(
            DayRow(
                key=str(weekday),
                date=day,
                segments=day_segments(ordinary, day, caller=caller),
                is_today=day == today and today.isoformat() not in closed,
            )
        )
    if has_holiday_rule(compiled):
        # A closed weekday (Monday of this week's rows) shows what a holiday changes.
        monday = rows[0].date
        closed_day = _with_closed_dates(compiled, [monday.isoformat()])
        rows.append(
            DayRow(
                key=HOLIDAY,
                date=monday,
                segments=day_segments(closed_day, monday, caller=caller),
                is_today=today.isoformat() in closed,
            )
        )
    view = WeekView(rows=rows)
    _number_answers(view)
    view.today_is_closed_date = today.isoformat() in closed
    last = today + datetime.timedelta(days=upcoming_days)
    view.upcoming_closed = sorted(
        day
        for day in (datetime.date.fromisoformat(text) for text in closed)
        if today <= day <= last
    )
    return view


def _number_answers(view: WeekView) -> None:
    for row in view.rows:
        numbered = []
        for segment in row.segments:
            pair = (segment.rule, segment.command)
            if pair not in view.answers:
                view.answers.append(pair)
            numbered.append(
                Segment(
                    segment.start,
                    segment.end,
                    segment.rule,
                    segment.command,
                    view.answers.index(pair),
                )
            )
        row.segments = numbered


def signature(row: DayRow) -> tuple:
    return tuple((s.start, s.end, s.rule, s.command) for s in row.segments)


def special_callers(compiled: dict, *, today: datetime.date) -> list[tuple[int, WeekView]]:
    """Callers a rule treats differently, each with their week when it differs from others'.

    Returns (index of the rule naming them, that caller's week) for anonymous callers and for a
    caller of each list a rule names.
    """
    base = week_view(compiled, today=today)
    found = []
    seen = set()
    for index, rule in enumerate(compiled["rules"]):
        when = rule["when"]
        if when["type"] == "anonymous" and "anonymous" not in seen:
            seen.add("anonymous")
            caller = ""
        elif when["type"] == "caller_list" and when["numbers"]:
            key = ("list", tuple(when["numbers"]))
            if key in seen:
                continue
            seen.add(key)
            caller = "+" + when["numbers"][0]
        else:
            continue
        view = week_view(compiled, today=today, caller=caller)
        if [signature(row) for row in view.rows] != [signature(row) for row in base.rows]:
            found.append((index, view))
    return found
