"""The call log as CSV: the columns of the page's export and of the API's, one place.

Values are written as the API writes them (``portal.formats``): numbers E.164 with "+", the
number's public id beside it, times ISO 8601 with the company's offset, a withheld caller
empty.
"""

from __future__ import annotations

import csv
import re

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


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def call_log_csv_lines(calls, *, tenant):
    """The export's lines, produced while the response streams.

    The body is iterated after the view returned, when the middleware has closed the tenant
    scope and deactivated the tenant's time zone. ``calls`` carries its tenant filter from
    when it was built; the generator still re-opens the scope (fail closed for anything read
    lazily) and converts times with the tenant's zone explicitly.
    """
    writer = csv.writer(_Echo())
    zone = tenant.zone
    yield "\ufeff"  # the BOM: Excel (Japanese Windows) reads UTF-8 only with it
    yield writer.writerow(
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
    with tenant_scope(tenant):
        for call in calls.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    csv_cell(time_text(call.at, zone)),
                    csv_cell(phone_out(call.subscription.din)),
                    str(call.subscription.code),
                    csv_cell(call.subscription.label),
                    csv_cell(phone_out(call.caller)),
                    csv_cell(phone_out(call.recipient)),
                    csv_cell(call.rule),
                    csv_cell(calllog.SOURCE_LABELS.get(call.source, call.source)),
                    csv_cell(call.command),
                    f"{call.latency_us / 1000:.3f}",
                    "" if call.flow_version is None else str(call.flow_version),
                    _("yes") if call.is_test else "",
                ]
            )
