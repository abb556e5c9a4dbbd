"""Publishing is the one owner of compiled flows: every change that alters an answer publishes,
published flows run out and are recompiled before they do, and the edge reads only them."""

import datetime

import pytest
from django.urls import reverse

from callflows.edge import call_log, published, runtime
from callflows.flows import publishing
from callflows.flows.compiler import COMPILER_VERSION
from callflows.models import PublishedFlow
from callflows.tests.factories import published_compiled
from dins.models import Subscription, SubscriptionStatus
from dins.subscriptions.request import subscription_rotate_token
from dins.tests.factories import SubscriptionFactory
from portal.scoping import scopes_disabled, tenant_scope
from portal.services import tenant_update as _tenant_update
from testing.scaffolding import edge_get

TOKYO = datetime.timezone(datetime.timedelta(hours=9))
OPEN_9_TO_18 = {
    "rules": [
        {
            "label": "Open",
            "when": {
                "type": "hours",
                "weekdays": [0, 1, 2, 3, 4],
                "start": "09:00",
                "end": "18:00",
            },
            "then": {"type": "transfer", "number": "+81312345678"},
        }
    ],
    "default": {"type": "voicemail", "greeting": None},
}


@pytest.fixture
def number(personas):
    return SubscriptionFactory(tenant=personas.tenant_a)


def _save(number, personas, document):
    from callflows.flows.services import flow_save

    with tenant_scope(personas.tenant_a):
        flow_save(subscription=number, document=document, by=personas.owner_a)


def tenant_update(*, tenant, **values):
    with tenant_scope(tenant):  # as the settings page calls it
        _tenant_update(tenant=tenant, **values)


def _row(number) -> PublishedFlow:
    with scopes_disabled():
        return PublishedFlow.objects.get(token=number.action_token)


def _call(number) -> str:
    published.forget_memory()  # what every edge process holds after the watcher's next look
    return edge_get(f"/a/{number.action_token}/", {"caller": "+819012345678"}).content.decode()


def test_an_active_number_is_published_with_an_expiry_and_the_compilers_version(number):
    row = _row(number)
    assert row.compiled["subscription_id"] == number.pk
    assert row.compiler_version == COMPILER_VERSION
    lifetime = row.expires_at - row.updated_at
    assert datetime.timedelta(days=30) <= lifetime <= datetime.timedelta(days=31)
    assert row.compiled["expires"] == row.expires_at.timestamp()


def test_a_time_zone_change_publishes_every_number_of_the_company(number, personas, time_machine):
    time_machine.move_to(datetime.datetime(2026, 11, 27, 10, 0, tzinfo=TOKYO))  # Friday 10:00
    other = SubscriptionFactory(tenant=personas.tenant_a)
    _save(number, personas, OPEN_9_TO_18)
    assert _call(number) == "transfer +81312345678\n"
    stamps = {_row(number).stamp, _row(other).stamp}

    # when the company moves to London (01:00 there): outside its hours
    tenant_update(tenant=personas.tenant_a, request=None, timezone="Europe/London")

    assert _call(number) == "voicemail\n"
    assert not stamps & {_row(number).stamp, _row(other).stamp}  # both published again


def test_a_change_that_alters_no_answer_publishes_nothing(number, personas):
    stamp = _row(number).stamp
    tenant_update(tenant=personas.tenant_a, request=None, name="Alpha Dental")
    assert _row(number).stamp == stamp


def test_turning_transfers_abroad_off_makes_the_flow_answer_the_fallback_at_once(
    number, personas, time_machine
):
    time_machine.move_to(datetime.datetime(2026, 11, 27, 10, 0, tzinfo=TOKYO))
    tenant_update(tenant=personas.tenant_a, request=None, allow_international_transfer=True)
    abroad = {**OPEN_9_TO_18, "rules": [{**OPEN_9_TO_18["rules"][0]}]}
    abroad["rules"][0]["then"] = {"type": "transfer", "number": "+12125550100"}
    _save(number, personas, abroad)
    assert _call(number) == "transfer +12125550100\n"

    tenant_update(tenant=personas.tenant_a, request=None, allow_international_transfer=False)

    assert _call(number) == "voicemail\n"
    row = _row(number)
    assert row.problems and row.problems[0]["where"] == "rules[0].then"
    # counted as a fallback answer, so the company is alerted (the call-log writer)
    call_log.call_log_buffer.clear()
    runtime.answer(number.action_token, "+819012345678", None)
    assert call_log.call_log_buffer._entries[-1]["source"] == "fallback"


def test_a_release_and_a_new_token_withdraw_what_the_old_token_answered(number, personas):
    old_token = number.action_token
    client_response = edge_get(f"/a/{old_token}/")
    assert client_response.status_code == 200
    with tenant_scope(personas.tenant_a):
        subscription_rotate_token(subscription=number, request=None)
    published.forget_memory()
    assert edge_get(f"/a/{old_token}/").status_code == 404
    assert edge_get(f"/a/{number.action_token}/").status_code == 200
    with scopes_disabled():
        Subscription.objects.filter(pk=number.pk).update(status=SubscriptionStatus.RELEASED)
    publishing.flow_publish(subscription=number)
    published.forget_memory()
    assert edge_get(f"/a/{number.action_token}/").status_code == 404


def test_holidays_are_compiled_far_beyond_the_expiry_and_republished_before_it(
    number, personas, time_machine
):
    holiday_flow = {
        "rules": [{"label": "Closed", "when": {"type": "holiday"}, "then": {"type": "voicemail"}}],
        "default": {"type": "transfer", "number": "+81312345678"},
    }
    time_machine.move_to(datetime.datetime(2026, 12, 1, 12, 0, tzinfo=TOKYO))
    _save(number, personas, holiday_flow)
    dates = set(published_compiled(number.action_token)["rules"][0]["when"]["dates"])
    assert "2027-01-01" in dates and "2027-11-23" in dates  # a year of holidays ahead
    first = _row(number)

    # three weeks later nothing runs out yet
    time_machine.move_to(datetime.datetime(2026, 12, 22, 12, 0, tzinfo=TOKYO))
    assert publishing.flows_republish_due()["republished"] == 0

    # within a week of the expiry, the hourly task recompiles it around the new day
    time_machine.move_to(first.expires_at - datetime.timedelta(days=6))
    result = publishing.flows_republish_due()
    assert result["republished"] == 1
    again = _row(number)
    assert again.stamp != first.stamp and again.expires_at > first.expires_at
    assert "2028-01-01" in set(again.compiled["rules"][0]["when"]["dates"])


def test_flows_compiled_by_an_older_release_are_recompiled_at_the_next_deployment(number):
    with scopes_disabled():
        PublishedFlow.objects.filter(token=number.action_token).update(compiler_version=1)
    assert publishing.flows_republish_due()["republished"] == 1
    assert _row(number).compiler_version == COMPILER_VERSION


def test_an_active_number_left_unpublished_is_published_by_the_safety_net(personas):
    number = SubscriptionFactory(tenant=personas.tenant_a, published=False)
    assert published_compiled(number.action_token) is None
    assert edge_get(f"/a/{number.action_token}/").status_code == 404
    assert publishing.flows_republish_due()["published"] == 1
    published.forget_memory()
    assert edge_get(f"/a/{number.action_token}/").content == b"voicemail\n"


def test_old_tombstones_are_pruned_after_every_edge_process_saw_them(number, time_machine):
    with scopes_disabled():
        Subscription.objects.filter(pk=number.pk).update(status=SubscriptionStatus.RELEASED)
    publishing.flow_publish(subscription=number)
    assert published_compiled(number.action_token) is None
    with scopes_disabled():
        assert PublishedFlow.objects.filter(token=number.action_token).exists()
    time_machine.move_to(datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2))
    assert publishing.flows_republish_due()["pruned"] == 1


def test_saving_a_flow_in_the_editor_publishes_it(client, personas, number):
    stamp = _row(number).stamp
    client.force_login(personas.staff_a)
    data = {
        "rules-TOTAL_FORMS": "0",
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "30",
        "default-action": "transfer",
        "default-number": "03-1234-5678",
        "edit": "save",
    }
    assert client.post(reverse("flow_edit", args=[number.code]), data).status_code == 302
    assert _row(number).stamp != stamp
    assert _call(number) == "transfer +81312345678\n"
