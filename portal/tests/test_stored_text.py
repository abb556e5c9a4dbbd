"""Text is text wherever it is stored: the guard at the database's door refuses NUL and lone
surrogates on every write path, and the repair migration mends rows stored before it."""

import importlib
import json
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection, transaction
from django.utils import timezone

from callflows.flows.services import flow_save
from callflows.models import CallFlow, CallLog, FlowVersion, TtsScript
from dins.tests.factories import SubscriptionFactory
from portal.models import AuditEvent, Tenant
from portal.scoping import scopes_disabled, tenant_scope
from portal.text import UnstorableText, repaired, text_problem

BAD = ["a\x00b", "x\udfffy", "\ud800"]


@pytest.mark.parametrize("value", BAD)
def test_save_refuses_what_the_database_cannot_hold_and_writes_nothing(personas, value):
    tenant = personas.tenant_a
    tenant.name = value
    with pytest.raises(UnstorableText) as refused, transaction.atomic():
        tenant.save()
    assert "Tenant.name" in str(refused.value)
    assert Tenant.objects.get(pk=tenant.pk).name == "Alpha Clinic"


@pytest.mark.parametrize("value", BAD)
def test_update_bulk_create_and_json_are_guarded_too(personas, value):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    with tenant_scope(personas.tenant_a):
        with pytest.raises(UnstorableText), transaction.atomic():
            TtsScript.objects.filter(pk=0).update(name=value)
        with pytest.raises(UnstorableText), transaction.atomic():
            CallLog.objects.bulk_create(
                [
                    CallLog(
                        tenant=personas.tenant_a,
                        subscription=number,
                        at=timezone.now(),
                        rule=value,
                        command="voicemail",
                        source="flow",
                        latency_us=1,
                    )
                ]
            )
        with pytest.raises(UnstorableText) as refused, transaction.atomic():
            AuditEvent.objects.create(
                tenant=personas.tenant_a, action="x", object_type="y", after={"r": [{"l": value}]}
            )
        assert refused.value.where == ".r[0].l"
        with pytest.raises(UnstorableText), transaction.atomic():
            AuditEvent.objects.create(
                tenant=personas.tenant_a, action="x", object_type="y", after={value: 1}
            )
        assert CallLog.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_a_service_called_from_a_task_cannot_store_it_either(in_tenant_a):
    from callflows.assets.scripts import script_create

    with pytest.raises(UnstorableText), transaction.atomic():
        script_create(name="ok\udfff", language="en", text="Hello", request=None)
    assert TtsScript.objects.count() == 0


def test_words_for_what_is_not_text():
    assert text_problem("営業時間 9:00〜18:00") is None
    assert text_problem("two\nlines") and text_problem("two\nlines", multiline=True) is None
    assert "NUL" in text_problem("a\x00")
    assert "surrogate" in text_problem("a\udfff")
    assert "U+0007" in text_problem("a\x07")
    assert "U+0085" in text_problem("a\x85")  # C1 controls too
    assert repaired({"a\x00": ["x\udfffy", 1, None]}) == {"a": ["x\ufffdy", 1, None]}


# --- Repairing what was stored before the guard (SQLite stored it; PostgreSQL refused it) --


def _raw_update(model, pk: int, **values) -> None:
    table = model._meta.db_table
    assignments = ", ".join(f"{column} = %s" for column in values)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments} WHERE id = %s",  # noqa: S608 (names are ours)
            [*values.values(), pk],
        )


@pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="only SQLite ever stored NUL and lone surrogates (PostgreSQL refused the write)",
)
def test_the_repair_migration_mends_old_rows_and_the_pages_answer_again(client, personas):
    # given a flow whose label was stored with a lone surrogate before the guard, in the flow,
    # its history and the audit log, and a call-log row with a NUL
    number = SubscriptionFactory(tenant=personas.tenant_a)
    good = {
        "rules": [{"label": "Open", "when": {"type": "always"}, "then": {"type": "voicemail"}}],
        "default": {"type": "voicemail"},
    }
    with tenant_scope(personas.tenant_a):
        flow_save(subscription=number, document=good, by=personas.owner_a)
        flow = CallFlow.objects.get(subscription=number)
        version = FlowVersion.objects.get(flow=flow)
        audit = AuditEvent.objects.filter(action="callflow.save").get()
        log = CallLog.objects.create(
            tenant=personas.tenant_a,
            subscription=number,
            at=timezone.now(),
            rule="Open",
            command="voicemail",
            source="flow",
            latency_us=5,
        )
    bad = json.dumps(good).replace("Open", "x\\udfffy\\u0000")
    _raw_update(CallFlow, flow.pk, document=bad)
    _raw_update(FlowVersion, version.pk, document=bad)
    _raw_update(AuditEvent, audit.pk, after=bad)
    _raw_update(CallLog, log.pk, rule="Op\x00en")
    client.force_login(personas.owner_a)
    client.raise_request_exception = False
    history = f"/numbers/{number.code}/flow/history/"
    assert client.get(history).status_code == 500  # what the issue saw

    # when the repair migration runs
    migration = importlib.import_module("api.migrations.0003_repair_stored_text")
    migration.repair(django_apps, SimpleNamespace(connection=connection))

    # then every page answers, with the label mended where it stood
    for path in (history, f"/numbers/{number.code}/flow/", "/audit/", "/calls/"):
        assert client.get(path).status_code == 200, path
    with scopes_disabled():
        assert FlowVersion.objects.get(pk=version.pk).document["rules"][0]["label"] == "x\ufffdy"
        assert CallFlow.objects.get(pk=flow.pk).document["rules"][0]["label"] == "x\ufffdy"
        assert CallLog.objects.get(pk=log.pk).rule == "Open"


@pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="only SQLite ever stored NUL and lone surrogates (PostgreSQL refused the write)",
)
def test_a_burst_after_the_repair_writes_every_companys_rows(personas):
    """Issue 19's burst: 30 calls a company for three companies, one whose rule label was
    stored bad before the repair migration; 90 of 90 rows written once it ran."""
    from callflows.edge import call_log, published
    from callflows.flows.publishing import flow_publish
    from callflows.models import PublishedFlow
    from callflows.tests.test_action_url import call
    from testing.scaffolding import TenantFactory

    always = {
        "rules": [{"label": "Open", "when": {"type": "always"}, "then": {"type": "voicemail"}}],
        "default": {"type": "voicemail"},
    }
    numbers = []
    for tenant in (personas.tenant_a, personas.tenant_b, TenantFactory(name="Gamma")):
        number = SubscriptionFactory(tenant=tenant)
        with tenant_scope(tenant):
            flow_save(subscription=number, document=always, by=None)
            flow_publish(subscription=number)
        numbers.append(number)
    # the first company's label, as SQLite kept it before the guard, in its flow and published
    bad = json.dumps(always).replace("Open", "x\\udfffy")
    with scopes_disabled():
        flow = CallFlow.objects.get(subscription=numbers[0])
        row = PublishedFlow.objects.get(subscription=numbers[0])
    _raw_update(CallFlow, flow.pk, document=bad)
    compiled = json.dumps(row.compiled).replace('"Open"', '"x\\udfffy"')
    _raw_update(PublishedFlow, row.pk, compiled=compiled)

    migration = importlib.import_module("api.migrations.0003_repair_stored_text")
    migration.repair(django_apps, SimpleNamespace(connection=connection))
    published.forget_memory()

    for _ in range(30):
        for number in numbers:
            assert call(number.action_token, caller="+819012345678")[0] == 200
    assert call_log.call_log_buffer.flush() == 90
    with scopes_disabled():
        assert CallLog.objects.count() == 90
        assert set(CallLog.objects.values_list("rule", flat=True)) == {"Open", "x\ufffdy"}
