"""Operators' costs from kept month totals (``MonthCosts``): the worker sums, the page reads one
row a company, and a company without a fresh row is summed on the page, never shown wrong."""

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from callflows.models import OutboundCall
from callflows.tests.factories import OutboundCallFactory
from config.celery import app
from dins.costs import costs_by_tenant, costs_by_tenant_kept, month_costs_refresh
from dins.models import MonthCosts
from dins.templatetags.din_format import credits
from dins.tests.factories import SubscriptionFactory
from portal.models import User
from portal.scoping import scopes_disabled
from testing.scaffolding import PASSWORD


@pytest.fixture
def operator(db):
    return User.objects.create_superuser(
        email="operator@example.com", password=PASSWORD, language="en"
    )


def _figures(companies) -> dict:
    figures = ("numbers_count", "numbers_total", "released_total", "outbound_cost", "total")
    return {c.tenant.name: tuple(getattr(c, name) for name in figures) for c in companies}


def _month(personas, numbers: int, calls: int) -> None:
    SubscriptionFactory.create_batch(numbers, tenant=personas.tenant_a, published=False)
    SubscriptionFactory(tenant=personas.tenant_b, trial=True, published=False)
    OutboundCallFactory.create_batch(
        calls,
        tenant=personas.tenant_a,
        status=OutboundCall.Status.ANSWERED,
        duration=60,
        cost=Decimal("15.00"),
    )


def test_the_kept_totals_are_the_sums_and_a_second_run_keeps_the_same_rows(personas):
    _month(personas, numbers=3, calls=2)

    assert month_costs_refresh() == 2
    assert month_costs_refresh() == 2

    with scopes_disabled():
        assert MonthCosts.objects.count() == 2
    kept = costs_by_tenant_kept()
    assert kept.summed_now == 0 and kept.as_of is not None
    assert _figures(kept.companies) == _figures(costs_by_tenant())
    # each extra number adds a month of 650, the calls 15 each (the factory's defaults)
    alpha = _figures(kept.companies)["Alpha Clinic"]
    assert alpha[0] == 5 and alpha[3] == Decimal("30.00")


def test_the_page_reads_no_number_or_call_once_the_totals_are_kept(client, operator, personas):
    # given a month summed by the worker
    _month(personas, numbers=40, calls=30)
    month_costs_refresh()
    client.force_login(operator)

    # when the operator opens the page
    client.get(reverse("operator_costs"))
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("operator_costs")).content.decode()

    # then it reads the kept rows, not the numbers or calls (its work follows the companies)
    tables = " ".join(q["sql"] for q in queries)
    assert "dins_monthcosts" in tables
    assert "dins_subscription" not in tables and "dins_outboundcall" not in tables
    assert f'data-figure="total">{credits(costs_by_tenant_kept().total)}<' in page
    assert "Summed by the worker at" in page


def test_a_company_without_a_fresh_row_is_summed_on_the_page(client, operator, personas):
    # given kept totals from before a new number, and then the worker stopped
    _month(personas, numbers=1, calls=0)
    stale = timezone.now() - datetime.timedelta(seconds=settings.MONTH_COSTS_FRESH_SECONDS + 1)
    month_costs_refresh(now=stale)
    SubscriptionFactory(tenant=personas.tenant_a, published=False)

    # when the operator opens the page
    client.force_login(operator)
    page = client.get(reverse("operator_costs")).content.decode()

    # then no stale figure is shown: both companies are summed now, the new number included
    kept = costs_by_tenant_kept()
    assert kept.as_of is None and kept.summed_now == 2
    assert _figures(kept.companies) == _figures(costs_by_tenant())
    assert _figures(kept.companies)["Alpha Clinic"][0] == 2  # the kept row said 1
    assert "Summed just now." in page


def test_a_new_company_is_summed_beside_the_kept_ones(client, operator, personas):
    from portal.models import Tenant

    _month(personas, numbers=1, calls=0)
    month_costs_refresh()
    newcomer = Tenant.objects.create(name="Gamma Foods")
    SubscriptionFactory(tenant=newcomer, published=False)

    client.force_login(operator)
    page = client.get(reverse("operator_costs")).content.decode()

    kept = costs_by_tenant_kept()
    assert kept.summed_now == 1
    assert _figures(kept.companies) == _figures(costs_by_tenant())
    assert "1 company was summed just now." in page


def test_the_worker_sums_the_month_on_its_schedule():
    entry = next(
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "dins.month_costs_refresh"
    )
    assert entry["schedule"] == settings.MONTH_COSTS_INTERVAL_SECONDS
    assert settings.MONTH_COSTS_FRESH_SECONDS > settings.MONTH_COSTS_INTERVAL_SECONDS


def test_every_scheduled_task_is_one_the_worker_registers():
    app.loader.import_default_modules()  # what the worker does at start (autodiscovery)
    scheduled = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled - set(app.tasks) == set()
