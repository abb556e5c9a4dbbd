"""Reading call flows for people: plain-language descriptions, history diffs, previews."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from callflows.assets.scripts import preview_available
from callflows.flows import week, words
from callflows.flows.closed import closed_days
from callflows.flows.compiler import DEFAULT_DOCUMENT, flow_compile
from callflows.flows.forms import WEEKDAYS
from callflows.flows.rules import Answer, evaluate, minutes_of
from callflows.models import AudioFile, CallerList, CallFlow, FlowVersion, TtsScript
from dins.models import Subscription
from dins.phone import display


def flow_for_number(subscription: Subscription) -> CallFlow | None:
    return CallFlow.objects.filter(subscription=subscription).first()


def _names() -> dict[str, str]:
    names = {}
    for model in (AudioFile, TtsScript, CallerList):
        names.update({str(code): str(name) for code, name in _labels(model)})
    return names


def _labels(model):
    field = "label" if model is AudioFile else "name"
    return model.objects.values_list("code", field)


def _describe_action(action: dict, names: dict) -> str:
    kind = action["type"]
    if kind == "playback":
        return _("play MP3 “%(name)s”") % {"name": names.get(action["audio"], "?")}
    if kind == "say":
        return _("read script “%(name)s”") % {"name": names.get(action["script"], "?")}
    if kind == "transfer":
        return _("transfer to %(number)s") % {"number": display(action["number"])}
    greeting = action.get("greeting")
    if greeting:
        return _("take a voicemail after: %(greeting)s") % {
            "greeting": _describe_action(greeting, names)
        }
    return _("take a voicemail")


def _describe_when(when: dict, names: dict) -> str:
    kind = when["type"]
    if kind == "hours":
        return _("%(days)s %(start)s to %(end)s") % {
            "days": _days_label(when["weekdays"]),
            "start": when["start"],
            "end": when["end"],
        }
    if kind == "holiday":
        return _("on public holidays and closed dates")
    if kind == "anonymous":
        return _("when the caller withholds their number")
    if kind == "caller_list":
        return _("when the caller is in “%(name)s”") % {"name": names.get(when["list"], "?")}
    return _("always")


def flow_describe(document: dict, names: dict | None = None) -> list[str]:
    """One line per rule, then the default: what staff read in history and previews."""
    names = _names() if names is None else names
    lines = [
        f"{index}. {rule.get('label') or '—'}: {_describe_when(rule['when'], names)} → "
        f"{_describe_action(rule['then'], names)}"
        for index, rule in enumerate(document.get("rules", []), start=1)
    ]
    lines.append(
        _("Otherwise: %(action)s") % {"action": _describe_action(document["default"], names)}
    )
    return lines


HISTORY_PAGE_SIZE = 50


def flow_history(flow: CallFlow, *, page_number=None) -> tuple[Page, list[dict]]:
    """One page of versions, newest first, each with the lines it changed against the one
    before. Every save adds a version, so the history is read a page at a time."""
    names = _names()
    versions = FlowVersion.objects.filter(flow=flow).select_related("created_by")
    page = Paginator(versions, HISTORY_PAGE_SIZE).get_page(page_number)
    on_page = list(page.object_list)
    # The version just before the page's oldest, for that one's diff.
    older = None
    if on_page:
        older = FlowVersion.objects.filter(flow=flow, number__lt=on_page[-1].number).first()
    documents = [version.document for version in on_page] + [older.document if older else None]
    history = []
    for index, version in enumerate(on_page):
        previous = documents[index + 1]
        before = flow_describe(previous, names) if previous else []
        after = flow_describe(version.document, names)
        diff = [
            line
            for line in difflib.unified_diff(before, after, lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        is_current = page.number == 1 and index == 0
        history.append({"version": version, "diff": diff, "is_current": is_current})
    return page, history


def flow_compiled(
    subscription: Subscription, document: dict | None = None, *, around: dt.date | None = None
) -> dict:
    """The number's flow compiled as publishing compiles it, or ``document`` (a draft) as
    saving would: a draft whose references do not resolve raises ``ValueError``
    (``FlowError``), since it could not be saved. Holidays are compiled around ``around``
    (default: today). The saved override applies to drafts too: it is what callers hear while
    it lasts.
    """
    flow = flow_for_number(subscription)
    override = None
    if flow and flow.override_document and flow.override_until:
        override = (flow.override_document, flow.override_until)
    is_draft = document is not None
    if document is None:
        document = flow.document if flow else DEFAULT_DOCUMENT
    return flow_compile(
        document,
        tenant=subscription.tenant,
        own_number=subscription.e164,
        override=override,
        around=around or timezone.localdate(timezone=subscription.tenant.zone),
        problems=None if is_draft else [],
    )


def flow_preview(
    subscription: Subscription, *, at: datetime, caller: str, document: dict | None = None
) -> Answer:
    """What a caller would hear at ``at``: compiled as publishing compiles (holidays around
    that day) and evaluated by the same function as a real call."""
    around = timezone.localdate(at, timezone=subscription.tenant.zone)
    return evaluate(flow_compiled(subscription, document, around=around), at, caller)


@dataclass(frozen=True)
class AnswerInWords:
    rule: str  # the rule's name for people
    words: str  # what the caller hears, in words
    command: str  # the raw line, for the details toggle
    source: str


def answer_in_words(answer: Answer) -> AnswerInWords:
    return AnswerInWords(
        rule=words.rule_name(answer.rule),
        words=words.describe_command(answer.command),
        command=answer.command,
        source=answer.source,
    )


# --- The week view ----------------------------------------------------------------------------

# Geometry of the week chart (inline SVG; CSP allows attributes, not style=).
WEEK_LABEL_WIDTH = 70
WEEK_CHART_WIDTH = 672  # 28 units an hour
WEEK_ROW_HEIGHT = 28
WEEK_ROW_GAP = 6
WEEK_TOP = 18
WEEK_COLOURS = 8


def _days_label(weekdays: list[int]) -> str:
    names = dict(WEEKDAYS)
    runs: list[list[int]] = []
    for day in sorted(weekdays):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(
                _("%(first)s–%(last)s")  # noqa: RUF001 (a range of days, as Mon to Fri)
                % {"first": names[run[0]], "last": names[run[-1]]}
            )
        else:
            parts.extend(str(names[day]) for day in run)
    return pgettext("between days of the week", ", ").join(parts)


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
        label = _("Every day") if len(days) == 7 else _days_label(days)
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

    list_names = _names()
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


# --- The day/night switch ---------------------------------------------------------------------


NEXT_OPENING_DAYS = 14  # how far the day/night switch looks for the next opening


def next_opening(subscription: Subscription, compiled: dict, *, now: datetime) -> datetime:
    """When the flow next opens after today: the first hours rule answering on a later day.

    The one-tap "closed now" switch lasts until then (e.g. tomorrow 9:00, or Monday 9:00 on a
    Friday evening, skipping closed dates); 9:00 tomorrow when no hours rule ever answers.
    """
    zone = subscription.tenant.zone
    today = timezone.localtime(now, zone).date()
    plain = week._without_override(compiled)
    hours_labels = {rule["label"] for rule in plain["rules"] if rule["when"]["type"] == "hours"}
    for offset in range(1, NEXT_OPENING_DAYS + 1):
        day = today + dt.timedelta(days=offset)
        for segment in week.day_segments(plain, day, caller=week.ORDINARY_CALLER):
            if segment.rule in hours_labels:
                return datetime.combine(day, dt.time(segment.start // 60, segment.start % 60), zone)
    return datetime.combine(today + dt.timedelta(days=1), dt.time(9, 0), zone)


def schedule_of(document: dict, *, tz: str, closed_dates: set[str]) -> dict:
    """A flow reduced to when each rule matches, in the compiled shape ``evaluate`` reads.

    Enough to tell which rule answers when (the day/night switch), without resolving what
    rules play: no query per number. Callers in lists are left out (no list matches).
    """
    rules = []
    for index, rule in enumerate(document.get("rules", [])):
        when = rule["when"]
        kind = when["type"]
        if kind == "hours":
            condition = {
                "type": kind,
                "weekdays": sorted(set(when["weekdays"])),
                "start": minutes_of(when["start"], "start"),
                "end": minutes_of(when["end"], "end"),
            }
        elif kind == "holiday":
            condition = {"type": kind, "dates": sorted(closed_dates)}
        elif kind == "caller_list":
            condition = {"type": kind, "numbers": []}
        else:
            condition = {"type": kind}
        rules.append(
            {"label": rule.get("label") or f"#{index + 1}", "when": condition, "command": ""}
        )
    return {"tz": tz, "rules": rules, "default": "", "override": None}


def _switch(subscription, flow, *, names: dict, closed_dates: set[str], now: datetime) -> dict:
    state: dict = {"subscription": subscription, "override": None}
    if flow and flow.override_document and flow.override_until and flow.override_until > now:
        state["override"] = {
            "until": flow.override_until,
            "words": _describe_action(flow.override_document, names),
        }
        return state
    document = flow.document if flow else DEFAULT_DOCUMENT
    try:
        schedule = schedule_of(document, tz=subscription.tenant.timezone, closed_dates=closed_dates)
    except ValueError:
        return state
    state["closed_until"] = next_opening(subscription, schedule, now=now)
    state["closed_words"] = _describe_action(document["default"], names)
    return state


def override_switch(subscription: Subscription, *, now: datetime | None = None) -> dict:
    """The one-tap day/night switch of a number: on (until when, answering what) or off (and
    until when a tap would close it)."""
    return override_switches(numbers=[subscription], now=now)[0]


def override_switches(
    *, numbers: list[Subscription] | None = None, limit: int = 10, now: datetime | None = None
) -> list[dict]:
    """The day/night switch of each number (default: the tenant's active numbers, for the
    dashboard), in a fixed number of queries however many numbers there are."""
    from dins.models import Status

    now = now or timezone.now()
    if numbers is None:
        numbers = list(
            Subscription.objects.filter(status=Status.ACTIVE)
            .select_related("tenant")
            .order_by("din")[:limit]
        )
    if not numbers:
        return []
    flows = {
        flow.subscription_id: flow for flow in CallFlow.objects.filter(subscription__in=numbers)
    }
    names = _names()
    today = timezone.localdate(timezone=numbers[0].tenant.zone)
    closed_dates = {
        day.isoformat() for day in closed_days(today, today + dt.timedelta(days=NEXT_OPENING_DAYS))
    }
    return [
        _switch(s, flows.get(s.pk), names=names, closed_dates=closed_dates, now=now)
        for s in numbers
    ]


_PUBLIC_AUDIO = re.compile(r"/media/audio/([A-Za-z0-9_-]+)\.mp3")
_SAY = re.compile(r'say (ja|en) "((?:[^"\\]|\\.)*)"')


def preview_media(answer: Answer) -> dict:
    """The MP3 or script an answer line plays, so the preview can be listened to."""
    media = {"audio": None, "script": None, "speech_available": preview_available()}
    audio = _PUBLIC_AUDIO.search(answer.command)
    if audio:
        media["audio"] = AudioFile.objects.filter(public_id=audio[1]).first()
    said = _SAY.search(answer.command)
    if said:
        text = re.sub(r"\\(.)", r"\1", said[2])  # undo the renderer's \" and \\
        media["script"] = TtsScript.objects.filter(language=said[1], text=text).first()
    return media
