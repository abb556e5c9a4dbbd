"""Phone numbers as people write them, and as the carrier needs them.

People type numbers the way they dial them (``090-1234-5678``, full-width digits and
brackets from a Japanese input method, ``+81 90 1234 5678``) and read Japanese numbers in the
domestic format (``050-1234-5678``, ``0120-123-456``, ``03-1234-5678``). The carrier and the
database want E.164 (``+819012345678``). This module is the one place that turns one into the other:

- ``parse`` reads any common written form into E.164 (a number without a country code is
  Japanese), or raises ``PhoneNumberInvalid`` with a message the typist can act on;
- ``display`` writes a stored number (E.164, with or without "+", or bare digits as the carrier
  sends callers) the way people read it: domestic for Japan, international otherwise;
- ``digits`` is the form the action URL compares callers in (E.164 without "+");
- ``number_search`` reads what someone typed to find a number (a caller in the call log, a
  number among a company's numbers): its start, its last digits, or either.

Every input that takes a number (preview caller, caller lists, transfer targets, outbound
recipients, the release confirmation) goes through ``parse``; every page and e-mail shows
numbers through ``display`` (the ``phone`` template filter).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from django.utils.translation import gettext as _

JAPAN = "JP"
# Separators people put in numbers: spaces, hyphens and dashes of every width, dots, brackets.
# (NFKC has already turned full-width forms into these.)
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\uff70.()\[\]/]")
_WRITTEN = re.compile(r"\+?[0-9]{2,17}")


class PhoneNumberInvalid(ValueError):
    """The text is not a phone number; ``str(error)`` says why, in the user's language."""


def compact(text: str) -> str:
    """``text`` without separators, full-width characters made ASCII ("" for None)."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text or "").strip())


def parse(text: str, *, region: str = JAPAN) -> str:
    """E.164 (``+819012345678``) of a number written any common way, or ``PhoneNumberInvalid``.

    A number without a country code is read as a number of ``region`` (Japan). ``phonenumbers``
    would silently drop a trunk 0 written after the country code (``+81 090…``); the carrier
    refuses such numbers and the typist probably meant something else, so it is refused with
    the right spelling.
    """
    written = compact(text)
    if not written:
        raise PhoneNumberInvalid(_("Enter a phone number."))
    if written.startswith("010"):  # the international call prefix, as dialled from Japan
        written = "+" + written[3:]
    if not _WRITTEN.fullmatch(written):
        raise PhoneNumberInvalid(
            _("“%(text)s” is not a phone number: use digits, optionally with a leading +.")
            % {"text": _shown(text)}
        )
    try:
        parsed = phonenumbers.parse(written, region)
    except phonenumbers.NumberParseException:
        raise PhoneNumberInvalid(
            _("“%(text)s” is not a phone number.") % {"text": _shown(text)}
        ) from None
    canonical = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    country = str(parsed.country_code)
    if written.startswith("+") and written[1 + len(country) :][:1] == "0":
        raise PhoneNumberInvalid(
            _(
                "Remove the 0 after the country code: write %(right)s (or %(national)s as "
                "dialled in the country)."
            )
            % {"right": canonical, "national": display(canonical)}
        )
    if not phonenumbers.is_valid_number(parsed):
        raise PhoneNumberInvalid(
            _("%(number)s does not exist: check the digits.") % {"number": _shown(text)}
        )
    return canonical


def parse_or_none(text: str, *, region: str = JAPAN) -> str | None:
    try:
        return parse(text, region=region)
    except PhoneNumberInvalid:
        return None


def _shown(text: str) -> str:
    text = (text or "").strip()
    return text if len(text) <= 40 else text[:40] + "…"


def _parsed(number: str):
    text = (number or "").strip()
    if not text:
        return None
    if not text.startswith("+"):
        text = "+" + text if text.isdigit() and not text.startswith("0") else text
    try:
        return phonenumbers.parse(text, JAPAN)
    except phonenumbers.NumberParseException:
        return None


def display(number: str | None) -> str:
    """How people read a stored number: ``050-1234-5678`` for Japan, ``+1 415-555-0123`` else.

    Takes E.164 with or without "+" (the carrier sends callers both ways) or a domestic number;
    returns the text unchanged when it is not a number at all.
    """
    parsed = _parsed(number or "")
    if parsed is None or not phonenumbers.is_possible_number(parsed):
        return number or ""
    if parsed.country_code == 81:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def digits(e164: str) -> str:
    """E.164 without "+": how the action URL compares callers."""
    return e164.lstrip("+")


def same_number(typed: str, e164: str) -> bool:
    """Whether ``typed`` is exactly ``e164`` written some usual way (separators aside).

    For confirmations ("type the number to release it"): any extra character, letter or digit
    makes it a different text, so ``0120-638-670x`` does not confirm ``+81120638670``.
    """
    written = compact(typed)
    if not written or not _WRITTEN.fullmatch(written):
        return False
    national = compact(display(e164))
    return written in {e164, e164.lstrip("+"), national}


@dataclass(frozen=True)
class NumberSearch:
    """What a person typed to find a number, against numbers stored as E.164 digits.

    ``start``: digits the number starts with: typed with a leading + (+81 90…), or as dialled
    in Japan (090-1234…), the trunk 0 read as +81. ``end``: digits the number ends with: bare
    digits (5678). Digits with a leading 0 and no separator (0123) are both: the start of a
    number as dialled, or its last digits; a number matches either.
    """

    digits: str  # as typed, digits only
    start: str | None
    end: str | None


def number_search(text: str) -> NumberSearch | None:
    """The search ``text`` means (full-width digits too), or None when it holds no digit."""
    written = unicodedata.normalize("NFKC", text or "").strip()
    packed = compact(written)
    digits = "".join(ch for ch in packed if ch.isascii() and ch.isdigit())
    if not digits:
        return None
    if packed.startswith("+"):
        return NumberSearch(digits, start=digits, end=None)
    if packed.startswith("0"):
        national = "81" + digits[1:]  # the trunk 0 of a Japanese number
        separated = bool(_SEPARATORS.search(written))  # 090-1234: a number from its start
        return NumberSearch(digits, start=national, end=None if separated else digits)
    return NumberSearch(digits, start=None, end=digits)
