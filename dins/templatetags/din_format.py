"""Numbers, money and durations as people read them (loaded for every template).

``{{ number|phone }}``: 050-1234-5678 for Japanese numbers, +1 415-555-0123 for others.
``{{ amount|credits }}``: "4,500 credits" / "4,500 クレジット", "1 credit".
``{{ seconds|duration }}``: "1 min 5 s" / "1分5秒".
``{{ moment|when }}``: "2026-12-07 12:30 (UTC+09:00)", for e-mails read in any zone.
"""

import datetime
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from portal import phone as phone_numbers

register = template.Library()


@register.filter
def phone(number) -> str:
    return phone_numbers.display(str(number or ""))


def amount_text(amount) -> str:
    """1234.5 → "1,234.5"; whole amounts without decimals."""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return str(amount)
    value = value.quantize(Decimal("0.01"))
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0")


@register.filter
def credits(amount) -> str:
    if amount is None or amount == "":
        return "—"
    text = amount_text(amount)
    try:
        count = int(Decimal(str(amount)))
        whole = Decimal(str(amount)) == count
    except (InvalidOperation, ValueError):
        count, whole = 0, False
    return ngettext("%(amount)s credit", "%(amount)s credits", count if whole else 2) % {
        "amount": text
    }


@register.filter
def duration(seconds) -> str:
    if seconds is None or seconds == "":
        return "—"
    total = round(float(seconds))
    minutes, rest = divmod(total, 60)
    if minutes:
        return _("%(minutes)d min %(seconds)d s") % {"minutes": minutes, "seconds": rest}
    return ngettext("%(seconds)d second", "%(seconds)d seconds", rest) % {"seconds": rest}


@register.filter
def duration_tenths(seconds) -> str:
    """A short recording's length to a tenth of a second: "4.5 s", "1 min 2.0 s"."""
    if seconds is None or seconds == "":
        return "—"
    tenths = round(float(seconds) * 10)
    minutes, rest = divmod(tenths, 600)
    text = f"{rest / 10:.1f}"
    if minutes:
        return pgettext("recording length", "%(minutes)d min %(seconds)s s") % {
            "minutes": minutes,
            "seconds": text,
        }
    return pgettext("recording length", "%(seconds)s s") % {"seconds": text}


@register.filter
def when(moment) -> str:
    """A moment for people who may read it elsewhere (e-mails): in the active (the company's)
    zone, with its offset: "2026-12-07 12:30 (UTC+09:00)"."""
    if not moment:
        return "—"
    local = timezone.localtime(moment)
    offset = local.utcoffset() or datetime.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "\u2212"
    hours, rest = divmod(abs(minutes), 60)
    return f"{local:%Y-%m-%d %H:%M} (UTC{sign}{hours:02d}:{rest:02d})"
