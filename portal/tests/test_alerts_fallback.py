"""Calls answered by the fallback raise an alert when the call log is written, never on the call."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from callflows.edge import call_log, runtime
from callflows.models import CallLog
from dins.tests.factories import SubscriptionFactory
from portal.models import Alert, AlertKind
from portal.scoping import scopes_disabled


@pytest.fixture
def broken_flows(monkeypatch):
    """Evaluating any flow raises: every call is answered by the fallback."""

    def broken(*args, **kwargs):
        raise RuntimeError("a rule the evaluator cannot handle")

    monkeypatch.setattr(runtime, "evaluate", broken)


def _alerts():
    with scopes_disabled():
        return list(
            Alert.objects.order_by("id").values_list("tenant_id", "kind", "number_id", "context")
        )


def test_it_raises_one_alert_per_number_from_a_flushed_batch(
    personas, broken_flows, task_queue, django_capture_on_commit_callbacks
):
    # given three fallback answers for a number of A, one for a number of B
    number_a = SubscriptionFactory(tenant=personas.tenant_a)
    number_b = SubscriptionFactory(tenant=personas.tenant_b)
    for _ in range(3):
        assert runtime.answer(number_a.action_token, "+819012345678", "").source == "fallback"
    runtime.answer(number_b.action_token, "", "")

    # when the call log is written
    with django_capture_on_commit_callbacks(execute=True):
        assert call_log.call_log_buffer.flush() == 4

    # then each number has one alert in its own tenant, and its e-mail is on its way
    assert _alerts() == [
        (
            personas.tenant_a.pk,
            AlertKind.ACTION_URL_FALLBACK,
            number_a.pk,
            {"calls": 3, "number": number_a.e164},
        ),
        (
            personas.tenant_b.pk,
            AlertKind.ACTION_URL_FALLBACK,
            number_b.pk,
            {"calls": 1, "number": number_b.e164},
        ),
    ]
    assert task_queue.names() == ["portal.send_alert_email"] * 2


def test_it_writes_nothing_to_the_database_while_answering_from_the_fallback(
    personas, broken_flows
):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    runtime.answer(number.action_token, "", "")  # loads the flow into this process

    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            assert runtime.answer(number.action_token, "", "").source == "fallback"

    assert [q["sql"] for q in queries] == []
    assert _alerts() == []  # nothing until the writer flushes


def test_it_does_not_repeat_the_alert_for_a_number_within_the_hour(personas, broken_flows):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    runtime.answer(number.action_token, "", "")
    call_log.call_log_buffer.flush()
    runtime.answer(number.action_token, "", "")
    call_log.call_log_buffer.flush()

    assert len(_alerts()) == 1
    with scopes_disabled():
        assert CallLog.objects.filter(source="fallback").count() == 2


def test_it_raises_nothing_for_calls_the_flow_answered(personas):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    assert runtime.answer(number.action_token, "", "").source == "flow"
    assert call_log.call_log_buffer.flush() == 1
    assert _alerts() == []


def test_it_keeps_writing_the_call_log_when_alerting_fails(personas, broken_flows, monkeypatch):
    def failing(**kwargs):
        raise RuntimeError("alerting is broken")

    monkeypatch.setattr(call_log, "alert_raise_for_fallback_calls", failing)
    number = SubscriptionFactory(tenant=personas.tenant_a)
    runtime.answer(number.action_token, "", "")

    assert call_log.call_log_buffer.flush() == 1
    assert call_log.call_log_buffer.pending() == 0
