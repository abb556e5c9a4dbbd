"""Outbound calls moved from dins to callflows (the migrations 0009 of dins, 0010 of callflows):
the calls already placed, their table and their content type come along, nothing rewritten."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("dins", "0008_month_costs"), ("callflows", "0009_merge_call_days")]
AFTER = [("dins", "0009_outbound_call_to_callflows"), ("callflows", "0010_outbound_call_from_dins")]


@pytest.fixture
def targets():
    """dins and callflows before and after the move, every other app at its latest; the
    database goes back to the latest of everything afterwards, passed or failed."""
    executor = MigrationExecutor(connection)
    moved = {app for app, _name in BEFORE}
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] not in moved]
    yield [*BEFORE, *others], [*AFTER, *others]
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_calls_placed_before_the_move_are_the_calls_after_it(targets):
    before, after = targets
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    tenant = old.get_model("portal", "Tenant").objects.create(name="Harbor")
    number = old.get_model("dins", "Subscription").objects.create(
        tenant=tenant,
        din_uid="uid-1",
        din="81501234567",
        country_code="JP",
        prefix="50",
        monthly_cost=Decimal("650"),
        minute_cost=Decimal("15"),
        trial_price=Decimal("32.50"),
        status="active",
    )
    placed = old.get_model("dins", "OutboundCall").objects.create(
        tenant=tenant,
        subscription=number,
        recipient="+818012345678",
        message_kind="text",
        tts_text="こんにちは",
        tts_lang="ja",
        estimated_minute_cost=Decimal("15"),
        status="answered",
        callid="call-1",
        duration=61,
        cost=Decimal("30.00"),
    )
    content_types = old.get_model("contenttypes", "ContentType")
    content_types.objects.get_or_create(app_label="dins", model="outboundcall")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    call = new.get_model("callflows", "OutboundCall").objects.get()

    assert (call.pk, call.code, call.callback_token) == (
        placed.pk,
        placed.code,
        placed.callback_token,
    )
    assert (call.subscription_id, call.status, call.cost) == (number.pk, "answered", Decimal("30"))
    assert new.get_model("callflows", "OutboundCall")._meta.db_table == "dins_outboundcall"
    moved = new.get_model("contenttypes", "ContentType").objects.filter(model="outboundcall")
    assert list(moved.values_list("app_label", flat=True)) == ["callflows"]
