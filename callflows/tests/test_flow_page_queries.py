"""The flow page reads the company's library once, however many rules the flow has."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from callflows.flows.services import flow_save
from dins.tests.factories import SubscriptionFactory
from portal.scoping import tenant_scope

VOICEMAIL = {"type": "voicemail", "greeting": None}


def test_the_flow_page_makes_the_same_queries_for_one_rule_and_twelve(client, personas):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    client.force_login(personas.staff_a)
    counts = []
    for rules in (1, 12):
        document = {
            "rules": [
                {"label": f"R{n}", "when": {"type": "anonymous"}, "then": VOICEMAIL}
                for n in range(rules)
            ],
            "default": VOICEMAIL,
        }
        with tenant_scope(personas.tenant_a):
            flow_save(subscription=number, document=document, by=personas.staff_a, note="")
        client.get(reverse("flow_edit", args=[number.code]))
        with CaptureQueriesContext(connection) as queries:
            page = client.get(reverse("flow_edit", args=[number.code]))
        assert page.status_code == 200
        counts.append(len(queries))
        library_reads = [q for q in queries if 'FROM "callflows_audiofile"' in q["sql"]]

    assert counts[0] == counts[1], counts
    # the editor's rule forms, its default and the override form share one read; the
    # descriptions, the switch and the week view read names (each once)
    assert len(library_reads) <= 4, [q["sql"][:80] for q in library_reads]
