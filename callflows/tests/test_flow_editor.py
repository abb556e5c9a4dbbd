"""The flow editor as a new owner uses it: blank rules, moves, starting points, drafts, preview."""

import datetime
import re

import pytest
from django.urls import reverse

from callflows.flows import selectors as flow_selectors
from callflows.models import CallerList, CallFlow
from callflows.tests.factories import make_audio, make_script
from callflows.tests.test_flows import _form
from dins.tests.factories import SubscriptionFactory
from portal.scoping import tenant_scope
from testing.scaffolding import edge_get

TOKYO = datetime.timezone(datetime.timedelta(hours=9))


@pytest.fixture
def number(personas):
    return SubscriptionFactory(tenant=personas.tenant_a, din="815011112222")


@pytest.fixture
def vip(personas):
    with tenant_scope(personas.tenant_a):
        return CallerList.objects.create(
            tenant=personas.tenant_a, name="VIP", numbers=["+819012345678"]
        )


def _flow(personas, number):
    with tenant_scope(personas.tenant_a):
        return CallFlow.objects.filter(subscription=number).first()


def _save(client, number, data):
    return client.post(reverse("flow_edit", args=[number.code]), data)


def test_it_saves_a_flow_with_only_a_default_even_with_a_blank_rule_on_screen(
    client, personas, number
):
    # given the editor posted with one rule left completely blank (the "— choose —" selects)
    client.force_login(personas.staff_a)
    data = _form([], {"action": "voicemail"})
    data.update({"rules-0-label": "", "rules-0-when": "", "rules-0-action": ""})

    # when it is saved
    response = _save(client, number, data)

    # then the flow is saved with the default alone
    assert response.status_code == 302
    assert _flow(personas, number).document == {
        "rules": [],
        "default": {"type": "voicemail", "greeting": None},
    }


def test_it_says_what_is_missing_in_a_half_filled_rule_and_saves_nothing(client, personas, number):
    client.force_login(personas.staff_a)
    data = _form([{"label": "Open", "when": "hours", "action": ""}], {"action": "voicemail"})

    response = _save(client, number, data)

    body = response.content.decode()
    assert response.status_code == 400
    assert "Choose at least one day." in body and "Choose what the caller hears." in body
    assert 'value="Open"' in body
    assert _flow(personas, number) is None


def _rule_labels(body: str) -> list[str]:
    return re.findall(r'name="rules-\d+-label"[^>]*value="([^"]*)"', body)


def test_it_adds_removes_and_moves_rules_without_saving_or_losing_what_was_typed(
    client, personas, number
):
    client.force_login(personas.staff_a)
    rules = [
        {"label": "First", "when": "anonymous", "action": "voicemail"},
        {"label": "Second", "when": "always", "action": "transfer", "number": "03-1234"},
        {"label": "Third", "when": "hours", "action": ""},
    ]

    # add: a fourth, blank rule appears
    body = _save(client, number, _form(rules, {"action": "voicemail"}, edit="add")).content
    body = body.decode()
    # (the posted form already had one blank rule after the three)
    assert 'name="rules-4-when"' in body and 'name="rules-5-when"' not in body
    assert 'value="03-1234"' in body  # typed, invalid, kept, and no error shown yet
    assert "Choose" not in re.sub(r"— choose —", "", body.split('id="rules"')[1].split("</div")[0])

    # move the third up, then remove the first
    body = _save(client, number, _form(rules, {"action": "voicemail"}, edit="up:2")).content
    assert _rule_labels(body.decode())[:3] == ["First", "Third", "Second"]
    body = _save(client, number, _form(rules, {"action": "voicemail"}, edit="remove:0")).content
    assert _rule_labels(body.decode()) == ["Second", "Third"]

    # nothing was saved along the way
    assert _flow(personas, number) is None


def test_it_fills_the_editor_from_starting_points_that_compose(client, personas, number, vip):
    client.force_login(personas.staff_a)
    data = _form([], {"action": ""}, edit="start:clinic")

    body = _save(client, number, data).content.decode()
    assert _rule_labels(body) == ["Lunch break", "Clinic hours", "Saturday morning"]
    assert 'value="12:00"' in body and 'value="13:00"' in body

    # then holidays and VIP go on top of what is on screen
    data = _form(
        [
            {"label": "Lunch break", "when": "hours", "action": "voicemail"},
            {"label": "Clinic hours", "when": "hours", "action": "transfer"},
        ],
        {"action": "voicemail"},
        edit="start:vip",
    )
    body = _save(client, number, data).content.decode()
    assert _rule_labels(body) == ["VIP callers", "Lunch break", "Clinic hours"]
    assert f'<option value="{vip.code}" selected>VIP</option>' in body
    assert _flow(personas, number) is None


def _clinic_document(number, personas, vip, script):
    return _form(
        [
            {"label": "VIP", "when": "caller_list", "caller_list": str(vip.code)}
            | {"action": "transfer", "number": "03-1234-5678"},
            {"label": "Holidays", "when": "holiday", "action": "voicemail"},
            {
                "label": "Lunch",
                "when": "hours",
                "weekdays": ["0", "1", "2", "3", "4"],
                "start": "12:00",
                "end": "13:00",
                "action": "voicemail",
                "greeting": f"say:{script.code}",
            },
            {
                "label": "Open",
                "when": "hours",
                "weekdays": ["0", "1", "2", "3", "4"],
                "start": "09:00",
                "end": "18:00",
                "action": "transfer",
                "number": "0312345678",
            },
        ],
        {"action": "voicemail"},
    )


def test_it_shows_the_week_of_the_draft_before_saving(client, personas, number, vip):
    client.force_login(personas.staff_a)
    script = make_script(personas.tenant_a)
    data = _clinic_document(number, personas, vip, script)

    # the draft endpoint (htmx) and the "Preview" button both show the draft's week
    draft = client.post(reverse("flow_draft", args=[number.code]), data).content.decode()
    data["edit"] = "check"
    page = _save(client, number, data)
    assert page.status_code == 200
    for body in (draft, page.content.decode()):
        assert "Mon\u2013Fri</dt><dd>" in body
        assert re.search(r"00:00\u201309:00</span> Otherwise \(default\)<br>", body)
        assert re.search(r"12:00\u201313:00</span> Lunch<br>", body)
        assert (
            'Holidays and closed dates</dt><dd><span class="nowrap">all day</span> Holidays' in body
        )
        assert "Callers in “VIP”" in body
    assert _flow(personas, number) is None


def test_it_previews_a_listed_caller_written_any_usual_way(client, personas, number, vip):
    client.force_login(personas.staff_a)
    script = make_script(personas.tenant_a)
    assert _save(client, number, _clinic_document(number, personas, vip, script)).status_code == 302
    url = reverse("flow_preview", args=[number.code])

    for typed in (
        "090-1234-5678",
        "09012345678",
        "+81 90 1234 5678",
        "\uff10\uff19\uff10\uff08\uff11\uff12\uff13\uff14\uff09\uff15\uff16\uff17\uff18",
    ):
        response = client.get(url, {"at": "2026-12-05T22:00", "caller": typed})
        body = response.content.decode()
        assert response.status_code == 200, typed
        assert "data-preview-rule>VIP<" in body, typed
        assert "Transfer to 03-1234-5678" in body


def test_it_refuses_a_caller_that_is_not_a_number_instead_of_previewing_anonymous(
    client, personas, number, vip
):
    client.force_login(personas.staff_a)
    response = client.get(
        reverse("flow_preview", args=[number.code]), {"at": "2026-12-05T22:00", "caller": "abc"}
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "“abc” is not a phone number" in body
    assert "data-preview-rule" not in body


def test_it_switches_to_closed_in_one_tap_until_the_next_opening_and_back(
    client, personas, number, vip, time_machine
):
    time_machine.move_to(datetime.datetime(2026, 12, 4, 16, 0, tzinfo=TOKYO))  # a Friday
    client.force_login(personas.staff_a)
    script = make_script(personas.tenant_a)
    _save(client, number, _clinic_document(number, personas, vip, script))
    detail = reverse("number_detail", args=[number.code])

    # when staff taps "Closed now" on the number page
    response = client.post(
        reverse("flow_override", args=[number.code]), {"quick": "1", "next": detail}
    )

    # then the flow answers its default until Monday's opening, and the page says so
    assert response.status_code == 302 and response["Location"] == detail
    flow = _flow(personas, number)
    assert flow.override_document == {"type": "voicemail", "greeting": None}
    assert flow.override_until == datetime.datetime(2026, 12, 7, 9, 0, tzinfo=TOKYO)
    body = client.get(detail).content.decode()
    assert 'data-override="on"' in body and "Until 12/7 09:00 every call gets" in body
    action = edge_get(f"/a/{number.action_token}/", {"caller": "+815000000000"})
    assert action.content.decode().strip() == "voicemail"

    # and one tap ends it
    client.post(reverse("flow_override", args=[number.code]), {"end": "1", "next": detail})
    assert _flow(personas, number).override_document is None


def test_it_computes_the_week_with_the_action_urls_evaluator(personas, number, vip, in_tenant_a):
    from callflows.flows import week
    from callflows.flows.rules import evaluate

    script = make_script(personas.tenant_a)
    audio = make_audio(personas.tenant_a)
    document = {
        "rules": [
            {
                "label": "Night",
                "when": {"type": "hours", "weekdays": [4], "start": "22:30", "end": "06:15"},
                "then": {"type": "playback", "audio": str(audio.code)},
            },
            {
                "label": "Open",
                "when": {
                    "type": "hours",
                    "weekdays": [0, 1, 2, 3, 4],
                    "start": "09:00",
                    "end": "18:00",
                },
                "then": {"type": "say", "script": str(script.code)},
            },
        ],
        "default": {"type": "voicemail", "greeting": None},
    }
    compiled = flow_selectors.flow_compiled(number, document)
    today = datetime.date(2026, 12, 1)
    view = week.week_view(compiled, today=today)
    zone = datetime.timezone(datetime.timedelta(hours=9))
    for row in view.rows:
        for minute in range(0, 24 * 60, 5):
            at = datetime.datetime.combine(row.date, datetime.time(minute // 60, minute % 60), zone)
            answer = evaluate(compiled, at, week.ORDINARY_CALLER)
            segment = next(s for s in row.segments if s.start <= minute < s.end)
            assert (segment.rule, segment.command) == (answer.rule, answer.command), (row, minute)
    saturday = next(row for row in view.rows if row.key == "5")
    assert [(s.start, s.end, s.rule) for s in saturday.segments] == [
        (0, 375, "Night"),
        (375, 1440, "default"),
    ]
