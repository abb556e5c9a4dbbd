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

from callflows.flows.documents import CompiledFlow
from callflows.flows.rules import caller_digits, evaluate, matches

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


def without_override(compiled: CompiledFlow) -> CompiledFlow:
    plain = copy.deepcopy(compiled)
    plain["override"] = None
    return plain


def _with_closed_dates(compiled: CompiledFlow, dates: list[str]) -> CompiledFlow:
    changed = copy.deepcopy(compiled)
    for rule in changed["rules"]:
        if rule["when"]["type"] == "holiday":
            rule["when"]["dates"] = dates
    return changed


def boundaries(compiled: CompiledFlow) -> list[int]:
    """Every minute of a day at which some rule may start or stop matching."""
    moments = {0}
    for rule in compiled["rules"]:
        when = rule["when"]
        if when["type"] == "hours":
            moments.update({when["start"] % DAY_MINUTES, when["end"] % DAY_MINUTES})
    return sorted(moments)


def day_segments(compiled: CompiledFlow, day: datetime.date, *, caller: str) -> list[Segment]:
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


def has_holiday_rule(compiled: CompiledFlow) -> bool:
    return any(rule["when"]["type"] == "holiday" for rule in compiled["rules"])


def closed_dates_of(compiled: CompiledFlow) -> set[str]:
    dates: set[str] = set()
    for rule in compiled["rules"]:
        if rule["when"]["type"] == "holiday":
            dates.update(rule["when"]["dates"])
    return dates


def week_view(
    compiled: CompiledFlow,
    *,
    today: datetime.date,
    caller: str = ORDINARY_CALLER,
    upcoming_days: int = 30,
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


def special_callers(compiled: CompiledFlow, *, today: datetime.date) -> list[tuple[int, WeekView]]:
    """Callers a rule treats differently, each with their week when it differs from others'.

    Returns (index of the rule naming them, that caller's week) for anonymous callers and for a
    caller of each list a rule names.
    """
    base = week_view(compiled, today=today)
    found = []
    seen: set[object] = set()  # "anonymous", ("list", its numbers)
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
            caller = "+" + min(when["numbers"])  # the first of the compiled (sorted) list
        else:
            continue
        view = week_view(compiled, today=today, caller=caller)
        if [signature(row) for row in view.rows] != [signature(row) for row in base.rows]:
            found.append((index, view))
    return found


# --- Rules that can never answer, or not always -----------------------------------------------


# A rule for certain days or callers below a rule for times of the week is almost always a
# mistake (a holiday rule below the opening hours never plays on a weekday holiday); other
# overlaps (a lunch break above the clinic hours) are how flows are written.
SPECIFIC_CONDITIONS = ("holiday", "anonymous", "caller_list")
GENERAL_CONDITIONS = ("hours", "always")


@dataclass(frozen=True)
class Moment:
    """A stretch of one day during which a rule's condition holds but an earlier rule answers."""

    day: datetime.date
    is_closed_day: bool  # a public holiday or closed date (else an ordinary day of the week)
    start: int
    end: int
    caller: str  # "" anonymous, ORDINARY_CALLER, or "+<digits>" of a caller list


@dataclass
class Shadow:
    rule: int  # the rule (index in the compiled flow) whose condition holds…
    by: int  # …while this earlier rule answers instead
    never_answers: bool  # the rule answers no call at all
    moments: list[Moment] = field(default_factory=list)


def _probe_callers(compiled: CompiledFlow) -> list[str]:
    callers = [ORDINARY_CALLER, ""]
    for rule in compiled["rules"]:
        when = rule["when"]
        if when["type"] == "caller_list" and when["numbers"]:
            callers.append("+" + min(when["numbers"]))
    return list(dict.fromkeys(callers))


def shadowed_rules(
    compiled: CompiledFlow, *, today: datetime.date, days_ahead: int = 366
) -> list[Shadow]:
    """Rules whose condition holds at some moment when a rule above them answers instead.

    Asks the action URL's evaluator (``rules.evaluate``), as the week view does, about every
    stretch of an ordinary week and of every public holiday and closed date in the coming
    ``days_ahead`` days, for an ordinary caller, a withheld one and one of each caller list.
    A rule whose condition holds somewhere but that never answers is ``never_answers`` (a rule
    after "always"), named with the nearest rule above that takes its calls. One that answers
    sometimes is reported when a rule for certain days or callers loses to a rule for times
    of the week (an hours rule above a holiday rule: every weekday holiday, in the hours),
    with the moments it loses. The override is left out.
    """
    plain = without_override(compiled)
    # The evaluator says which rule answered by its label: label each rule by its position.
    indexed = copy.deepcopy(plain)
    for index, rule in enumerate(indexed["rules"]):
        rule["label"] = str(index)
    closed = sorted(closed_dates_of(plain))
    last = today + datetime.timedelta(days=days_ahead)
    probes = [
        (today + datetime.timedelta(days=offset), _with_closed_dates(indexed, []), False)
        for offset in range(7)
    ]
    for text in closed:
        day = datetime.date.fromisoformat(text)
        if today <= day <= last:
            probes.append((day, indexed, True))
    zone = ZoneInfo(plain["tz"])
    callers = _probe_callers(plain)
    shadows: dict[tuple[int, int], Shadow] = {}
    answered: set[int] = set()
    held: set[int] = set()
    for day, flow, is_closed_day in probes:
        moments = boundaries(flow)
        for position, minute in enumerate(moments):
            end = moments[position + 1] if position + 1 < len(moments) else DAY_MINUTES
            at = datetime.datetime.combine(day, datetime.time(minute // 60, minute % 60), zone)
            for caller in callers:
                answer = evaluate(flow, at, caller)
                winner = int(answer.rule) if answer.rule.isdigit() else None
                if winner is not None:
                    answered.add(winner)
                digits = caller_digits(caller)
                for index, rule in enumerate(flow["rules"]):
                    if not matches(rule["when"], at, digits):
                        continue
                    held.add(index)
                    if winner is not None and index > winner:
                        shadow = shadows.setdefault(
                            (index, winner), Shadow(rule=index, by=winner, never_answers=False)
                        )
                        shadow.moments.append(Moment(day, is_closed_day, minute, end, caller))
    result = []
    never_reported: set[int] = set()
    # Nearest rule above first: for a rule that never answers, the one that takes its calls
    # last ("always" above it) is the one to name.
    for (index, by), shadow in sorted(shadows.items(), key=lambda item: (item[0][0], -item[0][1])):
        shadow.never_answers = index in held and index not in answered
        if shadow.never_answers:
            if index in never_reported:
                continue
            never_reported.add(index)
        elif not (
            plain["rules"][index]["when"]["type"] in SPECIFIC_CONDITIONS
            and plain["rules"][by]["when"]["type"] in GENERAL_CONDITIONS
        ):
            continue  # a lunch break above clinic hours: shadowing meant as written
        result.append(shadow)
    return sorted(result, key=lambda shadow: (shadow.rule, shadow.by))
