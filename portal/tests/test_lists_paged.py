"""The alerts page and the audit log: paged by where the last page ended, each row once, the
same queries for a few rows and for many."""

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.models import Alert, AlertKind, AuditEvent
from portal.scoping import scopes_disabled


def _open_alerts(tenant, count: int, start: int = 0) -> None:
    with scopes_disabled():
        Alert.objects.bulk_create(
            Alert(tenant=tenant, kind=AlertKind.ACTION_URL_FALLBACK, dedup_key=f"k{start + n}")
            for n in range(count)
        )


def _events(tenant, count: int) -> None:
    with scopes_disabled():
        AuditEvent.objects.bulk_create(
            AuditEvent(tenant=tenant, action="callflow.save", object_repr=f"flow {n}")
            for n in range(count)
        )


def _walk(client, url: str, row: str) -> list[str]:
    seen, query = [], ""
    while True:
        page = client.get(url + "?" + query).content.decode()
        seen += re.findall(row, page)
        found = re.search(r'href="\?([^"]*)" rel="next"', page)
        if not found:
            return seen
        query = found[1].replace("&amp;", "&")


def test_the_alerts_page_pages_the_open_alerts_and_shows_each_once(client, personas):
    _open_alerts(personas.tenant_a, 120)
    _open_alerts(personas.tenant_b, 3, start=500)
    client.force_login(personas.viewer_a)

    seen = _walk(client, reverse("alert_list"), r'<tr data-alert="([0-9a-f-]+)"')

    with scopes_disabled():
        mine = {
            str(code)
            for code in Alert.objects.filter(tenant=personas.tenant_a).values_list(
                "code", flat=True
            )
        }
    assert len(seen) == 120 and set(seen) == mine


def test_the_alerts_page_costs_the_same_queries_for_few_open_alerts_and_many(client, personas):
    client.force_login(personas.viewer_a)
    counts = []
    for count, start in ((2, 0), (90, 100)):
        _open_alerts(personas.tenant_a, count, start=start)
        client.get(reverse("alert_list"))
        with CaptureQueriesContext(connection) as queries:
            client.get(reverse("alert_list"))
        counts.append(len(queries))

    assert counts[0] == counts[1]


def test_the_audit_log_pages_every_event_once_and_keeps_its_filters(client, personas):
    _events(personas.tenant_a, 130)
    _events(personas.tenant_b, 5)
    client.force_login(personas.viewer_a)

    seen = _walk(client, reverse("audit_log"), r"flow (\d+)")
    filtered = client.get(reverse("audit_log"), {"action": "callflow.save"}).content.decode()

    assert sorted(int(n) for n in seen) == list(range(130))
    assert re.search(r'href="\?action=callflow.save&amp;after=[^"]+" rel="next"', filtered)


def test_the_audit_log_costs_the_same_queries_for_few_events_and_many(client, personas):
    client.force_login(personas.viewer_a)
    counts = []
    for count in (3, 200):
        _events(personas.tenant_a, count)
        client.get(reverse("audit_log"))
        with CaptureQueriesContext(connection) as queries:
            client.get(reverse("audit_log"))
        counts.append(len(queries))

    assert counts[0] == counts[1]
    assert not any("DISTINCT" in q["sql"] for q in queries)  # the menus read no log
