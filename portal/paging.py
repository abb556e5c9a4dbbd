"""Keyset paging: lists that cost the same on their thousandth page as on their first.

A page is found by where the previous one ended (``after``) or where the next one began
(``before``), never by counting rows to skip (OFFSET reads and throws away every row before the
page) and never by counting the whole list. Rows are ordered by one field and the primary key
(the tie-break), the order an index of the list serves, e.g. ``(tenant, -at)`` for the call log.

A cursor is the row's field value and primary key, ``"<value>|<pk>"`` in URL-safe base64: the
API's call-log cursors have had this form from the start, so cursors handed out before still
work. A cursor says where a page starts, nothing about whose rows they are: the list it is
applied to is already the tenant's, so a cursor of another company's list shows this company's
rows after that point, never the other company's.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import models
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

T = TypeVar("T", bound=models.Model)

# The longest cursor this module writes is well under 100 characters.
MAX_CURSOR_LENGTH = 200


class BadCursor(ValueError):
    """A cursor this module did not write (edited, truncated, or from another list)."""


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    items: list[T]
    next_cursor: str | None  # the page after this one (older, for newest-first lists)
    previous_cursor: str | None  # the page before this one; None on the first page

    @property
    def is_first(self) -> bool:
        return self.previous_cursor is None


def cursor_encode(value: Any, pk: int) -> str:
    text = value.isoformat() if isinstance(value, datetime.datetime) else str(value)
    return base64.urlsafe_b64encode(f"{text}|{pk}".encode()).decode().rstrip("=")


def cursor_decode(cursor: str, *, kind: type) -> tuple[Any, int]:
    """(value, pk) of a cursor whose value is a ``datetime`` (aware) or a ``str``."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        text, _, pk_text = raw.rpartition("|")
        pk = int(pk_text)
        if not text or "\x00" in text or not 0 < pk < 2**63:
            raise ValueError(raw)
        if kind is datetime.datetime:
            value = parse_datetime(text)
            if value is None or timezone.is_naive(value):
                raise ValueError(text)
            return value, pk
        return text, pk
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise BadCursor(cursor) from None


def keyset_page(
    rows: QuerySet[T],
    *,
    field: str,
    size: int,
    after: str = "",
    before: str = "",
    descending: bool = True,
) -> KeysetPage[T]:
    """One page of ``rows`` ordered by ``field`` and the primary key; raises ``BadCursor``.

    ``after``: the page that follows the row of that cursor; ``before``: the page that ends just
    before it. Reads ``size + 1`` rows whatever the depth.
    """
    kind = type(rows.model._meta.get_field(field)).__name__
    value_kind = datetime.datetime if kind == "DateTimeField" else str
    backwards = bool(before) and not after
    cursor = after or before
    position = cursor_decode(cursor, kind=value_kind) if cursor else None
    # Reading backwards (the page before a cursor) walks the index the other way round.
    newest_first = descending != backwards
    order = (f"-{field}", "-pk") if newest_first else (field, "pk")
    if position is not None:
        value, pk = position
        if newest_first:
            rows = rows.filter(**{f"{field}__lte": value}).exclude(**{field: value, "pk__gte": pk})
        else:
            rows = rows.filter(**{f"{field}__gte": value}).exclude(**{field: value, "pk__lte": pk})
    found = list(rows.order_by(*order)[: size + 1])
    more = len(found) > size
    items = found[:size]
    if backwards:
        items.reverse()
        has_next, has_previous = True, more
    else:
        has_next, has_previous = more, position is not None

    def at(item: T) -> str:
        return cursor_encode(getattr(item, field), item.pk)

    return KeysetPage(
        items=items,
        next_cursor=at(items[-1]) if items and has_next else None,
        previous_cursor=at(items[0]) if items and has_previous else None,
    )
