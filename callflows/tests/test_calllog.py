"""The call log pages: filters, pagination, tenancy, the per-day chart, query counts."""

import datetime
import re
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from callflows.calllog import rollup
from callflows.calllog import selectors as calllog
from callflows.models import CallLog
from dins.models import SubscriptionStatus
from dins.tests.factories import SubscriptionFactory
from portal.phone import display
from portal.scoping import tenant_scope

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
# Noon in Tokyo: "today" is 2026-03-10 there (and in UTC); the chart covers 02-09 … 03-10.
NOW = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=TOKYO)


def log_call(
    subscription,
    *,
    at: datetime.datetime,
    caller: str = "819012345678",
    rule: str = "Business hours",
    source: str = "flow",
    command: str = "playback|https://portal.example.com/m/x.mp3",
    latency_us: int = 420,
    is_test: bool = False,
) -> CallLog:
    """One call-log row, as the runtime's buffer would have written it, counted into the daily
    counts as the worker's periodic task does (``callflows.calllog.rollup``)."""
    values = {
        "tenant_id": subscription.tenant_id,
        "subscription_id": subscription.pk,
        "at": at,
        "caller": caller,
        "recipient": subscription.din,
        "rule": rule,
        "command": command,
        "source": source,
        "latency_us": latency_us,
        "flow_version": 3,
        "is_test": is_test,
    }
    with tenant_scope(subscription.tenant):
        row = CallLog.objects.create(**values)
    rollup.call_days_catch_up(settle_seconds=0)
    return row


def tokyo(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=TOKYO)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def numbers(personas):
    """Two numbers of tenant A and one of tenant B."""
    return {
        "front": SubscriptionFactory(tenant=personas.tenant_a, label="Front desk"),
        "sales": SubscriptionFactory(tenant=personas.tenant_a, label="Sales"),
        "beta": SubscriptionFactory(tenant=personas.tenant_b, label="Beta main"),
    }


def row_times(content: str) -> list[str]:
    return re.findall(r'<time datetime="([^"]+)"', content)


def rows(response) -> int:
    return response.content.decode().count('<tr class="source-')


# --- The tenant's call log -------------------------------------------------------------------


def test_it_lists_the_tenants_calls_newest_first_in_the_tenant_time_zone(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(9, 23, 30), caller="", rule="Night")
    log_call(numbers["sales"], at=tokyo(10, 9, 15), caller="819011112222")
    client.force_login(personas.viewer_a)

    response = client.get(reverse("call_log"))

    assert response.status_code == 200
    page = response.content.decode()
    # 09:15 Tokyo is 00:15 UTC: shown in the tenant's zone, newest first
    assert page.index("2026-03-10 09:15:00") < page.index("2026-03-09 23:30:00")
    assert "090-1111-2222" in page  # as people read it
    assert "withheld" in page
    assert "Front desk" in page and "Sales" in page
    assert "Night" in page


def test_it_never_shows_another_tenants_calls(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9), caller="811111")
    log_call(numbers["beta"], at=tokyo(10, 10), caller="819999999999", rule="Beta rule")
    client.force_login(personas.owner_a)

    page = client.get(reverse("call_log")).content.decode()

    assert 'data-caller="811111"' in page
    assert "819999999999" not in page and "090-9999-9999" not in page
    assert "Beta rule" not in page
    assert numbers["beta"].e164 not in page
    # not even by asking for the other tenant's number in the filter
    other = client.get(reverse("call_log"), {"number": str(numbers["beta"].code)})
    assert "819999999999" not in other.content.decode()
    assert "None of your numbers is" in other.content.decode()
    # nor by typing it
    typed = client.get(reverse("call_log"), {"number": display(numbers["beta"].e164)})
    assert "819999999999" not in typed.content.decode()
    assert "None of your numbers is" in typed.content.decode()


@pytest.mark.parametrize(
    "params,expected_callers",
    [
        ({}, {"+819011110000", "+819022220000", "anonymous", "+815033330000"}),
        ({"caller": "+81 90-2222"}, {"+819022220000"}),
        ({"caller": "090-2222"}, {"+819022220000"}),  # as dialled in Japan
        ({"caller": "\uff10\uff19\uff10\uff12\uff12"}, {"+819022220000"}),  # full width
        ({"caller": "0000"}, {"+819011110000", "+819022220000", "+815033330000"}),
        ({"anonymous": "on"}, {"anonymous"}),
        ({"rule": "Night"}, {"anonymous", "+815033330000"}),
        ({"source": "fallback"}, {"+815033330000"}),
        ({"source": "override"}, {"+819022220000"}),
        ({"since": "2026-03-10"}, {"+819011110000", "+819022220000"}),
        ({"until": "2026-03-09"}, {"anonymous", "+815033330000"}),
        ({"since": "2026-03-09", "until": "2026-03-09"}, {"anonymous", "+815033330000"}),
    ],
)
def test_it_filters_the_calls(client, personas, numbers, params, expected_callers):
    log_call(numbers["front"], at=tokyo(10, 0, 30), caller="819011110000")
    log_call(numbers["sales"], at=tokyo(10, 8), caller="819022220000", source="override")
    log_call(numbers["front"], at=tokyo(9, 23, 30), caller="", rule="Night")
    # 00:01 on the 9th in Tokyo is still the 8th in UTC
    log_call(
        numbers["sales"], at=tokyo(9, 0, 1), caller="815033330000", rule="Night", source="fallback"
    )
    client.force_login(personas.viewer_a)

    page = client.get(reverse("call_log"), params).content.decode()

    shown = {
        caller if caller == "anonymous" else f"+{caller}"
        for caller in re.findall(r'data-caller="([^"]+)"', page)
    }
    assert shown == expected_callers


def test_it_filters_by_number(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9), caller="811")
    log_call(numbers["sales"], at=tokyo(10, 10), caller="822")
    client.force_login(personas.viewer_a)

    page = client.get(reverse("call_log"), {"number": str(numbers["sales"].code)})

    assert 'data-caller="822' in page.content.decode()
    assert 'data-caller="811' not in page.content.decode()


def test_it_uses_tenant_days_for_the_date_filter(client, personas, numbers):
    # 00:30 on the 10th in Tokyo is 15:30 UTC on the 9th: it belongs to the 10th
    log_call(numbers["front"], at=tokyo(10, 0, 30), caller="8110")
    log_call(numbers["front"], at=tokyo(9, 23, 30), caller="8109")
    client.force_login(personas.viewer_a)

    page = client.get(reverse("call_log"), {"since": "2026-03-10", "until": "2026-03-10"})

    assert 'data-caller="8110' in page.content.decode()
    assert 'data-caller="8109' not in page.content.decode()


def test_it_explains_a_caller_filter_without_digits(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9), caller="811")
    client.force_login(personas.viewer_a)

    page = client.get(reverse("call_log"), {"caller": "abc"}).content.decode()

    assert "Enter digits of a phone number." in page


def test_it_finds_nothing_when_the_dates_are_reversed(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9), caller="811")
    client.force_login(personas.viewer_a)

    page = client.get(reverse("call_log"), {"since": "2026-03-10", "until": "2026-03-01"})

    assert "The start date is after the end date." in page.content.decode()
    assert rows(page) == 0


def test_it_offers_rules_and_sources_including_fallback_in_the_filters(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9), rule="Lunch break")
    log_call(numbers["beta"], at=tokyo(10, 9), rule="Beta secret rule")
    client.force_login(personas.viewer_a)

    page = client.get(reverse("call_log")).content.decode()

    assert '<option value="Lunch break">' in page
    assert "Beta secret rule" not in page
    assert '<option value="fallback">Fallback</option>' in page
    # the numbers are not listed in the page: the number box asks for suggestions
    assert f'value="{numbers["front"].code}"' not in page
    assert 'list="call-number-options"' in page
    assert '<datalist id="call-number-options"></datalist>' in page


def test_it_suggests_the_tenants_numbers_as_they_are_typed(client, personas, numbers):
    client.force_login(personas.viewer_a)
    url = reverse("call_log_number_options")

    by_start = client.get(url, {"number": display(numbers["front"].e164)[:6]}).content.decode()
    by_label = client.get(url, {"number": "sales"}).content.decode()
    by_digits = client.get(url, {"number": numbers["beta"].din[-4:]}).content.decode()

    assert f'<option value="{display(numbers["front"].e164)}">' in by_start
    assert "Front desk" in by_start and "Beta main" not in by_start
    assert f'<option value="{display(numbers["sales"].e164)}">' in by_label
    assert "Front desk" not in by_label
    assert "Beta main" not in by_digits  # another tenant's number is never suggested
    assert client.get(url, {"number": ""}).content.decode().strip() == ""


def test_it_suggests_at_most_ten_numbers_in_a_bounded_number_of_queries(
    client, personas, django_assert_num_queries
):
    for _ in range(25):
        SubscriptionFactory(tenant=personas.tenant_a, label="Branch")
    client.force_login(personas.viewer_a)
    url = reverse("call_log_number_options")
    client.get(url, {"number": "branch"})

    with django_assert_num_queries(4):  # session, user, membership, the numbers
        page = client.get(url, {"number": "branch"}).content.decode()

    assert page.count("<option") == 10


def test_it_filters_by_a_number_typed_as_people_write_it(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9), caller="811")
    log_call(numbers["sales"], at=tokyo(10, 10), caller="822")
    client.force_login(personas.viewer_a)

    for typed in (display(numbers["sales"].e164), numbers["sales"].e164, numbers["sales"].code):
        page = client.get(reverse("call_log"), {"number": str(typed)}).content.decode()

        assert 'data-caller="822' in page, typed
        assert 'data-caller="811' not in page, typed
        # the box shows the number as people write it, whatever the link said
        assert f'value="{display(numbers["sales"].e164)}"' in page


def test_it_keeps_a_released_number_in_the_number_box(client, personas):
    released = SubscriptionFactory(
        tenant=personas.tenant_a, status=SubscriptionStatus.RELEASED, label="Old"
    )
    failed = SubscriptionFactory(
        tenant=personas.tenant_a, status=SubscriptionStatus.FAILED, label="Old"
    )
    log_call(released, at=tokyo(10, 9), caller="811")
    client.force_login(personas.viewer_a)

    options = client.get(reverse("call_log_number_options"), {"number": "old"}).content.decode()
    page = client.get(reverse("call_log"), {"number": display(released.e164)}).content.decode()

    assert f"{display(released.e164)} · Old (released)" in options
    assert display(failed.e164) not in options
    assert 'data-caller="811' in page


def test_it_pages_fifty_calls_at_a_time_by_where_the_last_page_ended(client, personas, numbers):
    for minute in range(55):
        log_call(numbers["front"], at=tokyo(10, 8, minute), caller=f"8190{minute:04d}")
    client.force_login(personas.viewer_a)

    first = client.get(reverse("call_log"), {"rule": "Business hours"})
    older = re.search(r'href="\?([^"]*after=[^"]+)" rel="next"', first.content.decode())
    second = client.get(reverse("call_log") + "?" + older[1].replace("&amp;", "&"))
    newer = re.search(r'href="\?([^"]*before=[^"]+)" rel="prev"', second.content.decode())
    back = client.get(reverse("call_log") + "?" + newer[1].replace("&amp;", "&"))

    assert rows(first) == 50
    assert "Latest calls" in first.content.decode()
    assert 'rel="prev"' not in first.content.decode()
    # the pager keeps the filters
    assert older[1].startswith("rule=Business+hours&amp;after=")
    assert rows(second) == 5
    assert "Earlier calls" in second.content.decode()
    assert 'data-caller="81900004' in second.content.decode()  # the oldest five are on page 2
    assert 'data-caller="81900054' in first.content.decode()
    assert 'rel="next"' not in second.content.decode()
    assert row_times(back.content.decode()) == row_times(first.content.decode())


def test_it_says_so_when_a_page_link_is_broken_and_shows_the_latest_calls(
    client, personas, numbers
):
    log_call(numbers["front"], at=tokyo(10, 9), caller="811")
    client.force_login(personas.viewer_a)

    for broken in ("x", "%00", "bm90LWEtY3Vyc29y", "A" * 5000, "MjAyNi0wMy0xMHwtMQ"):
        response = client.get(reverse("call_log"), {"after": broken})

        assert response.status_code == 200
        assert "That page link is not valid" in response.content.decode()
        assert 'data-caller="811' in response.content.decode()


def test_it_ignores_the_page_numbers_of_old_links(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9), caller="811")
    client.force_login(personas.viewer_a)

    response = client.get(reverse("call_log"), {"page": "500"})

    assert response.status_code == 200
    assert 'data-caller="811' in response.content.decode()


def test_a_cursor_from_another_tenants_log_shows_only_this_tenants_calls(client, personas, numbers):
    log_call(numbers["beta"], at=tokyo(10, 11), caller="819999999999")
    log_call(numbers["beta"], at=tokyo(10, 10), caller="819999999998")
    log_call(numbers["front"], at=tokyo(10, 9), caller="811")
    client.force_login(personas.owner_b)
    theirs = client.get(reverse("call_log")).content.decode()
    client.force_login(personas.viewer_a)

    with tenant_scope(personas.tenant_b):
        beta_newest = CallLog.objects.order_by("-at").first()
    from portal.paging import cursor_encode

    page = client.get(reverse("call_log"), {"after": cursor_encode(beta_newest.at, beta_newest.pk)})

    assert "819999999998" in theirs
    assert "819999999998" not in page.content.decode()
    assert 'data-caller="811' in page.content.decode()


def test_it_answers_htmx_with_the_rows_only(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9), caller="811")
    client.force_login(personas.viewer_a)

    response = client.get(reverse("call_log"), {"caller": "811"}, HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert "<html" not in page
    assert "<form" not in page
    assert 'data-caller="811' in page
    assert "call-chart" in page  # the chart follows the filters too


def test_it_keeps_the_whole_carrier_command_behind_the_details_toggle(client, personas, numbers):
    command = "playback|https://portal.example.com/m/" + "x" * 100 + ".mp3"
    log_call(numbers["front"], at=tokyo(10, 9), command=command)
    client.force_login(personas.viewer_a)

    page = client.get(reverse("call_log")).content.decode()

    assert f"<code>{command}</code>" in page  # whole, behind the details toggle


def test_it_shows_latency_in_milliseconds(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9), latency_us=1234)
    client.force_login(personas.viewer_a)

    page = client.get(reverse("call_log")).content.decode()

    assert "Answered in 1.2 ms" in page


def test_it_escapes_what_callers_and_users_wrote(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9), rule="<script>alert(1)</script>")
    client.force_login(personas.viewer_a)

    page = client.get(reverse("call_log")).content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_it_sends_anonymous_visitors_to_sign_in(client, personas):
    response = client.get(reverse("call_log"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def _log_many(numbers, count: int) -> None:
    """``count`` calls written as the call-log writer writes a batch (one INSERT), then counted
    into the daily counts once, as the worker's periodic task does."""
    made = []
    for index in range(count):
        number = numbers["front"] if index % 2 else numbers["sales"]
        made.append(
            CallLog(
                tenant_id=number.tenant_id,
                subscription_id=number.pk,
                at=tokyo(10, 8) - datetime.timedelta(minutes=index * 7),
                caller=f"8190{index:08d}" if index % 9 else "",
                recipient=number.din,
                rule=f"Rule {index % 5}",
                command="playback|https://portal.example.com/m/x.mp3",
                source="fallback" if index % 11 == 0 else "flow",
                latency_us=420,
                flow_version=3,
            )
        )
    with tenant_scope(numbers["front"].tenant):
        CallLog.objects.bulk_create(made, batch_size=500)
    rollup.call_days_catch_up(settle_seconds=0)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"source": "flow"},
        {"rule": "Rule 3"},
        {"caller": "0003"},
        {"caller": "090-0000"},
        {"anonymous": "on", "kind": "callers"},
        {"since": "2026-02-20", "until": "2026-03-05"},
    ],
    ids=lambda params: "&".join(params) or "none",
)
def test_it_lists_in_the_same_number_of_queries_at_any_size_of_the_log(
    client, personas, numbers, params
):
    """The list, its chart and its menus: the same queries for 60 calls and for 1,200."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(personas.viewer_a)
    counts = []
    for size in (60, 1140):
        _log_many(numbers, size)
        client.get(reverse("call_log"), params)  # session and login caches warm
        with CaptureQueriesContext(connection) as queries:
            first = client.get(reverse("call_log"), params)
        older = re.search(r'href="\?([^"]*after=[^"]+)" rel="next"', first.content.decode())
        with CaptureQueriesContext(connection) as deeper:
            if older:
                client.get(reverse("call_log") + "?" + older[1].replace("&amp;", "&"))
        counts.append((len(queries), len(deeper) if older else None))
        assert first.status_code == 200
        assert rows(first) <= 50

    assert counts[0][0] == counts[1][0] <= 8, counts
    if counts[0][1] is not None:
        assert counts[0][1] == counts[1][1], counts


def test_it_reads_the_chart_and_the_rule_menu_from_the_daily_counts(client, personas, numbers):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _log_many(numbers, 100)
    client.force_login(personas.viewer_a)
    client.get(reverse("call_log"))

    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("call_log"), {"rule": "Rule 2"})

    log_reads = [q["sql"] for q in queries if '"callflows_calllog"' in q["sql"]]
    assert len(log_reads) == 1, log_reads  # the page of calls; nothing else reads the log
    assert "LIMIT 51" in log_reads[0]
    assert "COUNT(" not in log_reads[0].upper()


# --- One number's calls ----------------------------------------------------------------------


def test_it_lists_one_numbers_calls(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9), caller="811")
    log_call(numbers["sales"], at=tokyo(10, 10), caller="822")
    client.force_login(personas.viewer_a)

    response = client.get(reverse("number_calls", args=[numbers["front"].code]))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-caller="811' in page
    assert 'data-caller="822' not in page
    assert "Calls to " + display(numbers["front"].e164) in page
    assert 'name="number"' not in page  # the number is the page's, not a filter
    # its export link asks for this number only
    assert f"/calls/export.csv?number={numbers['front'].code}" in page


def test_it_filters_one_numbers_calls(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9), caller="811", source="fallback")
    log_call(numbers["front"], at=tokyo(10, 10), caller="812")
    client.force_login(personas.viewer_a)

    response = client.get(
        reverse("number_calls", args=[numbers["front"].code]), {"source": "fallback"}
    )

    assert 'data-caller="811' in response.content.decode()
    assert 'data-caller="812' not in response.content.decode()


def test_it_answers_404_for_another_tenants_number(client, personas, numbers):
    log_call(numbers["beta"], at=tokyo(10, 10), caller="819999999999")
    client.force_login(personas.owner_a)

    response = client.get(reverse("number_calls", args=[numbers["beta"].code]))

    assert response.status_code == 404
    assert "819999999999" not in response.content.decode()


def test_it_lists_one_number_in_a_bounded_number_of_queries(
    client, personas, numbers, django_assert_max_num_queries
):
    for minute in range(60):
        log_call(numbers["front"], at=tokyo(10, 8, minute))
    client.force_login(personas.viewer_a)
    url = reverse("number_calls", args=[numbers["front"].code])
    client.get(url)

    with django_assert_max_num_queries(8):
        response = client.get(url)
    assert rows(response) == 50


def test_it_gives_the_last_calls_of_a_number(personas, numbers):
    for minute in range(12):
        log_call(numbers["front"], at=tokyo(10, 8, minute), caller=f"81{minute:02d}")
    log_call(numbers["sales"], at=tokyo(10, 9), caller="8199")

    with tenant_scope(personas.tenant_a):
        recent = calllog.calls_recent_for_number(subscription=numbers["front"])
        three = calllog.calls_recent_for_number(subscription=numbers["front"], limit=3)

    assert [c.caller for c in recent] == [f"81{m:02d}" for m in range(11, 1, -1)]
    assert [c.caller for c in three] == ["8111", "8110", "8109"]


def test_it_renders_the_recent_calls_box(client, personas, numbers, rf):
    from django.template.loader import render_to_string

    log_call(numbers["front"], at=tokyo(10, 9), caller="811", rule="Lunch")
    with tenant_scope(personas.tenant_a):
        recent = calllog.calls_recent_for_number(subscription=numbers["front"])
    html = render_to_string(
        "callflows/calls/_recent.html",
        {"recent_calls": recent, "subscription": numbers["front"]},
    )
    empty = render_to_string(
        "callflows/calls/_recent.html", {"recent_calls": [], "subscription": numbers["front"]}
    )

    assert 'data-caller="811' in html and "Lunch" in html
    assert reverse("number_calls", args=[numbers["front"].code]) in html
    assert "<th>Number</th>" not in html
    assert "No calls yet." in empty


# --- Calls per day ---------------------------------------------------------------------------


def test_it_counts_calls_per_tenant_day_across_midnight(personas, numbers):
    # 23:30 and 00:30 in Tokyo are 14:30 and 15:30 UTC on the same UTC day
    log_call(numbers["front"], at=tokyo(9, 23, 30))
    log_call(numbers["front"], at=tokyo(10, 0, 30))
    log_call(numbers["sales"], at=tokyo(10, 11, 59))
    log_call(numbers["front"], at=tokyo(9, 0, 0, month=2))  # the first day of the window
    log_call(numbers["front"], at=tokyo(8, 23, 59, month=2))  # one minute too old
    log_call(numbers["beta"], at=tokyo(10, 9))  # another tenant's

    with tenant_scope(personas.tenant_a):
        per_day = calllog.call_counts_per_day()

    assert len(per_day) == 30
    assert per_day[0].day == datetime.date(2026, 2, 9)
    assert per_day[-1].day == datetime.date(2026, 3, 10)
    counts = {d.day: d.count for d in per_day if d.count}
    assert counts == {
        datetime.date(2026, 2, 9): 1,
        datetime.date(2026, 3, 9): 1,
        datetime.date(2026, 3, 10): 2,
    }
    assert sum(d.count for d in per_day) == 4  # every other day is there, as zero


def test_it_counts_days_in_another_tenant_time_zone(personas, numbers):
    personas.tenant_a.timezone = "America/New_York"
    personas.tenant_a.save(update_fields=["timezone"])
    # 2026-03-10 12:00 Tokyo is 2026-03-09 23:00 in New York: "today" there is the 9th
    log_call(numbers["front"], at=tokyo(10, 11))  # 21:00 on the 9th in New York
    log_call(numbers["front"], at=tokyo(9, 13, 30))  # 00:30 on the 9th in New York

    with tenant_scope(personas.tenant_a):
        per_day = calllog.call_counts_per_day()

    assert per_day[-1].day == datetime.date(2026, 3, 9)
    assert per_day[-1].count == 2


def test_it_counts_per_day_in_one_query(personas, numbers, django_assert_num_queries):
    for day in range(1, 11):
        log_call(numbers["front"], at=tokyo(day, 10))

    with tenant_scope(personas.tenant_a), django_assert_num_queries(1):
        per_day = calllog.call_counts_per_day()

    assert sum(d.count for d in per_day) == 10


def test_it_draws_the_chart_with_a_titled_bar_per_day(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(9, 23, 30))
    log_call(numbers["front"], at=tokyo(10, 0, 30))
    log_call(numbers["front"], at=tokyo(10, 1, 30))
    client.force_login(personas.viewer_a)

    page = client.get(reverse("call_log")).content.decode()

    svg = page[page.index("<svg") : page.index("</svg>")]
    assert svg.count('<g class="chart-day"') == 30
    assert "<title>2026-03-10: 2 calls</title>" in svg
    assert "<title>2026-03-09: 1 call</title>" in svg
    assert "<title>2026-02-09: 0 calls</title>" in svg
    assert 'data-day="2026-03-10" data-count="2"' in svg
    assert "style=" not in svg  # CSP: no inline styles
    assert "<script>" not in page  # CSP: no inline script either
    # the busiest day is full height, the others in proportion
    assert re.search(
        r'<rect class="chart-bar" x="[\d.]+" y="0.0" width="[\d.]+" height="120.0"', svg
    )
    assert re.search(r'<rect class="chart-bar" x="[\d.]+" y="60.0" [^>]*height="60.0"', svg)


def test_it_draws_the_chart_for_the_filtered_calls(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9), source="fallback")
    log_call(numbers["front"], at=tokyo(10, 10))
    client.force_login(personas.viewer_a)

    page = client.get(reverse("call_log"), {"source": "fallback"}).content.decode()

    assert "<title>2026-03-10: 1 call</title>" in page


def test_it_draws_an_empty_chart_without_dividing_by_zero(client, personas):
    client.force_login(personas.viewer_a)

    page = client.get(reverse("call_log")).content.decode()

    assert page.count('height="0"') == 30
    assert "No calls match." in page
