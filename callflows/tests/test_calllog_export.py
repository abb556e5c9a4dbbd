"""The call log as CSV: streamed, Excel-readable, filtered like the page, never a formula."""

import csv
import io

import pytest
from django.urls import reverse

from callflows.calllog.export import csv_cell
from callflows.tests import test_calllog as shared
from portal.scoping import scopes_disabled

# The call log tests share their clock (autouse), numbers and row helper; pytest finds
# fixtures by module attribute.
frozen_now = shared.frozen_now
numbers = shared.numbers
log_call = shared.log_call
tokyo = shared.tokyo


def export(client, **params):
    response = client.get(reverse("call_log_export"), params)
    assert response.status_code == 200
    assert response.streaming
    body = b"".join(response.streaming_content)
    return response, body


def parse(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_it_streams_the_calls_as_utf8_csv_with_a_bom(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 0, 30), caller="", rule="夜間", latency_us=1500)
    log_call(numbers["sales"], at=tokyo(10, 9, 15), caller="819011112222", source="fallback")
    client.force_login(personas.viewer_a)

    response, body = export(client)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="calls-20260310.csv"'
    rows = parse(body)
    assert rows[0] == [
        "Time",
        "Number",
        "Number ID",
        "Number label",
        "Caller",
        "Recipient",
        "Rule",
        "Answered by",
        "Command",
        "Latency (ms)",
        "Flow version",
        "Test call",
    ]
    assert len(rows) == 3
    newest, oldest = rows[1], rows[2]
    # ISO times in the tenant's zone (00:30 in Tokyo, the 9th in UTC)
    assert newest[0] == "2026-03-10T09:15:00+09:00"
    assert oldest[0] == "2026-03-10T00:30:00+09:00"
    # numbers as the API writes them: E.164 with "+" (no spreadsheet guard needed), the id
    assert newest[1] == "+" + numbers["sales"].din
    assert newest[2] == str(numbers["sales"].code)
    assert newest[3] == "Sales"
    assert newest[4] == "+819011112222"
    assert newest[7] == "Fallback"
    assert oldest[4] == ""  # withheld
    assert oldest[6] == "夜間"
    assert oldest[9] == "1.500"
    assert oldest[10] == "3"
    assert oldest[11] == ""  # a caller's call, not a test call


def test_it_exports_only_the_tenants_calls(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9), caller="811")
    log_call(numbers["beta"], at=tokyo(10, 9), caller="819999999999")
    client.force_login(personas.owner_a)

    _response, body = export(client)

    callers = [row[4] for row in parse(body)[1:]]
    assert callers == ["+811"]


def test_it_exports_with_the_pages_filters(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9), caller="8110", source="fallback")
    log_call(numbers["front"], at=tokyo(10, 10), caller="8111")
    log_call(numbers["sales"], at=tokyo(10, 11), caller="8112", source="fallback")
    log_call(numbers["front"], at=tokyo(9, 23, 30), caller="8109", source="fallback")
    client.force_login(personas.viewer_a)

    _response, body = export(
        client,
        number=str(numbers["front"].code),
        source="fallback",
        since="2026-03-10",
        until="2026-03-10",
    )

    assert [row[4] for row in parse(body)[1:]] == ["+8110"]


def test_it_ignores_another_tenants_number_in_the_filter(client, personas, numbers):
    log_call(numbers["beta"], at=tokyo(10, 9), caller="819999999999")
    client.force_login(personas.owner_a)

    _response, body = export(client, number=str(numbers["beta"].code))

    assert b"819999999999" not in body


@pytest.mark.parametrize(
    "value,expected",
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("+815012345678", "+815012345678"),  # a phone number (E.164) is no formula
        ("+81 50", "'+81 50"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("Night = closed", "Night = closed"),
        ("", ""),
        (None, ""),
        (42, "42"),
    ],
)
def test_it_neutralises_cells_that_start_a_formula(value, expected):
    assert csv_cell(value) == expected


def test_it_neutralises_formulas_in_the_export(client, personas, numbers):
    with scopes_disabled():
        numbers["front"].label = "@cmd"
        numbers["front"].save(update_fields=["label"])
    log_call(numbers["front"], at=tokyo(10, 9), rule='=HYPERLINK("http://evil")')
    client.force_login(personas.viewer_a)

    _response, body = export(client)

    row = parse(body)[1]
    assert row[3] == "'@cmd"
    assert row[6] == '\'=HYPERLINK("http://evil")'


def test_it_writes_times_in_the_tenants_zone_after_the_request_ended(client, personas, numbers):
    # The body streams after the middleware deactivated the tenant's zone: the export must
    # not fall back to the server's zone (Asia/Tokyo).
    personas.tenant_a.timezone = "America/New_York"
    personas.tenant_a.save(update_fields=["timezone"])
    log_call(numbers["front"], at=tokyo(10, 9))
    client.force_login(personas.viewer_a)

    response, body = export(client)

    assert parse(body)[1][0] == "2026-03-09T20:00:00-04:00"
    assert response["Content-Disposition"] == 'attachment; filename="calls-20260309.csv"'


def test_it_lets_a_viewer_export_and_sends_strangers_to_sign_in(client, personas, numbers):
    log_call(numbers["front"], at=tokyo(10, 9))

    anonymous = client.get(reverse("call_log_export"))
    client.force_login(personas.viewer_a)
    _response, body = export(client)

    assert anonymous.status_code == 302
    assert len(parse(body)) == 2
