"""Properties that must hold for every input, not just the examples we thought of."""

import datetime
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from callflows import grammar as rendering
from callflows.flows.rules import evaluate
from sandbox import grammar

TOKYO = ZoneInfo("Asia/Tokyo")


@given(st.text(max_size=600), st.sampled_from(["ja", "en"]))
@settings(max_examples=400)
def test_it_renders_any_accepted_text_to_one_line_the_carrier_reads_back(text, lang):
    try:
        cleaned = rendering.say_text_clean(text)
    except rendering.UnsayableText:
        return  # refused with a reason: fine, as long as it never reaches the carrier
    line = rendering.say(lang, text)
    assert "\n" not in line and "\r" not in line
    assert grammar.parse(line) == grammar.Say(lang, cleaned)
    assert grammar.parse(rendering.voicemail(line)) == grammar.Voicemail(grammar.Say(lang, cleaned))


@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=80))
def test_it_keeps_quotes_backslashes_and_emoji_as_typed(core):
    text = f'"{core}\\ 😀'
    try:
        cleaned = rendering.say_text_clean(text)
    except rendering.UnsayableText:
        return
    assert grammar.parse(rendering.say("en", text)).text == cleaned


def test_it_turns_lines_into_spaces_and_refuses_control_characters():
    assert rendering.say_text_clean("Hello\r\n  world\tagain") == "Hello world again"
    for bad in ("", "   ", "a\x07b", "x" * 501):
        try:
            rendering.say_text_clean(bad)
        except rendering.UnsayableText:
            continue
        raise AssertionError(f"{bad!r} was accepted")


# --- Schedules --------------------------------------------------------------------------------


def _flow(start: int, end: int, days: list[int], **extra) -> dict:
    return {
        "tz": "Asia/Tokyo",
        "rules": [
            *extra.pop("before", []),
            {
                "label": "open",
                "when": {"type": "hours", "weekdays": days, "start": start, "end": end},
                "command": 'say en "open"',
            },
        ],
        "default": "voicemail",
        "override": extra.pop("override", None),
    }


def _at(day: datetime.date, minute: int) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(minute // 60, minute % 60), tzinfo=TOKYO)


minutes = st.integers(min_value=0, max_value=24 * 60 - 1)
days_of_week = st.lists(st.integers(min_value=0, max_value=6), min_size=1, unique=True)
dates = st.dates(min_value=datetime.date(2026, 1, 1), max_value=datetime.date(2028, 12, 31))


@given(minutes, minutes, days_of_week, dates, minutes)
@settings(max_examples=500)
def test_it_matches_a_window_exactly_on_the_minutes_it_covers(start, end, days, day, minute):
    assume(start != end)
    answer = evaluate(_flow(start, end, days), _at(day, minute), "+819012345678")
    weekday = day.weekday()
    if start < end:
        expected = weekday in days and start <= minute < end
    else:  # crosses midnight: evening of a listed day, or the early hours after one
        expected = (weekday in days and minute >= start) or (
            (weekday - 1) % 7 in days and minute < end
        )
    assert (answer.rule == "open") is expected


@given(days_of_week, dates)
def test_it_gives_an_overnight_window_to_the_day_it_starts(days, day):
    # 22:00-06:00: Monday 23:00 and Tuesday 05:00 belong to Monday's window
    flow = _flow(22 * 60, 6 * 60, days)
    next_day = day + datetime.timedelta(days=1)
    late = evaluate(flow, _at(day, 23 * 60), "1").rule == "open"
    early = evaluate(flow, _at(next_day, 5 * 60), "1").rule == "open"
    assert late == early == (day.weekday() in days)


@given(dates, minutes)
def test_it_lets_a_holiday_rule_before_the_hours_win_on_holidays(day, minute):
    holiday = {
        "label": "holiday",
        "when": {"type": "holiday", "dates": {day.isoformat()}},
        "command": "voicemail",
    }
    flow = _flow(0, 0, [0, 1, 2, 3, 4, 5, 6], before=[holiday])  # 00:00 to 00:00: all day
    assert evaluate(flow, _at(day, minute), "1").rule == "holiday"
    other = day + datetime.timedelta(days=1)
    assert evaluate(flow, _at(other, minute), "1").rule == "open"


@given(dates, minutes, st.integers(min_value=1, max_value=48 * 60))
def test_it_answers_an_override_until_it_ends_by_itself(day, minute, length):
    now = _at(day, minute)
    until = now + datetime.timedelta(minutes=length)
    flow = _flow(
        0,
        0,
        [0, 1, 2, 3, 4, 5, 6],
        override={"command": 'say en "closed"', "until": until.timestamp()},
    )
    assert evaluate(flow, now, "1").rule == "override"
    assert evaluate(flow, until, "1").rule == "open"


@given(st.sampled_from(["", None, "anonymous", "Anonymous", "0", "  "]))
def test_it_treats_every_withheld_form_as_anonymous(caller):
    flow = {
        "tz": "Asia/Tokyo",
        "rules": [{"label": "anon", "when": {"type": "anonymous"}, "command": "voicemail"}],
        "default": 'say en "hi"',
        "override": None,
    }
    now = datetime.datetime(2026, 11, 27, 10, tzinfo=TOKYO)
    assert evaluate(flow, now, caller).rule == "anon"
    assert evaluate(flow, now, "+819012345678").rule == "default"
