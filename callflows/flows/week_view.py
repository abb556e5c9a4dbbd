"""The week view for people: the week's segments (``callflows.flows.week``) as a chart and a
text summary, in the reader's words."""

from __future__ import annotations

import datetime

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from callflows.flows import week, words
from callflows.flows.documents import CompiledFlow, FlowDocument
from callflows.flows.forms import WEEKDAYS
from callflows.flows.selectors import asset_names, days_label
from dins.models import Subscription

# The week chart: day names and hours are page text (readable at the page's size on a phone
# and in the editor's side column); only each day's bars are an SVG, stretched to the width
# (CSP allows attributes, not style=). A day is this many units wide.
WEEK_CHART_WIDTH = 1440
WEEK_COLOURS = 8


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _span(segment: week.Segment) -> str:
    if segment.start == 0 and segment.end == week.DAY_MINUTES:
        return _("all day")
    return f"{_clock(segment.start)}\u2013{_clock(segment.end)}"


def _summary(view: week.WeekView, legend: list[dict]) -> list[dict]:
    """The week in sentences: days with the same answers grouped ("Mon to Fri: …")."""
    groups: dict[tuple, list[int]] = {}
    rows = {row.key: row for row in view.rows}
    for row in view.rows:
        if row.key != week.HOLIDAY:
            groups.setdefault(week.signature(row), []).append(int(row.key))
    lines = []
    for days in groups.values():
        row = rows[str(days[0])]
        label = _("Every day") if len(days) == 7 else days_label(days)
        lines.append({"days": label, "parts": _parts(row, legend)})
    if week.HOLIDAY in rows:
        lines.append(
            {"days": _("Holidays and closed dates"), "parts": _parts(rows[week.HOLIDAY], legend)}
        )
    return lines


def _parts(row: week.DayRow, legend: list[dict]) -> list[dict]:
    return [{"span": _span(s), "answer": s.answer, **legend[s.answer]} for s in row.segments]


def _chart_rows(view: week.WeekView, legend: list[dict]) -> list[dict]:
    names = dict(WEEKDAYS)
    scale = WEEK_CHART_WIDTH / week.DAY_MINUTES
    rows = []
    for row in view.rows:
        label = _("Holiday") if row.key == week.HOLIDAY else str(names[int(row.key)])
        bars = [
            {
                "x": round(segment.start * scale, 1),
                "width": round(segment.minutes * scale, 1),
                "colour": segment.answer % WEEK_COLOURS,
                "span": _span(segment),
                **legend[segment.answer],
            }
            for segment in row.segments
        ]
        rows.append(
            {
                "label": label,
                "key": row.key,
                "date": row.date,
                "is_today": row.is_today,
                "bars": bars,
            }
        )
    return rows


def week_context(
    subscription: Subscription, compiled: CompiledFlow, *, document: FlowDocument
) -> dict:
    """Everything the week view template draws, for a compiled flow (saved or draft)."""
    today = timezone.localdate(timezone=subscription.tenant.zone)
    view = week.week_view(compiled, today=today)
    specials = week.special_callers(compiled, today=today)
    answers = list(view.answers)
    for _index, special in specials:
        answers.extend(pair for pair in special.answers if pair not in answers)
    names = words.command_names_for(command for _rule, command in answers)
    legend_all = [
        {
            "rule": words.rule_name(rule),
            "words": words.describe_command(command, names),
            "command": command,
            "colour": index % WEEK_COLOURS,
        }
        for index, (rule, command) in enumerate(answers)
    ]

    def legend_of(v: week.WeekView) -> list[dict]:
        return [legend_all[answers.index(pair)] for pair in v.answers]

    list_names = asset_names()
    callers = []
    for index, special in specials:
        when = document["rules"][index]["when"]
        if when["type"] == "anonymous":
            who = _("Callers who withhold their number")
        else:
            who = _("Callers in “%(name)s”") % {"name": list_names.get(when.get("list", ""), "?")}
        callers.append({"who": who, "summary": _summary(special, legend_of(special))})
    legend = legend_of(view)
    return {
        "rows": _chart_rows(view, legend),
        "legend": legend,
        "summary": _summary(view, legend),
        "callers": callers,
        "today_is_closed_date": view.today_is_closed_date,
        "upcoming_closed": view.upcoming_closed[:8],
        "chart_width": WEEK_CHART_WIDTH,
    }


# --- Rules a rule above keeps from answering (the editor's warnings) ------------------------

MAX_SHADOW_ITEMS = 5


def _merged(spans: set[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def _spans_text(spans: set[tuple[int, int]]) -> str:
    return pgettext("between times of a day", ", ").join(
        _span(week.Segment(start, end, "", "")) for start, end in _merged(spans)
    )


def shadow_warnings(
    compiled: CompiledFlow, *, today: datetime.date, positions: list[int] | None = None
) -> list[dict]:
    """The editor's warnings: each rule that never answers, or that a rule above keeps from
    answering on some days (``week.shadowed_rules``), with when, and the move that fixes it.

    ``positions`` maps the compiled rules to the editor's rows (blank rows are not compiled);
    the move is the editor's ``above:<row>-<row>`` (the rule goes above the first rule that
    takes its calls).
    """
    grouped: dict[int, list[week.Shadow]] = {}
    for shadow in week.shadowed_rules(compiled, today=today):
        grouped.setdefault(shadow.rule, []).append(shadow)
    rules = compiled["rules"]
    warnings = []
    for index, shadows in sorted(grouped.items()):
        never = any(shadow.never_answers for shadow in shadows)
        above = sorted({shadow.by for shadow in shadows})
        closed: dict = {}
        ordinary: dict[int, set[tuple[int, int]]] = {}
        for shadow in shadows:
            for moment in shadow.moments:
                if moment.is_closed_day:
                    closed.setdefault(moment.day, set()).add((moment.start, moment.end))
                else:
                    ordinary.setdefault(moment.day.weekday(), set()).add((moment.start, moment.end))
        when = [
            _("%(day)s %(times)s")
            % {"day": formats.date_format(day, "n/j (D)"), "times": _spans_text(spans)}
            for day, spans in sorted(closed.items())
        ]
        by_times: dict[str, list[int]] = {}
        for weekday, spans in sorted(ordinary.items()):
            by_times.setdefault(_spans_text(spans), []).append(weekday)
        when += [
            _("%(day)s %(times)s") % {"day": days_label(days), "times": times}
            for times, days in by_times.items()
        ]
        row = positions[index] if positions else index
        top = positions[above[0]] if positions else above[0]
        warnings.append(
            {
                "rule": words.rule_name(rules[index]["label"]),
                "number": row + 1,
                "never": never,
                "above": pgettext("between rule names", ", ").join(
                    pgettext("a rule's name, quoted", "“%(name)s”")
                    % {"name": words.rule_name(rules[by]["label"])}
                    for by in above
                ),
                "first_above": words.rule_name(rules[above[0]]["label"]),
                "when": when[:MAX_SHADOW_ITEMS],
                "more": max(0, len(when) - MAX_SHADOW_ITEMS),
                "move": f"above:{row}-{top}",
            }
        )
    return warnings
