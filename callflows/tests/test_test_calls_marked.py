"""Test calls are marked as tests: in the call log (shown, filterable, out of figures) and in
webhooks (``"test": true``). Only the portal's signed, unexpired mark of the number's own
company counts; anything else is a caller's call."""

import time

import pytest
from django.urls import reverse

from api.receivers import _calls_logged
from callflows.calllog import selectors as calllog
from callflows.calllog.rollup import call_days_catch_up
from callflows.edge import call_log
from callflows.models import CallLog
from dins import call_marks
from dins.subscriptions.common import action_url_for
from dins.tests.factories import SubscriptionFactory
from portal.scoping import scopes_disabled, tenant_scope
from sandbox import accounts, subscriptions
from sandbox.models import SandboxDin
from testing.scaffolding import edge_get


def _ring(token: str, mark: str | None = None, caller: str = "+819012345678") -> str:
    params = {"caller": caller, "recipient": "815000000000"}
    if mark is not None:
        params[call_marks.PARAM] = mark
    response = edge_get(f"/a/{token}/", params)
    assert response.status_code == 200
    return response.content.decode()


def _logged() -> list[CallLog]:
    call_log.call_log_buffer.flush()
    with scopes_disabled():
        return list(CallLog.objects.order_by("id"))


def test_a_valid_mark_is_recognised_and_nothing_else(personas):
    tenant = personas.tenant_a.pk
    mark = call_marks.mark_for_test_call(tenant)
    assert call_marks.marks_test_call(mark, tenant)
    assert not call_marks.marks_test_call(mark, personas.tenant_b.pk)  # another company's
    forged = mark[:-1] + ("1" if mark[-1] == "0" else "0")
    assert not call_marks.marks_test_call(forged, tenant)
    expired = call_marks.mark_for_test_call(tenant, now=time.time() - 3600)
    assert not call_marks.marks_test_call(expired, tenant)
    assert not call_marks.marks_test_call("", tenant)
    assert not call_marks.marks_test_call("x" * 500, tenant)


def test_the_edge_logs_a_marked_call_as_a_test_and_answers_it_alike(personas):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    mark = call_marks.mark_for_test_call(personas.tenant_a.pk)
    other = call_marks.mark_for_test_call(personas.tenant_b.pk)

    answers = [
        _ring(number.action_token),
        _ring(number.action_token, mark),
        _ring(number.action_token, other),
        _ring(number.action_token, "forged.1.abc"),
    ]

    assert len(set(answers)) == 1  # the mark never changes the answer
    assert [row.is_test for row in _logged()] == [False, True, False, False]


def test_tests_are_listed_and_filterable_but_left_out_of_the_figures(personas, client):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    mark = call_marks.mark_for_test_call(personas.tenant_a.pk)
    _ring(number.action_token, caller="+819011110000")
    _ring(number.action_token, mark, caller="+819022220000")
    _ring(number.action_token, mark, caller="+819033330000")
    _logged()
    call_days_catch_up(settle_seconds=0)  # the worker counts the figures (calllog.rollup)

    with tenant_scope(personas.tenant_a):
        assert calllog.calls_today_figures()["total"] == 1
        assert sum(day.count for day in calllog.call_counts_per_day()) == 1
        assert calllog.call_log_list(kind="tests").count() == 2
        assert calllog.call_log_list(kind="callers").count() == 1
        assert calllog.call_log_list().count() == 3

    client.force_login(personas.owner_a)
    everything = client.get(reverse("call_log")).content.decode()
    tests = client.get(reverse("call_log"), {"kind": "tests"}).content.decode()
    callers = client.get(reverse("call_log"), {"kind": "callers"}).content.decode()
    assert everything.count("data-test-call") == 2
    assert tests.count("data-test-call") == 2 and "9011110000" not in tests.replace("-", "")
    assert "data-test-call" not in callers


def test_webhooks_say_whether_a_call_was_a_test(personas, monkeypatch):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    sent = []
    monkeypatch.setattr("api.receivers.webhook_listeners", lambda event: {personas.tenant_a.pk})
    monkeypatch.setattr("api.receivers.webhook_emit_many", sent.extend)
    _ring(number.action_token)
    _ring(number.action_token, call_marks.mark_for_test_call(personas.tenant_a.pk))
    with call_log.call_log_buffer._lock:
        batch = list(call_log.call_log_buffer._entries)

    _calls_logged(sender=CallLog, calls=batch)

    assert [data["test"] for _tenant, _event, data in sent] == [False, True]


@pytest.mark.django_db(transaction=True)
def test_a_test_call_from_the_flow_page_is_logged_as_a_test(
    personas, client, sandbox_url, task_queue
):
    """The whole way: the page, the worker, the sandbox server, the edge server."""
    number = SubscriptionFactory(tenant=personas.tenant_a)
    # the sandbox holds the number and calls the edge at its action URL
    subscriptions.sandbox_inventory_ensure()
    account = accounts.sandbox_account_get_or_create(sid="SANDBOXTESTSID000000000000000001")
    din = SandboxDin.objects.filter(din__startswith="8150").first()
    held = subscriptions.sandbox_subscription_create(account=account, din_uid=din.din_uid)
    held.action_url = action_url_for(number)
    held.save(update_fields=["action_url"])
    with scopes_disabled():
        type(number).objects.filter(pk=number.pk).update(din=din.din, din_uid=din.din_uid)

    client.force_login(personas.staff_a)
    client.post(reverse("flow_test_call", args=[number.code]), {"caller": "090-1234-5678"})
    task_queue.run_all()

    rows = _logged()
    assert len(rows) == 1 and rows[0].is_test
