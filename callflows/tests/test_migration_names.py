"""Migration 0006 gives existing names their key; duplicates a person could not tell apart get a
number so the unique constraint of 0007 holds and nothing is lost."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def targets():
    """Callflows before and after the names' migrations, every other app at its latest (its
    tables are as they are now, whatever callflows' migrations depend on); the database goes
    back to the latest of everything afterwards, passed or failed."""
    executor = MigrationExecutor(connection)
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "callflows"]
    yield (
        [("callflows", "0005_audio_upload"), *others],
        [("callflows", "0007_unique_name_constraints"), *others],
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_existing_duplicates_are_numbered_and_keyed(targets):
    before, after = targets
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    Tenant = old.get_model("portal", "Tenant")
    CallerList = old.get_model("callflows", "CallerList")
    first, second = Tenant.objects.create(name="A"), Tenant.objects.create(name="B")
    for tenant, name in [
        (first, "VIP"),
        (first, "\uff36\uff29\uff30"),
        (first, "vip "),
        (second, "VIP"),
    ]:
        CallerList.objects.create(tenant=tenant, name=name, numbers=[])

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    rows = new.get_model("callflows", "CallerList").objects.order_by("id")

    assert [(row.tenant_id, row.name, row.name_key) for row in rows] == [
        (first.pk, "VIP", "vip"),
        (first.pk, "\uff36\uff29\uff30 (2)", "vip (2)"),
        (first.pk, "vip  (3)", "vip (3)"),
        (second.pk, "VIP", "vip"),
    ]
