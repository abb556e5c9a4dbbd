"""The call log as CSV: the columns of the page's export and of the API's, one place.

Values are written as the API writes them (``portal.formats``): numbers E.164 with "+", the
number's public id beside it, times ISO 8601 to the second with the company's offset, a
withheld caller empty.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterator

from django.db import connection, transaction
from django.utils.translation import gettext as _

from callflows.calllog import selectors as calllog
from portal.formats import phone_out, time_text
from portal.scoping import tenant_scope

# A line feed too: spreadsheets drop a leading line break and read what follows as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
# "+815012345678" is a phone number, not a formula: nothing in it can run.
E164 = re.compile(r"\+\d{1,15}")


def csv_cell(value) -> str:
    """A value as a CSV cell that no spreadsheet evaluates (an E.164 number stays as it is)."""
    text = "" if value is None else str(value)
    if E164.fullmatch(text):
        return text
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


# Rows a chunk of the response holds: one write to the client per ~60 KB, not per row.
ROWS_PER_CHUNK = 500
FETCH_ROWS = 2000


@contextlib.contextmanager
def _streaming_transaction(zone_name: str):
    """Where the export's rows are read from.

    On PostgreSQL ``iterator()`` reads through a server-side cursor. Outside a transaction
    Django declares it ``WITH HOLD``, and PostgreSQL then builds the whole result (a temporary
    file of hundreds of MB at a million calls) before the first row leaves; inside one the
    rows come as the index yields them, the first in milliseconds. The transaction's time
    zone is the company's, in which PostgreSQL writes each call's time (``IsoTime``). SQLite
    streams with a plain cursor, and a transaction there would hold the write lock for the
    whole download.
    """
    if connection.vendor != "postgresql":
        yield False
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('TimeZone', %s, true)", [zone_name])
        yield True


def call_log_csv_chunks(calls, *, tenant) -> Iterator[bytes]:
    """The export, produced while the response streams: UTF-8 with a BOM, in chunks.

    The body is iterated after the view returned, when the middleware has closed the tenant
    scope and deactivated the tenant's time zone. ``calls`` carries its tenant filter from
    when it was built; the generator still re-opens the scope (fail closed for anything read
    lazily) and converts times with the tenant's zone explicitly. Rows are read as tuples
    (``calllog.call_log_rows``), never as models.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    zone = tenant.zone
    buffer.write("\ufeff")  # the BOM: Excel (Japanese Windows) reads UTF-8 only with it
    writer.writerow(
        [
            _("Time"),
            _("Number"),
            _("Number ID"),
            _("Number label"),
            _("Caller"),
            _("Recipient"),
            _("Rule"),
            _("Answered by"),
            _("Command"),
            _("Latency (ms)"),
            _("Flow version"),
            _("Test call"),
        ]
    )
    yield _take(buffer)
    yes = _("yes")
    sources = {key: str(label) for key, label in calllog.SOURCE_CHOICES}
    batch: list[list[str]] = []
    with tenant_scope(tenant), _streaming_transaction(tenant.timezone) as times_as_text:
        rows = calllog.call_log_rows(calls, times_as_text=times_as_text)
        for (
            at,
            din,
            code,
            label,
            caller,
            recipient,
            rule,
            source,
            command,
            latency,
            version,
            test,
        ) in rows.iterator(chunk_size=FETCH_ROWS):
            # Numbers, times and our own words cannot start a formula; what people or the
            # carrier wrote can (csv_cell).
            batch.append(
                [
                    at if times_as_text else time_text(at, zone) or "",
                    phone_out(din),
                    str(code),
                    csv_cell(label),
                    csv_cell(phone_out(caller)),
                    csv_cell(phone_out(recipient)),
                    csv_cell(rule),
                    sources.get(source, source),
                    csv_cell(command),
                    f"{latency / 1000:.3f}",
                    "" if version is None else str(version),
                    yes if test else "",
                ]
            )
            if len(batch) >= ROWS_PER_CHUNK:
                writer.writerows(batch)
                batch = []
                yield _take(buffer)
    writer.writerows(batch)
    yield _take(buffer)


def _take(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data
