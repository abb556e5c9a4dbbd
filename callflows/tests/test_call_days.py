"""The call log's daily counts: kept from the writer's batches, the same as counting the log."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from callflows.calllog import rollup
from callflows.calllog import selectors as calllog
from callflows.edge.call_log import CallLogBuffer
from callflows.edge.journal import Journal
from callflows.flows.rules import Answer, caller_digits
from callflows.models import CallDay, CallDayProgress, CallLog, NumberCallDay
from dins.tests.factories import SubscriptionFactory
from portal.scoping import scopes_disabled, tenant_scope
from portal.services import tenant_update

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
NOW = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=TOKYO)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def buffer(tmp_path):
    """A call-log writer of the test's own, flushed by hand, its journal in a scratch folder."""
    return CallLogBuffer(background=False, journal=Journal(tmp_path, max_bytes=10**6))


@pytest.fixture
def numbers(personas):
    return {
        "front": SubscriptionFactory(tenant=personas.tenant_a),
        "sales": SubscriptionFactory(tenant=personas.tenant_a),
        "beta": SubscriptionFactory(tenant=personas.tenant_b),
    }


def answer(buffer, number, *, at, caller="+819012345678", rule="Open", source="flow", test=False):
    buffer.append(
        {"tenant_id": number.tenant_id, "subscription_id": number.pk, "version": 1},
        token=number.action_token,
        at=at,
        caller=caller_digits(caller),  # as the runtime hands it over
        recipient=number.din,
        answer=Answer(command="say|ja|x", rule=rule, source=source),
        latency_us=300,
        is_test=test,
    )


def counts(model, **filters) -> set[tuple]:
    with scopes_disabled():
        return set(
            model.objects.filter(**filters).values_list(
                "day", "rule", "source", "anonymous", "calls"
            )
        )


def tokyo(day, hour, minute=0):
    return datetime.datetime(2026, 3, day, hour, minute, tzinfo=TOKYO)


def test_it_counts_the_logged_calls_by_company_day_rule_and_source(personas, numbers, buffer):
    # given calls answered on the edge and written by the call-log writer
    answer(buffer, numbers["front"], at=tokyo(10, 0, 30))  # the 10th in Tokyo, the 9th in UTC
    answer(buffer, numbers["front"], at=tokyo(10, 9))
    answer(buffer, numbers["sales"], at=tokyo(10, 9), caller="anonymous", rule="Closed")
    answer(buffer, numbers["sales"], at=tokyo(10, 9), test=True)  # a test call: no figure
    answer(buffer, numbers["beta"], at=tokyo(9, 23), source="fallback", rule="fallback")
    assert buffer.flush() == 5
    assert counts(CallDay) == set()  # the edge counts nothing: the worker does

    # when the worker's task runs, and again later
    assert rollup.call_days_catch_up(settle_seconds=0) == 5
    answer(buffer, numbers["front"], at=tokyo(10, 11))
    buffer.flush()
    assert rollup.call_days_catch_up(settle_seconds=0) == 1
    assert rollup.call_days_catch_up(settle_seconds=0) == 0  # nothing counted twice

    # then each company's days hold its callers' calls, and each number's its own
    day9, day10 = datetime.date(2026, 3, 9), datetime.date(2026, 3, 10)
    assert counts(CallDay, tenant=personas.tenant_a) == {
        (day10, "Open", "flow", False, 3),
        (day10, "Closed", "flow", True, 1),
    }
    assert counts(CallDay, tenant=personas.tenant_b) == {(day9, "fallback", "fallback", False, 1)}
    assert counts(NumberCallDay, subscription=numbers["front"]) == {
        (day10, "Open", "flow", False, 3)
    }
    assert counts(NumberCallDay, subscription=numbers["sales"]) == {
        (day10, "Closed", "flow", True, 1)
    }


def test_it_leaves_calls_being_written_for_its_next_run(personas, numbers, buffer):
    answer(buffer, numbers["front"], at=tokyo(10, 9))
    buffer.flush()

    assert rollup.call_days_catch_up() == 0  # written this second: maybe not all committed
    later = NOW + datetime.timedelta(seconds=rollup.SETTLE_SECONDS + 1)
    assert rollup.call_days_catch_up(now=later) == 1


def test_it_reads_the_new_calls_in_the_same_queries_however_many(personas, numbers, buffer):
    queries = []
    for calls in (3, 400):
        for n in range(calls):
            number = (numbers["front"], numbers["sales"], numbers["beta"])[n % 3]
            caller = "anonymous" if n % 7 == 0 else f"+8190{n:08d}"
            answer(buffer, number, at=tokyo(1 + n % 9, n % 24), caller=caller, rule=f"R{n % 6}")
        buffer.flush()
        with CaptureQueriesContext(connection) as captured:
            assert rollup.call_days_catch_up(settle_seconds=0) == calls
        queries.append(len(captured))

    assert queries[0] == queries[1], queries
    with scopes_disabled():
        assert sum(CallDay.objects.values_list("calls", flat=True)) == 403
        assert sum(NumberCallDay.objects.values_list("calls", flat=True)) == 403


def test_its_counts_are_what_counting_the_log_gives(personas, numbers, buffer):
    # given a month of calls, some anonymous, some tests, counted as they came
    for n in range(300):
        number = numbers["front"] if n % 3 else numbers["sales"]
        at = NOW - datetime.timedelta(hours=n * 2.3)
        caller = "anonymous" if n % 5 == 0 else f"+8190{n:08d}"
        answer(buffer, number, at=at, caller=caller, rule=f"R{n % 4}", test=n % 17 == 0)
        if n % 50 == 0:
            buffer.flush()
            rollup.call_days_catch_up(settle_seconds=0)
    buffer.flush()
    rollup.call_days_catch_up(settle_seconds=0)
    kept = counts(CallDay, tenant=personas.tenant_a)
    kept_numbers = counts(NumberCallDay, tenant=personas.tenant_a)

    # when they are counted again from the log itself
    rollup.call_days_rebuild(tenant=personas.tenant_a)

    # then nothing changes
    assert counts(CallDay, tenant=personas.tenant_a) == kept
    assert counts(NumberCallDay, tenant=personas.tenant_a) == kept_numbers
    with tenant_scope(personas.tenant_a):
        callers = CallLog.objects.filter(is_test=False).count()
        chart = calllog.call_counts_per_day(days=40)
    assert sum(d.count for d in chart) == callers


def test_the_hourly_recount_mends_calls_passed_over(personas, numbers, buffer):
    # given a call whose write was held up until after the task had moved past it
    answer(buffer, numbers["front"], at=tokyo(10, 9))
    answer(buffer, numbers["front"], at=tokyo(9, 10))
    buffer.flush()
    with scopes_disabled():
        last = CallLog.objects.order_by("pk").last().pk
    CallDayProgress.objects.update_or_create(pk=1, defaults={"counted_to": last})
    with tenant_scope(personas.tenant_a):
        assert calllog.calls_today_figures()["total"] == 0

    # when the hourly recount runs
    recounted = rollup.call_days_recount()

    # then today and yesterday are right again
    assert recounted == 1
    with tenant_scope(personas.tenant_a):
        assert calllog.calls_today_figures()["total"] == 1
        per_day = {d.day.day: d.count for d in calllog.call_counts_per_day() if d.count}
    assert per_day == {9: 1, 10: 1}


def test_a_new_time_zone_counts_the_companys_days_again(
    personas, numbers, buffer, task_queue, rf, django_capture_on_commit_callbacks
):
    # given calls at 02:00 in Tokyo: the day before in New York
    answer(buffer, numbers["front"], at=tokyo(10, 2))
    buffer.flush()
    rollup.call_days_catch_up(settle_seconds=0)
    request = rf.post("/settings/")
    request.user = personas.owner_a

    # when the company moves to New York
    with tenant_scope(personas.tenant_a), django_capture_on_commit_callbacks(execute=True):
        tenant_update(tenant=personas.tenant_a, request=request, timezone="America/New_York")
    ran = task_queue.run_all_named("callflows.call_days_rebuild")

    # then its counts are in New York days
    assert ran == 1
    assert counts(CallDay, tenant=personas.tenant_a) == {
        (datetime.date(2026, 3, 9), "Open", "flow", False, 1)
    }
