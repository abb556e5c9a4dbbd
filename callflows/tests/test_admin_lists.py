"""Operators' changelists of the tables that grow with every company: the same queries at any
size, rows shown, the call log searched by caller through its indexes."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from callflows.models import CallFlow, CallLog, FlowVersion
from dins.tests.factories import SubscriptionFactory
from portal.models import Alert, AlertKind, User
from portal.scoping import scopes_disabled


@pytest.fixture
def operator(client, db):
    user = User.objects.create_superuser(email="operator@example.com", password="x" * 20)
    client.force_login(user)
    return user


def _grow(personas, count: int) -> None:
    """``count`` more calls, flow versions and alerts, in both companies."""
    now = timezone.now()
    with scopes_disabled():
        for n in range(count):
            tenant = personas.tenant_a if n % 2 else personas.tenant_b
            number = SubscriptionFactory(tenant=tenant, published=False)
            flow = CallFlow.objects.create(tenant=tenant, subscription=number, document={})
            FlowVersion.objects.create(tenant=tenant, flow=flow, number=1, document={})
            Alert.objects.create(
                tenant=tenant,
                kind=AlertKind.ACTION_URL_FALLBACK,
                number_id=number.pk,
                number_code=number.code,
                dedup_key=f"k{number.pk}",
            )
            CallLog.objects.bulk_create(
                CallLog(
                    tenant=tenant,
                    subscription=number,
                    at=now - datetime.timedelta(minutes=n * 7 + m),
                    caller=f"81901234{n:02d}{m:02d}",
                    recipient=number.din,
                    rule="Open",
                    command="say|ja|x",
                    source="flow",
                    latency_us=100,
                )
                for m in range(5)
            )


CHANGELISTS = [
    "admin:callflows_calllog_changelist",
    "admin:callflows_flowversion_changelist",
    "admin:portal_alert_changelist",
    "admin:portal_auditevent_changelist",
    "admin:callflows_outboundcall_changelist",
]


@pytest.mark.parametrize("name", CHANGELISTS)
def test_a_changelist_makes_the_same_queries_for_few_rows_and_many(
    client, personas, operator, name
):
    counts = []
    for size in (3, 40):
        _grow(personas, size)
        client.get(reverse(name))
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse(name))
        assert response.status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1] <= 12, counts


def test_the_call_log_changelist_shows_the_calls_newest_first_without_counting_them_all(
    client, personas, operator
):
    _grow(personas, 6)

    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("admin:callflows_calllog_changelist")).content.decode()

    assert page.count('class="field-at') == 30
    sql = " ".join(q["sql"] for q in queries if "callflows_calllog" in q["sql"])
    assert "LIMIT 10000" in sql  # the count stops at the cap
    assert "DISTINCT" not in sql  # no filter reads every row for its choices


def test_the_call_log_is_searched_by_the_callers_last_digits_or_start(client, personas, operator):
    _grow(personas, 6)
    url = reverse("admin:callflows_calllog_changelist")

    by_end = client.get(url, {"q": "0302"}).content.decode()
    by_start = client.get(url, {"q": "090-1234-0001"}).content.decode()
    nothing = client.get(url, {"q": "abc"}).content.decode()

    assert by_end.count('class="field-at') == 1 and "819012340302" in by_end
    assert by_start.count('class="field-at') == 1 and "819012340001" in by_start
    assert nothing.count('class="field-at') == 0
