"""The formats table of docs/api.md, checked against what programs really receive: the API's
answers, webhook bodies and the call-log CSV.

Both ways: every field the table lists holds its kind's format wherever it appears, and no
field that holds a time, a phone number, an amount or a number's id is missing from the table
(a new field cannot slip in with another spelling). The OpenAPI document must say the same.
"""

import csv
import datetime
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from api.models import WebhookDelivery, WebhookEndpoint
from api.receivers import _calls_logged
from callflows.flows.services import flow_save, flow_set_override
from callflows.models import CallLog, OutboundCall
from callflows.signals import outbound_call_finished
from dins.models import SubscriptionStatus
from dins.tests.factories import SubscriptionFactory
from portal.alerts import alert_raise
from portal.models import AlertKind
from portal.scoping import scopes_disabled, tenant_scope

API_MD = Path(settings.BASE_DIR) / "docs" / "api.md"
PATTERNS = {
    "phone number": re.compile(r"^(\+[1-9]\d{2,14})?$"),
    "time": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$"),
    "money": re.compile(r"^-?\d+\.\d{2}$"),
    "one of the company's numbers": re.compile(
        r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    ),
}
# What a value of each kind looks like whatever its spelling: how a field the table forgot
# is found.
LOOKS_LIKE = {
    "time": re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"),
    "phone number": re.compile(r"^\+?\d{8,15}$"),
}
MONEY_NAMES = re.compile(r"cost|price|saved|amount|credit")
# Free-form or input-shaped parts of answers: the flow document (what PUT takes) and an
# alert's context.
NOT_CHECKED = {"document", "context"}
CHANNELS = ("API fields", "webhook fields", "CSV columns")


def formats_table() -> dict[str, dict[str, set[str]]]:
    """{kind: {channel: {field, …}}} from docs/api.md's "Formats" table."""
    text = API_MD.read_text()
    section = text.split("## Formats", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    table = {}
    for line in lines[2:]:
        cells = dict(
            zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True)
        )
        table[cells["kind"]] = {
            channel: set(re.findall(r"`([^`]+)`", cells[channel])) for channel in CHANNELS
        }
    return table


def scalars(value, key=""):
    """(key, value) of every scalar in a JSON document, outside the free-form parts."""
    if isinstance(value, dict):
        for name, item in value.items():
            if name not in NOT_CHECKED:
                yield from scalars(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from scalars(item, key)
    else:
        yield key, value


def check(channel: str, pairs) -> dict[str, set[str]]:
    """Problems found in ``pairs`` against the table; the fields seen, by kind."""
    table = formats_table()
    problems, seen = [], {kind: set() for kind in table}
    for key, value in pairs:
        kinds = [kind for kind, where in table.items() if key in where[channel]]
        for kind in kinds:
            seen[kind].add(key)
            if value is not None and not PATTERNS[kind].match(str(value)):
                problems.append(f"{channel} {key}={value!r} is not a {kind}")
        if kinds or not isinstance(value, str):
            if not kinds and MONEY_NAMES.search(key) and value is not None:
                problems.append(f"{channel} {key}={value!r} looks like money; not in the table")
            continue
        for kind, looks in LOOKS_LIKE.items():
            if looks.match(value):
                problems.append(f"{channel} {key}={value!r} looks like a {kind}; not in the table")
        if MONEY_NAMES.search(key):
            problems.append(f"{channel} {key}={value!r} looks like money; not in the table")
    assert problems == [], "\n".join(problems)
    return seen


@pytest.fixture
def company(personas, time_machine):
    """Tenant A with something in every answer: a trial, a flow with an override, calls
    (one withheld), an alert, an outbound call that cost something."""
    time_machine.move_to(datetime.datetime(2026, 12, 1, 9, 0, 0, 123456, tzinfo=datetime.UTC))
    tenant = personas.tenant_a
    number = SubscriptionFactory(tenant=tenant, trial=True, monthly_cost=Decimal("650.0"))
    with tenant_scope(tenant):
        flow_save(
            subscription=number,
            document={"rules": [], "default": {"type": "transfer", "number": "+81312345678"}},
            by=personas.owner_a,
        )
        flow_set_override(
            subscription=number,
            action={"type": "voicemail"},
            until=timezone.now() + datetime.timedelta(hours=3),
            request=None,
        )
        for caller in ("819012345678", ""):
            CallLog.objects.create(
                tenant=tenant,
                subscription=number,
                at=timezone.now(),
                caller=caller,
                recipient=number.din,
                rule="default",
                command="voicemail",
                source="flow",
                latency_us=900,
            )
        alert_raise(kind=AlertKind.TRIAL_REMINDER, subscription=number, context={"minutes": 60})
        call = OutboundCall.objects.create(
            tenant=tenant,
            subscription=number,
            recipient="+818012345678",
            caller_id_used=number.e164,
            caller_sent=number.e164,
            message_kind=OutboundCall.MessageKind.TEXT,
            tts_text="テスト",
            tts_lang="ja",
            status=OutboundCall.Status.ANSWERED,
            estimated_minute_cost=Decimal("10"),
            duration=65,
            cost=Decimal("20"),
            ended_at=timezone.now(),
        )
    return {"number": number, "call": call}


def test_the_api_answers_in_the_formats_of_the_table(api_as, company):
    api = api_as("admin")
    number, call = company["number"], company["call"]
    paths = [
        "/api/v1/numbers",
        f"/api/v1/numbers/{number.code}",
        f"/api/v1/numbers/{number.code}/flow",
        f"/api/v1/numbers/{number.code}/flow/preview?at=2026-12-07T12:30&caller=090-1234-5678",
        "/api/v1/calls",
        "/api/v1/alerts",
        "/api/v1/assets",
        f"/api/v1/outbound-calls/{call.code}",
    ]
    pairs = []
    for path in paths:
        response = api.get(path)
        assert response.status_code == 200, (path, response.content)
        pairs += list(scalars(response.json()))
    ended = api.delete(f"/api/v1/numbers/{number.code}/override")
    assert ended.status_code == 200
    pairs += list(scalars(ended.json()))

    seen = check("API fields", pairs)

    table = formats_table()
    for kind in ("phone number", "time", "money", "one of the company's numbers"):
        assert seen[kind], f"no API field of kind {kind} was seen"
    # every field the table lists for the API turned up in some answer (offers aside: the
    # carrier's, test_offers_… below)
    listed = set().union(*(where["API fields"] for where in table.values()))
    assert listed - {key for key, _value in pairs} <= {"until"}  # ended override: null
    assert dict(pairs)["caller"] in ("+819012345678", "")
    assert ("monthly_cost", "650.00") in pairs


def test_the_openapi_document_states_the_formats_and_lists_every_time_field(client):
    document = client.get("/api/v1/openapi.json").json()
    description = document["info"]["description"]
    for words in ("E.164", "ISO 8601", "two places", "`number`", "Accept-Language"):
        assert words in description
    times = formats_table()["time"]["API fields"]
    found = set()
    for schema in document["components"]["schemas"].values():
        for name, field in schema.get("properties", {}).items():
            variants = field.get("anyOf", [field])
            if any(variant.get("format") == "date-time" for variant in variants):
                found.add(name)
    assert found - times == set(), "date-time fields missing from the formats table"


def test_webhook_bodies_are_written_in_the_formats_of_the_table(
    personas, company, django_capture_on_commit_callbacks
):
    tenant, number = personas.tenant_a, company["number"]
    with scopes_disabled():
        WebhookEndpoint.objects.create(
            tenant=tenant,
            url="https://hooks.example.com/din",
            secret="whsec_test",
            events=[
                "call.answered",
                "trial.reminder",
                "trial.released",
                "subscription.failed",
                "outbound_call.finished",
            ],
        )
    at = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        # the call-log writer's batch, as the edge makes it (raw caller, digits recipient)
        _calls_logged(
            sender=CallLog,
            calls=[
                {
                    "tenant_id": tenant.pk,
                    "subscription_id": number.pk,
                    "at": at,
                    "caller": caller,
                    "recipient": number.din,
                    "rule": "default",
                    "command": "voicemail",
                    "source": "flow",
                    "is_test": False,
                }
                for caller in ("+819012345678", "819012345678", "anonymous")
            ],
        )
        with tenant_scope(tenant):
            released = SubscriptionFactory(
                tenant=tenant, trial=True, status=SubscriptionStatus.RELEASED, released_at=at
            )
            failed = SubscriptionFactory(tenant=tenant, status=SubscriptionStatus.FAILED)
            alert_raise(
                kind=AlertKind.TRIAL_RELEASED,
                subscription=released,
                context={"number": released.din, "saved": "617.5"},
            )
            alert_raise(
                kind=AlertKind.SUBSCRIPTION_FAILED,
                subscription=failed,
                context={"reason": "not available", "cause": "carrier"},
            )
            alert_raise(
                kind=AlertKind.TRIAL_REMINDER,
                subscription=released,
                context={"minutes_before": 60},
            )
        outbound_call_finished.send(sender=OutboundCall, call=company["call"])

    with scopes_disabled():
        bodies = [json.loads(d.body) for d in WebhookDelivery.objects.order_by("id")]
    assert {body["event"] for body in bodies} == {
        "call.answered",
        "trial.reminder",
        "trial.released",
        "subscription.failed",
        "outbound_call.finished",
    }
    pairs = [pair for body in bodies for pair in scalars(body)]
    seen = check("webhook fields", pairs)
    listed = set().union(*(where["webhook fields"] for where in formats_table().values()))
    assert listed <= {key for key, _value in pairs}, "a listed webhook field never turned up"
    assert all(seen.values())
    callers = [body["data"]["caller"] for body in bodies if body["event"] == "call.answered"]
    assert callers == ["+819012345678", "+819012345678", ""]
    saved = [body["data"]["saved"] for body in bodies if body["event"] == "trial.released"]
    assert saved == ["617.50"]


def test_the_call_log_csv_is_written_in_the_formats_of_the_table(api_as, company):
    response = api_as("viewer").get("/api/v1/calls/csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    header, rows = rows[0], rows[1:]
    assert len(rows) == 2

    pairs = [(column, cell) for row in rows for column, cell in zip(header, row, strict=True)]
    seen = check("CSV columns", pairs)

    for kind in ("phone number", "time", "one of the company's numbers"):
        assert seen[kind] == formats_table()[kind]["CSV columns"], kind


@pytest.mark.django_db(transaction=True)
def test_offers_from_the_carrier_are_written_in_the_formats_of_the_table(api_as, sandbox_url):
    response = api_as("viewer").get("/api/v1/numbers/offers?kind=jp-050&limit=3")
    assert response.status_code == 200, response.content
    pairs = list(scalars(response.json()))
    seen = check("API fields", pairs)
    assert seen["phone number"] == {"e164"}
    assert seen["money"] == {"monthly_cost", "minute_cost", "trial_price"}
