"""The outbound rate limit under concurrent clicks, on real connections (PostgreSQL locks)."""

import threading

import pytest
from django.db import connection

from callflows.models import OutboundCall
from callflows.outbound import services as outbound
from dins.tests.factories import SubscriptionFactory
from portal.scoping import scopes_disabled, tenant_scope

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row locks need PostgreSQL (CI runs it); SQLite serialises whole transactions",
    ),
]


def test_it_never_lets_concurrent_requests_past_the_rate_limit(personas, settings, task_queue):
    settings.OUTBOUND_RATE_LIMIT_PER_MINUTE = 3
    number = SubscriptionFactory(tenant=personas.tenant_a)
    clicks = 8
    barrier = threading.Barrier(clicks)
    outcomes = []

    def click():
        barrier.wait()
        try:
            with tenant_scope(personas.tenant_a):
                outbound.outbound_call_request(
                    subscription=number,
                    order=outbound.CallOrder(
                        recipient="+818012345678",
                        message_kind="text",
                        text="テストです。",
                        tts_lang="ja",
                    ),
                    by=personas.staff_a,
                )
            outcomes.append("placed")
        except outbound.OutboundLimitReached:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(clicks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["placed"] * 3 + ["refused"] * 5
    with scopes_disabled():
        assert OutboundCall.objects.count() == 3
