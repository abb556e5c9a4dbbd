"""The dashboard's "Calls today" panel: today's calls by tenant day, by rule, and fallbacks."""

import re

from django.urls import reverse

from callflows.calllog import selectors as calllog
from callflows.tests import test_calllog as shared
from portal.scoping import tenant_scope

# The call log tests share their clock (autouse), numbers and row helper; pytest finds
# fixtures by module attribute.
frozen_now = shared.frozen_now
numbers = shared.numbers
log_call = shared.log_call
tokyo = shared.tokyo


def panel(content: str) -> str:
    start = content.rindex("<section", 0, content.index('data-panel="calls-today"'))
    return content[start : content.index("</section>", start)]


def test_it_counts_todays_calls_by_rule_in_the_tenants_day(personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 0, 30), rule="Night")  # today in Tokyo, not in UTC
    log_call(numbers["front"], at=tokyo(10, 9), rule="Business hours")
    log_call(numbers["sales"], at=tokyo(10, 10), rule="Business hours")
    log_call(numbers["sales"], at=tokyo(10, 11), rule="fallback", source="fallback")
    log_call(numbers["front"], at=tokyo(9, 23, 30), rule="Night")  # yesterday
    log_call(numbers["beta"], at=tokyo(10, 9), rule="Beta", source="fallback")  # not ours

    with tenant_scope(personas.tenant_a):
        figures = calllog.calls_today_figures()

    assert figures == {
        "total": 4,
        "by_rule": [("Business hours", 2), ("Night", 1), ("fallback", 1)],
        "fallback": 1,
    }


def test_it_shows_the_calls_today_panel_with_fallbacks_highlighted(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9), rule="Business hours")
    log_call(numbers["front"], at=tokyo(10, 10), rule="Business hours")
    log_call(numbers["sales"], at=tokyo(10, 11), rule="fallback", source="fallback")
    client.force_login(personas.viewer_a)

    html = panel(client.get(reverse("dashboard")).content.decode())

    assert 'class="figure card attention"' in html
    assert '<p class="big" data-figure="calls-today">3</p>' in html
    assert "1 call answered by the fallback" in html
    assert '<li data-rule="Business hours">Business hours: 2</li>' in html
    assert f'href="{reverse("call_log")}"' in html


def test_it_does_not_alarm_without_fallbacks(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9), rule="Business hours")
    log_call(numbers["front"], at=tokyo(9, 9), source="fallback")  # yesterday's
    client.force_login(personas.viewer_a)

    html = panel(client.get(reverse("dashboard")).content.decode())

    assert "attention" not in html
    assert "fallback" not in html.lower()
    assert '<p class="big" data-figure="calls-today">1</p>' in html


def test_it_shows_no_calls_of_another_tenant_on_the_dashboard(client, personas, numbers):
    log_call(numbers["beta"], at=tokyo(10, 9), rule="Beta", source="fallback")
    client.force_login(personas.owner_a)

    html = panel(client.get(reverse("dashboard")).content.decode())

    assert '<p class="big" data-figure="calls-today">0</p>' in html
    assert "Beta" not in html


def test_it_keeps_the_dashboards_queries_bounded(
    client, personas, numbers, django_assert_max_num_queries
):
    client.force_login(personas.viewer_a)
    client.get(reverse("dashboard"))
    for minute in range(40):
        log_call(
            numbers["front"] if minute % 2 else numbers["sales"],
            at=tokyo(10, 9, minute),
            rule=f"Rule {minute % 8}",
            source="fallback" if minute % 5 == 0 else "flow",
        )

    # 12, + the open-alerts panel's one query, + six for the day/night switches (numbers,
    # flows, library names, closed dates) however many numbers there are
    with django_assert_max_num_queries(19):
        response = client.get(reverse("dashboard"))

    html = panel(response.content.decode())
    assert '<p class="big" data-figure="calls-today">40</p>' in html
    assert len(re.findall(r"<li data-rule=", html)) == 8
    assert "8 calls answered by the fallback" in html
