"""Migration 0013 turns an alert's foreign key to its number into the number's id and code:
every alert keeps its number, and back again."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("portal", "0012_merge_alerts_paged")
AFTER = ("portal", "0013_alert_names_its_number")


@pytest.fixture
def targets():
    """portal before and after, every other app at its latest; the database goes back to the
    latest of everything afterwards, passed or failed."""
    executor = MigrationExecutor(connection)
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "portal"]
    yield [BEFORE, *others], [AFTER, *others]
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _number(apps, tenant, din):
    return apps.get_model("dins", "Subscription").objects.create(
        tenant=tenant,
        din_uid=f"uid-{din}",
        din=din,
        country_code="81",
        prefix="50",
        monthly_cost=Decimal("650"),
        minute_cost=Decimal("15"),
        trial_price=Decimal("32.50"),
        status="active",
    )


def test_every_alert_keeps_its_number_and_back(targets):
    before, after = targets
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    tenant = old.get_model("portal", "Tenant").objects.create(name="Harbor")
    first, second = _number(old, tenant, "81501111111"), _number(old, tenant, "81502222222")
    Alert = old.get_model("portal", "Alert")
    for n, number in enumerate([first, second, None]):
        Alert.objects.create(tenant=tenant, kind="trial_reminder", subscription=number, dedup_key=n)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    rows = new.get_model("portal", "Alert").objects.order_by("id")

    assert [(row.number_id, row.number_code) for row in rows] == [
        (first.pk, first.code),
        (second.pk, second.code),
        (None, None),
    ]

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(before)
    back = executor.loader.project_state(before).apps
    rows = back.get_model("portal", "Alert").objects.order_by("id")
    assert [row.subscription_id for row in rows] == [first.pk, second.pk, None]
