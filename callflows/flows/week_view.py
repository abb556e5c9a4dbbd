"""The week view for people: the week's segments (``callflows.flows.week``) as a chart and a
text summary, in the reader's words."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from callflows.flows import week, words
from callflows.flows.forms import WEEKDAYS
from callflows.flows.selectors import asset_names, days_label
from dins.models import Subscription

# Geometry of the week chart (inline SVG; CSP allows attributes, not style=).
WEEK_LABEL_WIDTH = 70
WEEK_CHART_WIDTH = 672  # 28 units an hour
WEEK_ROW_HEIGHT = 28
WEEK_ROW_GAP = 6
WEEK_TOP = 18
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
    for position, row in enumerate(view.rows):
        y = WEEK_TOP + position * (WEEK_ROW_HEIGHT + WEEK_ROW_GAP)
        label = _("Holiday") if row.key == week.HOLIDAY else str(names[int(row.key)])
        bars = []
        for segment in row.segments:
            x = WEEK_LABEL_WIDTH + segment.start * scale
            width = segment.minutes * scale
            bars.append(
                {
                    "x": round(x, 1),
                    "width": round(width, 1),
                    "text_x": round(x + 4, 1),
                    "colour": segment.answer % WEEK_COLOURS,
                    "span": _span(segment),
                    "show_text": width >= 64,
                    "short": _short(legend[segment.answer]["rule"], width),
                    **legend[segment.answer],
                }
            )
        rows.append(
            {
                "label": label,
                "key": row.key,
                "date": row.date,
                "is_today": row.is_today,
                "y": y,
                "text_y": y + WEEK_ROW_HEIGHT / 2 + 4,
                "bars": bars,
            }
        )
    return rows


def _short(text: str, width: float) -> str:
    fits = max(2, int(width // 13))  # about 13 units a (wide) character at this size
    return text if len(text) <= fits else text[: fits - 1] + "…"


def week_context(subscription: Subscription, compiled: dict, *, document: dict) -> dict:
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
            who = _("Callers in “%(name)s”") % {"name": list_names.get(when.get("list"), "?")}
        callers.append({"who": who, "summary": _summary(special, legend_of(special))})
    legend = legend_of(view)
    height = WEEK_TOP + len(view.rows) * (WEEK_ROW_HEIGHT + WEEK_ROW_GAP)
    scale = WEEK_CHART_WIDTH / 24
    return {
        "rows": _chart_rows(view, legend),
        "legend": legend,
        "summary": _summary(view, legend),
        "callers": callers,
        "today_is_closed_date": view.today_is_closed_date,
        "upcoming_closed": view.upcoming_closed[:8],
        "width": WEEK_LABEL_WIDTH + WEEK_CHART_WIDTH,
        "height": height,
        "chart_left": WEEK_LABEL_WIDTH,
        "row_height": WEEK_ROW_HEIGHT,
        "hours": [
            {"x": round(WEEK_LABEL_WIDTH + hour * scale, 1), "label": f"{hour}"}
            for hour in range(0, 25, 3)
        ],
    }
