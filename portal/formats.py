"""One format per kind of value for programs: the API, webhooks and the CSV export.

Pages and e-mails write values for people (050-1234-5678, "650 credits"); what a program
reads is written one way wherever it appears (docs/api.md, "Formats", has the table, the
OpenAPI document states it, and ``api/tests/test_formats_contract.py`` checks every output):

- a phone number: E.164 with "+" (``+815012345678``); a withheld caller is ``""``;
- a time: ISO 8601 to the second, in the company's time zone with its offset
  (``2026-12-07T12:30:00+09:00``);
- money: credits as a decimal string with two places (``"650.00"``; 1 credit = 1 JPY
  excl. tax);
- one of the company's numbers: its public id, the ``code`` of ``/api/v1/numbers/{code}``, in
  a field called ``number`` (its digits are ``e164``).

The carrier's own spellings (``815012345678`` without ``+``, ``650.0``) and the database's
(UTC times with microseconds) stop here.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation

from django.utils import timezone

PHONE = re.compile(r"^(\+[1-9]\d{5,14})?$")
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
MONEY = re.compile(r"^-?\d+\.\d{2}$")


def phone_out(value: str | None) -> str:
    """Digits as carriers and the call log keep them ("815012345678"), E.164 with "+" as
    stored elsewhere: "+815012345678". A withheld caller ("", "anonymous") is ""."""
    text = (value or "").strip()
    digits = "".join(character for character in text if character.isdigit())
    if not digits or text.lower() in ("anonymous", "unknown", "private", "withheld"):
        return ""
    return f"+{digits}"


def time_out(value: datetime.datetime | None, zone: datetime.tzinfo) -> datetime.datetime | None:
    """The moment in the company's ``zone``, to the second (for schemas that serialise it)."""
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, datetime.UTC)
    return timezone.localtime(value, zone).replace(microsecond=0)


def time_text(value: datetime.datetime | str | None, zone: datetime.tzinfo) -> str | None:
    """``time_out`` as text: "2026-12-07T12:30:00+09:00" (JSON bodies, CSV cells)."""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    moment = time_out(value, zone)
    return None if moment is None else moment.isoformat()


def money_out(value) -> str | None:
    """650 / 650.0 / "650.0" / Decimal("650.000") → "650.00"; None stays None."""
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"not an amount: {value!r}") from None
    return f"{amount.quantize(Decimal('0.01')):f}"
