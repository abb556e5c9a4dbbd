"""Time zones as people know them: "Japan Time (UTC+09:00)" (日本時間), not ``Asia/Tokyo``.

The company's zone is stored by its IANA name (what ``zoneinfo`` and the compiled flows
read); people choose it from names in their own language (Babel's CLDR data: "日本時間",
"United States (New York) Time"), with the offset in force today, grouped by country
with Japan first. Only canonical zones are offered (CLDR's zones of each territory, 451
rather than the 599 names with aliases such as ``Japan`` or ``US/Eastern``) and UTC; a
company whose stored zone is an alias still sees it, named the same way.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Mapping
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import get_timezone_location
from django.utils import timezone, translation
from django.utils.translation import gettext as _

FIRST_TERRITORY = "JP"
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Etc/Zulu"})


def _locale(language: str | None) -> Locale:
    try:
        return Locale.parse((language or "ja").replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale("en")


def utc_offset(name: str, *, at: datetime.datetime | None = None) -> str:
    """ "UTC+09:00", "UTC-05:00" (with a true minus sign, U+2212), "UTC±00:00"."""
    moment = at or timezone.now()
    offset = moment.astimezone(zoneinfo.ZoneInfo(name)).utcoffset() or datetime.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC±00:00"
    sign = "+" if minutes > 0 else "\u2212"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


def _place(name: str, locale: Locale) -> str:
    if name in UTC_NAMES:
        return _("Coordinated Universal Time")
    try:
        return get_timezone_location(name, locale=locale)
    except (LookupError, ValueError):
        return name


def zone_label(name: str, *, language: str | None = None) -> str:
    """The zone in words with today's offset: "Japan Time (UTC+09:00)", in ``language``."""
    language = language or translation.get_language()
    with translation.override(language):
        place = _place(name, _locale(language))
        return _("%(place)s (%(offset)s)") % {"place": place, "offset": utc_offset(name)}


@lru_cache(maxsize=8)
def _grouped(language: str, day: datetime.date) -> tuple:
    locale = _locale(language)
    territories: Mapping[str, list[str]] = get_global("territory_zones")
    available = zoneinfo.available_timezones()
    groups = []
    with translation.override(language):
        for territory, zones in territories.items():
            # Places only: CLDR also lists POSIX rule names (EST5EDT) under no country.
            names = [
                zone
                for zone in dict.fromkeys(zones)
                if zone in available and "/" in zone and not zone.startswith("Etc/")
            ]
            if not names:
                continue
            country = locale.territories.get(territory, territory)
            options = sorted(
                ((zone, zone_label(zone, language=language)) for zone in names),
                key=lambda option: option[1],
            )
            groups.append((territory, country, tuple(options)))
        groups.sort(key=lambda group: (group[0] != FIRST_TERRITORY, group[1]))
        universal = (("UTC", zone_label("UTC", language=language)),)
        return (
            *((country, options) for _territory, country, options in groups),
            (_("Coordinated Universal Time"), universal),
        )


def zone_choices(*, language: str | None = None, current: str = "") -> list:
    """Choices for a select, grouped by country (Japan first), in ``language``.

    ``current`` (the stored zone) is offered even when it is an alias CLDR does not list.
    """
    language = language or translation.get_language() or "ja"
    choices = [
        (group, list(options)) for group, options in _grouped(language, timezone.now().date())
    ]
    offered = {value for _group, options in choices for value, _label in options}
    if current and current not in offered and current in zoneinfo.available_timezones():
        choices.insert(0, (_("Current"), [(current, zone_label(current, language=language))]))
    return choices
