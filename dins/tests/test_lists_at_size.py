"""The numbers page, the costs page and their API: paged, summed by the database, the same
queries for a handful of numbers and for many."""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dins.models import Subscription, SubscriptionStatus
from dins.templatetags.din_format import credits
from dins.tests.factories import SubscriptionFactory
from portal.phone import display
from portal.scoping import scopes_disabled


def _numbers(personas, count: int, **values) -> list[Subscription]:
    made = SubscriptionFactory.create_batch(
        count, tenant=personas.tenant_a, published=False, **values
    )
    with scopes_disabled():  # subscribed one a minute, newest last
        for n, number in enumerate(made):
            Subscription.objects.filter(pk=number.pk).update(
                created_at=timezone.now() - datetime.timedelta(minutes=len(made) - n)
            )
    return made


def _links(page: str, rel: str) -> str | None:
    found = re.search(rf'href="\?([^"]*)" rel="{rel}"', page)
    return found[1].replace("&amp;", "&") if found else None


def test_the_numbers_page_shows_fifty_numbers_a_page_and_every_number_once(client, personas):
    made = _numbers(personas, 120)
    SubscriptionFactory(tenant=personas.tenant_b, published=False)
    client.force_login(personas.viewer_a)

    seen, query = [], ""
    while True:
        page = client.get(reverse("number_list") + "?" + query).content.decode()
        seen += re.findall(r'<tr data-number="\+(\d+)"', page)
        query = _links(page, "next")
        if not query:
            break

    assert seen == [n.din for n in reversed(made)]  # newest first, each once, none of B's


def test_the_numbers_page_finds_a_number_by_its_label_its_last_digits_or_its_start(
    client, personas
):
    front, sales = _numbers(personas, 2)
    with scopes_disabled():
        Subscription.objects.filter(pk=front.pk).update(label="Front desk")
    client.force_login(personas.viewer_a)

    def shown(q):
        page = client.get(reverse("number_list"), {"q": q}).content.decode()
        return re.findall(r'<tr data-number="\+(\d+)"', page)

    assert shown("front") == [front.din]
    assert shown(sales.din[-4:]) == [sales.din]
    assert shown(display(sales.e164)) == [sales.din]  # 050-…: from its start
    assert "No number matches." in client.get(reverse("number_list"), {"q": "zzz"}).content.decode()


def test_the_numbers_page_costs_the_same_queries_for_few_numbers_and_many(client, personas):
    client.force_login(personas.viewer_a)
    counts = []
    for count in (3, 80):
        _numbers(personas, count)
        client.get(reverse("number_list"))
        with CaptureQueriesContext(connection) as queries:
            page = client.get(reverse("number_list")).content.decode()
        deeper = _links(page, "next")
        with CaptureQueriesContext(connection) as deep:
            if deeper:
                client.get(reverse("number_list") + "?" + deeper)
        counts.append((len(queries), len(deep) if deeper else None))

    assert counts[0][0] == counts[1][0]
    assert counts[1][1] == counts[1][0]


def test_the_api_lists_numbers_by_cursor(client, personas, api_key):
    made = _numbers(personas, 7)
    headers = {"Authorization": f"Bearer {api_key}"}

    seen, cursor = [], ""
    while True:
        body = client.get("/api/v1/numbers", {"limit": 3, "cursor": cursor}, headers=headers)
        assert body.status_code == 200
        data = body.json()
        seen += [item["e164"] for item in data["items"]]
        cursor = data["next_cursor"]
        if not cursor:
            break
    broken = client.get("/api/v1/numbers", {"cursor": "nonsense"}, headers=headers)

    assert seen == [n.e164 for n in reversed(made)]
    assert broken.status_code == 422
    assert broken.json()["errors"][0]["field"] == "cursor"


def test_the_api_lists_numbers_in_the_same_queries_for_few_numbers_and_many(
    client, personas, api_key
):
    headers = {"Authorization": f"Bearer {api_key}"}
    counts = []
    for count in (3, 40):
        _numbers(personas, count)
        client.get("/api/v1/numbers", headers=headers)
        with CaptureQueriesContext(connection) as queries:
            body = client.get("/api/v1/numbers", headers=headers)
        assert body.status_code == 200
        counts.append((len(body.json()["items"]), len(queries)))

    assert [items for items, _queries in counts] == [3, 43]
    assert counts[0][1] == counts[1][1], counts


def test_the_costs_page_sums_every_number_and_pages_the_list(client, personas):
    _numbers(personas, 70)  # 650 a month each
    _numbers(personas, 5, trial=True)  # 32.50 each while a trial, 617.50 given back
    released = _numbers(personas, 2, trial=True)
    with scopes_disabled():
        Subscription.objects.filter(pk__in=[s.pk for s in released]).update(
            status=SubscriptionStatus.RELEASED, released_at=timezone.now()
        )
    client.force_login(personas.viewer_a)

    first = client.get(reverse("costs")).content.decode()
    second = client.get(reverse("costs") + "?" + _links(first, "next")).content.decode()

    total = 70 * Decimal(650) + 5 * Decimal("32.50") + 2 * Decimal("32.50")
    assert f'data-figure="total">{credits(total)}<' in first
    assert "75 numbers" in first
    assert f'data-figure="rebates">{credits(5 * Decimal("617.50"))}<' in first
    assert first.count('<tr data-number="') == 50
    assert second.count('<tr data-number="') == 25
    assert "2 trials, 65 credits in all." in first


def test_the_costs_page_costs_the_same_queries_for_few_numbers_and_many(client, personas):
    client.force_login(personas.viewer_a)
    counts = []
    for count in (2, 60):
        _numbers(personas, count)
        client.get(reverse("costs"))
        with CaptureQueriesContext(connection) as queries:
            client.get(reverse("costs"))
        counts.append(len(queries))

    assert counts[0] == counts[1]


def test_operators_costs_cost_the_same_queries_for_two_companies_and_twenty(client, personas):
    from portal.models import Tenant, User

    operator = User.objects.create_superuser(email="operator@example.com", password="x" * 20)
    client.force_login(operator)
    counts = []
    for companies in (0, 18):
        for n in range(companies):
            tenant = Tenant.objects.create(name=f"Company {n}")
            SubscriptionFactory(tenant=tenant, published=False)
        client.get(reverse("operator_costs"))
        with CaptureQueriesContext(connection) as queries:
            page = client.get(reverse("operator_costs")).content.decode()
        counts.append(len(queries))

    assert counts[0] == counts[1]
    assert page.count("<tr data-tenant=") == 20


@pytest.fixture
def api_key(personas):
    from api.tests.factories import make_key

    _key, token = make_key(personas.tenant_a, role="viewer", name="lists")
    return token
