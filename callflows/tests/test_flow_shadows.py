"""The editor warns about a rule that can never answer, or that a rule above keeps from
answering on some days, using the action URL's own evaluator, and offers the move that fixes
it. The case from the field: a holiday rule below the office hours never played on the
weekday holiday 2027-01-11 (成人の日) at 10:00."""

import datetime

import pytest
from django.urls import reverse

from callflows.flows import rules as flow_rules
from callflows.flows import selectors as flow_selectors
from callflows.flows import week
from callflows.tests.test_flows import _form
from dins.tests.factories import SubscriptionFactory
from portal.scoping import tenant_scope

TOKYO = datetime.timezone(datetime.timedelta(hours=9))
OFFICE = {
    "label": "営業時間",
    "when": "hours",
    "weekdays": ["0", "1", "2", "3", "4"],
    "start": "09:00",
    "end": "18:00",
    "action": "transfer",
    "number": "03-1234-5678",
}
HOLIDAY = {"label": "祝日", "when": "holiday", "action": "voicemail"}
ALWAYS = {"label": "いつでも", "when": "always", "action": "voicemail"}
ANONYMOUS = {"label": "非通知", "when": "anonymous", "action": "voicemail"}
LUNCH = {**OFFICE, "label": "昼休み", "start": "12:00", "end": "13:00", "action": "voicemail"}


@pytest.fixture
def number(personas, time_machine):
    time_machine.move_to(datetime.datetime(2026, 12, 7, 10, 0, tzinfo=TOKYO))
    return SubscriptionFactory(tenant=personas.tenant_a, din="815011112222")


def _draft(client, number, rules, **extra):
    data = _form(rules, {"action": "voicemail"}, **extra)
    return client.post(reverse("flow_draft", args=[number.code]), data)


def _compiled(number, rules):
    document = {
        "rules": [
            {
                "label": rule["label"],
                "when": {"type": rule["when"]}
                | (
                    {
                        "weekdays": [int(day) for day in rule["weekdays"]],
                        "start": rule["start"],
                        "end": rule["end"],
                    }
                    if rule["when"] == "hours"
                    else {}
                ),
                "then": {"type": "voicemail"},
            }
            for rule in rules
        ],
        "default": {"type": "voicemail"},
    }
    with tenant_scope(number.tenant):
        return flow_selectors.flow_compiled(number, document)


def test_an_hours_rule_above_a_holiday_rule_is_named_with_the_holidays_it_takes(
    client, personas, number
):
    client.force_login(personas.staff_a)
    client.cookies["django_language"] = "ja"

    html = _draft(client, number, [OFFICE, HOLIDAY]).content.decode()

    assert 'data-shadowed-rule="2"' in html
    assert "ルール2「祝日」" in html and "「営業時間」" in html
    assert "1/11 (月) 09:00–18:00" in html  # noqa: RUF001 (成人の日, a Monday)
    assert 'value="above:1-0"' in html  # the fix: 祝日 above 営業時間
    # what the warning says is what a caller hears: the evaluator answers 営業時間 then
    compiled = _compiled(number, [OFFICE, HOLIDAY])
    at = datetime.datetime(2027, 1, 11, 10, 0, tzinfo=TOKYO)
    assert flow_rules.evaluate(compiled, at, "+819012345678").rule == "営業時間"


def test_moving_the_rule_above_as_offered_ends_the_warning(client, personas, number):
    client.force_login(personas.staff_a)
    data = _form([OFFICE, HOLIDAY], {"action": "voicemail"}, edit="above:1-0")

    page = client.post(reverse("flow_edit", args=[number.code]), data).content.decode()

    labels = [
        value
        for name, value in (
            ("rules-0-label", "祝日"),
            ("rules-1-label", "営業時間"),
        )
        if f'name="{name}" value="{value}"' in page
    ]
    assert labels == ["祝日", "営業時間"]  # moved, everything typed kept
    assert (
        _draft(client, number, [HOLIDAY, OFFICE]).content.decode().count("data-shadowed-rule") == 0
    )


def test_a_rule_after_always_never_answers(client, personas, number):
    client.force_login(personas.staff_a)

    html = _draft(client, number, [ALWAYS, ANONYMOUS]).content.decode()

    assert 'data-shadowed-rule="2"' in html
    assert "never answers a call" in html
    assert 'value="above:1-0"' in html


def test_a_lunch_break_above_the_opening_hours_is_how_flows_are_written(number):
    assert week.shadowed_rules(_compiled(number, [LUNCH, OFFICE]), today=number_today()) == []
    # …while the hours above the lunch break leave it nothing: that is a mistake
    shadows = week.shadowed_rules(_compiled(number, [OFFICE, LUNCH]), today=number_today())
    assert [(s.rule, s.by, s.never_answers) for s in shadows] == [(1, 0, True)]


def test_a_withheld_caller_rule_below_the_hours_loses_them_in_the_hours(number):
    shadows = week.shadowed_rules(_compiled(number, [OFFICE, ANONYMOUS]), today=number_today())

    assert [(s.rule, s.by, s.never_answers) for s in shadows] == [(1, 0, False)]
    assert {m.caller for m in shadows[0].moments} == {""}
    assert {(m.start, m.end) for m in shadows[0].moments} == {(9 * 60, 18 * 60)}
    assert {m.day.weekday() for m in shadows[0].moments} == {0, 1, 2, 3, 4}


def number_today() -> datetime.date:
    return datetime.date(2026, 12, 7)


def test_the_saved_flow_page_warns_too_and_viewers_get_no_button(client, personas, number):
    client.force_login(personas.staff_a)
    saved = client.post(
        reverse("flow_edit", args=[number.code]),
        _form([OFFICE, HOLIDAY], {"action": "voicemail"}, edit="save"),
    )
    assert saved.status_code == 302
    client.force_login(personas.viewer_a)

    html = client.get(reverse("flow_edit", args=[number.code])).content.decode()

    assert 'data-shadowed-rule="2"' in html and "data-rule-above" not in html
