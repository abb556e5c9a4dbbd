"""Editing a number's call flow: saving, validation, history, restore, override, preview."""

import datetime
import socket

import pytest
from django.urls import reverse

from callflows.edge import published, runtime
from callflows.flows import publishing
from callflows.models import CallFlow, FlowVersion
from callflows.tests.factories import make_audio, make_script
from dins.tests.factories import SubscriptionFactory
from portal.models import AuditEvent
from portal.scoping import scopes_disabled, tenant_scope
from sandbox import grammar
from testing.scaffolding import edge_get

TOKYO = datetime.timezone(datetime.timedelta(hours=9))


@pytest.fixture
def number(personas):
    return SubscriptionFactory(tenant=personas.tenant_a, din="815011112222")


@pytest.fixture
def assets(personas):
    return make_audio(personas.tenant_a, label="Greeting"), make_script(
        personas.tenant_a, text="ただいま営業時間外です。"
    )


def _form(rules: list[dict], default: dict, **extra) -> dict:
    data = {
        "rules-TOTAL_FORMS": str(len(rules) + 1),
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "30",
        **{f"default-{key}": value for key, value in default.items()},
        **extra,
    }
    for index, rule in enumerate(rules):
        for key, value in rule.items():
            data[f"rules-{index}-{key}"] = value
        data[f"rules-{index}-ORDER"] = str(index + 1)
    return data


def _business_hours(assets) -> dict:
    _audio, script = assets
    return _form(
        [
            {
                "label": "Anonymous",
                "when": "anonymous",
                "action": "say",
                "script": str(script.code),
            },
            {
                "label": "Open",
                "when": "hours",
                "weekdays": ["0", "1", "2", "3", "4"],
                "start": "09:00",
                "end": "18:00",
                "action": "transfer",
                "number": "03-1234-5678",
            },
        ],
        {"action": "voicemail", "greeting": f"say:{script.code}"},
    )


def test_it_saves_a_flow_from_the_editor_and_calls_follow_it(client, personas, number, assets):
    client.force_login(personas.staff_a)
    response = client.post(reverse("flow_edit", args=[number.code]), _business_hours(assets))
    assert response.status_code == 302

    with tenant_scope(personas.tenant_a):
        flow = CallFlow.objects.get(subscription=number)
    assert [rule["label"] for rule in flow.document["rules"]] == ["Anonymous", "Open"]
    assert flow.document["rules"][1]["then"] == {"type": "transfer", "number": "+81312345678"}
    page = client.get(reverse("flow_edit", args=[number.code])).content.decode()
    assert "Mon–Fri 09:00 to 18:00" in page  # noqa: RUF001


def test_it_keeps_what_was_typed_and_says_why_when_invalid(client, personas, number, assets):
    client.force_login(personas.staff_a)
    data = _business_hours(assets)
    data["rules-1-number"] = "+81 0 3 1234 5678"
    data["rules-0-label"] = "Kept label"
    response = client.post(reverse("flow_edit", args=[number.code]), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Remove the 0 after the country code" in body and 'value="Kept label"' in body
    with tenant_scope(personas.tenant_a):
        assert not CallFlow.objects.exists()


@pytest.mark.parametrize(
    "target,message",
    [
        ("+81 50 1111 2222", "is this number itself"),
        ("+1 212 555 0100", "calls abroad are off for this company"),
        ("0990-123-456", "is a premium-rate number"),
        ("0570-064-556", "is a shared-cost or nationwide access number"),
        ("hello", "is not a phone number: use digits"),
    ],
)
def test_it_refuses_dangerous_transfer_targets(client, personas, number, target, message):
    client.force_login(personas.staff_a)
    data = _form([], {"action": "transfer", "number": target})
    response = client.post(reverse("flow_edit", args=[number.code]), data)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_it_allows_transfers_abroad_once_an_admin_allowed_them(client, personas, number):
    personas.tenant_a.allow_international_transfer = True
    personas.tenant_a.save()
    client.force_login(personas.staff_a)
    data = _form([], {"action": "transfer", "number": "+1 212 555 0100"})
    assert client.post(reverse("flow_edit", args=[number.code]), data).status_code == 302


def test_it_allows_premium_rate_transfers_once_an_admin_allowed_them(client, personas, number):
    client.force_login(personas.admin_a)
    response = client.post(
        reverse("tenant_settings"),
        {
            "name": personas.tenant_a.name,
            "timezone": "Asia/Tokyo",
            "language": "en",
            "allow_premium_destinations": "on",
        },
    )
    assert response.status_code == 302
    with tenant_scope(personas.tenant_a):
        event = AuditEvent.objects.get(action="tenant.update")
    assert event.after["allow_premium_destinations"] is True

    client.force_login(personas.staff_a)
    data = _form([], {"action": "transfer", "number": "0990-123-456"})
    assert client.post(reverse("flow_edit", args=[number.code]), data).status_code == 302
    assert runtime.answer(number.action_token, "+819012345678", None).command == (
        "transfer +81990123456"
    )


def test_a_premium_transfer_saved_before_the_policy_does_not_reach_the_carrier(personas, number):
    # given a flow that transfers to 0990, stored before the policy existed
    with tenant_scope(personas.tenant_a):
        CallFlow.objects.create(
            tenant=personas.tenant_a,
            subscription=number,
            document={"rules": [], "default": {"type": "transfer", "number": "+81990123456"}},
        )

    publishing.flow_publish(subscription=number)  # what every deployment's publish_flows does

    # when a call comes in, then the carrier is not told to transfer there
    answer = runtime.answer(number.action_token, "+819012345678", None)
    assert "990" not in answer.command
    assert answer.source == "fallback"


def test_it_builds_no_more_forms_than_the_rule_limit_whatever_the_post_says(
    client, personas, number, django_assert_max_num_queries
):
    client.force_login(personas.staff_a)
    data = _form([], {"action": "voicemail"})
    data["rules-TOTAL_FORMS"] = "100000"

    with django_assert_max_num_queries(150):
        response = client.post(reverse("flow_edit", args=[number.code]), data)

    assert response.status_code == 400
    body = response.content.decode()
    assert "A call flow holds at most 30 rules" in body
    assert body.count('class="rule"') <= 31
    assert len(body) < 2_000_000
    with tenant_scope(personas.tenant_a):
        assert not CallFlow.objects.exists()


def test_it_refuses_a_note_over_its_limit_and_keeps_the_rules_typed(
    client, personas, number, assets
):
    client.force_login(personas.staff_a)
    data = _business_hours(assets)
    data["note"] = "n" * 201

    response = client.post(reverse("flow_edit", args=[number.code]), data)

    assert response.status_code == 400
    body = response.content.decode()
    assert "The note has 201 characters; at most 200 are allowed." in body
    assert 'value="Open"' in body  # the rules as typed, nothing lost
    with tenant_scope(personas.tenant_a):
        assert not CallFlow.objects.exists()


def test_it_shows_a_long_history_a_page_at_a_time(client, personas, number):
    client.force_login(personas.staff_a)
    url = reverse("flow_edit", args=[number.code])
    for index in range(55):
        data = _form([], {"action": "voicemail"}, note=f"save {index}")
        assert client.post(url, data).status_code == 302

    first = client.get(reverse("flow_history", args=[number.code])).content.decode()
    second = client.get(reverse("flow_history", args=[number.code]) + "?page=2").content.decode()

    assert first.count("data-version=") == 50 and 'data-version="55"' in first
    assert second.count("data-version=") == 5 and 'data-version="1"' in second
    assert "?page=2" in first


def test_it_keeps_every_version_shows_the_diff_and_restores(client, personas, number, assets):
    client.force_login(personas.staff_a)
    url = reverse("flow_edit", args=[number.code])
    client.post(url, _business_hours(assets))
    second = client.post(url, _form([], {"action": "voicemail"}, note="closed for renovation"))
    assert second.status_code == 302

    history = client.get(reverse("flow_history", args=[number.code])).content.decode()
    assert "closed for renovation" in history
    assert "-2. Open:" in history and "+Otherwise: take a voicemail<" in history

    with tenant_scope(personas.tenant_a):
        first = FlowVersion.objects.get(number=1)
    client.post(reverse("flow_restore", args=[number.code, first.code]))
    with tenant_scope(personas.tenant_a):
        flow = CallFlow.objects.get(subscription=number)
        assert flow.version == 3 and len(flow.document["rules"]) == 2
        actions = list(
            AuditEvent.objects.filter(action="callflow.save").values_list("actor", flat=True)
        )
    assert actions == [personas.staff_a.pk] * 3


def test_it_answers_an_override_until_it_ends_and_previews_any_moment(
    client, personas, number, assets, time_machine
):
    time_machine.move_to(datetime.datetime(2026, 11, 27, 10, 0, tzinfo=TOKYO))  # Friday
    client.force_login(personas.staff_a)
    client.post(reverse("flow_edit", args=[number.code]), _business_hours(assets))
    _audio, script = assets

    # "closed now until 9:00 tomorrow"
    client.post(
        reverse("flow_override", args=[number.code]),
        {
            "override-action": "say",
            "override-script": str(script.code),
            "override-until": "2026-11-28T09:00",
        },
    )
    action = f"/a/{number.action_token}/"
    assert edge_get(action, {"caller": "+819012345678"}).content.decode().startswith("say ja")

    # previews: a Friday evening and Monday 10:00 after the override
    preview = client.get(
        reverse("flow_preview", args=[number.code]),
        {"at": "2026-11-30T10:00", "caller": "0312345678"},
    ).content.decode()
    assert "transfer +81312345678" in preview
    preview = client.get(
        reverse("flow_preview", args=[number.code]), {"at": "2026-11-30T10:00", "caller": ""}
    ).content.decode()
    assert "Anonymous" in preview

    # the override ends by itself at 9:00
    time_machine.move_to(datetime.datetime(2026, 11, 30, 9, 30, tzinfo=TOKYO))
    published.forget_memory()
    line = edge_get(action, {"caller": "+819012345678"}).content.decode()
    assert grammar.parse(line) == grammar.Transfer("+81312345678")


def test_it_lets_a_viewer_see_but_not_save(client, personas, number, assets):
    client.force_login(personas.viewer_a)
    assert client.get(reverse("flow_edit", args=[number.code])).status_code == 200
    response = client.post(reverse("flow_edit", args=[number.code]), _business_hours(assets))
    assert response.status_code == 403
    with scopes_disabled():
        assert not CallFlow.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_places_a_test_call_through_the_sandbox_and_shows_the_transcript(
    client, personas, sandbox_url, settings, live_server, task_queue, xoxzo
):
    from dins.tests.test_lifecycle import _free_din, _subscribe

    client.force_login(personas.owner_a)
    number = _subscribe(client, task_queue, _free_din(xoxzo).din_uid, trial=False)
    script = make_script(personas.tenant_a, language="en", text="Thank you for calling.")
    client.post(
        reverse("flow_edit", args=[number.code]),
        _form([], {"action": "voicemail", "greeting": f"say:{script.code}"}),
    )

    response = client.post(
        reverse("flow_test_call", args=[number.code]), {"caller": "+819012345678"}
    )
    # the page does not wait for the call: it follows the queued test call
    assert response.status_code == 302
    following = client.get(response["Location"], headers={"HX-Request": "true"}).content.decode()
    assert 'data-test-call-status="queued"' in following and "hx-trigger" in following
    assert task_queue.run_all_named("dins.test_call") == 1

    body = client.get(response["Location"], headers={"HX-Request": "true"}).content.decode()
    assert 'data-test-call-outcome="voicemail"' in body
    assert "hx-trigger" not in body  # finished: the page stops asking
    assert "Thank you for calling." in body
    page = client.get(response["Location"]).content.decode()  # without the live update
    assert "Thank you for calling." in page


@pytest.mark.django_db(transaction=True)
def test_it_says_why_a_test_call_failed_when_the_carrier_is_unreachable(
    client, personas, settings, task_queue
):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    settings.XOXZO_API_URL = f"http://127.0.0.1:{_closed_port()}/sandbox"
    client.force_login(personas.staff_a)
    response = client.post(reverse("flow_test_call", args=[number.code]), {"caller": ""})
    task_queue.run_all_named("dins.test_call")
    body = client.get(response["Location"], headers={"HX-Request": "true"}).content.decode()
    assert 'data-test-call-status="failed"' in body
    assert "The carrier is unavailable right now" in body


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
