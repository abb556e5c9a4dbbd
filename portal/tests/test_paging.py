"""Keyset paging: every row once, in order, whatever the depth; broken cursors refused."""

import datetime

import pytest
from django.utils import timezone

from portal.models import AuditEvent
from portal.paging import BadCursor, cursor_decode, cursor_encode, keyset_page
from portal.scoping import tenant_scope


@pytest.fixture
def events(personas):
    # 23 events, some sharing a time (the primary key breaks the tie)
    now = timezone.now()
    with tenant_scope(personas.tenant_a):
        for n in range(23):
            AuditEvent.objects.create(
                tenant=personas.tenant_a, action="x", object_repr=str(n), actor_label="a"
            )
        for n, event in enumerate(AuditEvent.objects.order_by("pk")):
            event.created_at = now - datetime.timedelta(minutes=n // 3)
            event.save(update_fields=["created_at"])
        return list(AuditEvent.objects.order_by("-created_at", "-pk"))


def _walk(rows, *, forward: bool, size: int = 5):
    seen, cursor = [], ""
    while True:
        page = keyset_page(rows, field="created_at", size=size, after=cursor)
        seen += page.items
        if not page.next_cursor:
            return seen
        cursor = page.next_cursor


def test_it_pages_through_every_row_once_in_order(personas, events):
    with tenant_scope(personas.tenant_a):
        seen = _walk(AuditEvent.objects.all(), forward=True)

    assert [e.pk for e in seen] == [e.pk for e in events]


def test_it_pages_back_to_where_it_came_from(personas, events):
    with tenant_scope(personas.tenant_a):
        rows = AuditEvent.objects.all()
        first = keyset_page(rows, field="created_at", size=5)
        second = keyset_page(rows, field="created_at", size=5, after=first.next_cursor)
        back = keyset_page(rows, field="created_at", size=5, before=second.previous_cursor)
        last = keyset_page(
            rows,
            field="created_at",
            size=5,
            after=cursor_encode(events[-3].created_at, events[-3].pk),
        )

    assert first.is_first and first.previous_cursor is None
    assert [e.pk for e in second.items] == [e.pk for e in events[5:10]]
    assert [e.pk for e in back.items] == [e.pk for e in events[:5]]
    assert back.is_first
    assert [e.pk for e in last.items] == [e.pk for e in events[-2:]]
    assert last.next_cursor is None and last.previous_cursor is not None


def test_it_reads_one_row_more_than_a_page_whatever_the_depth(
    personas, events, django_assert_num_queries
):
    deep = cursor_encode(events[20].created_at, events[20].pk)
    with tenant_scope(personas.tenant_a), django_assert_num_queries(1) as captured:
        keyset_page(AuditEvent.objects.all(), field="created_at", size=5, after=deep)

    assert "LIMIT 6" in captured.captured_queries[0]["sql"]
    assert "OFFSET" not in captured.captured_queries[0]["sql"]


@pytest.mark.parametrize(
    "cursor",
    [
        "x",
        "%00",
        "A" * 500,
        cursor_encode("not a time", 1),
        cursor_encode(
            datetime.datetime(2026, 1, 1),
            1,  # naive
        ),
        "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHwtMQ",
        "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHw5OTk5OTk5OTk5OTk5OTk5OTk5OTk",
    ],
)
def test_it_refuses_a_cursor_it_did_not_write(cursor):
    with pytest.raises(BadCursor):
        cursor_decode(cursor, kind=datetime.datetime)


def test_a_cursor_round_trips():
    at = datetime.datetime(2026, 3, 10, 12, 0, 0, 123456, tzinfo=datetime.UTC)

    assert cursor_decode(cursor_encode(at, 42), kind=datetime.datetime) == (at, 42)
    assert cursor_decode(cursor_encode("81501234", 7), kind=str) == ("81501234", 7)
