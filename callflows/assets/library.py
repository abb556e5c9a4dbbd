"""What every kind of asset shares: the limits of a company's library, the rule that an asset
a live flow uses cannot be deleted, and publishing again the flows that use a changed asset
(a flow is compiled with the asset's URL, text or numbers baked in).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from callflows.assets.selectors import AUDIO, CALLER_LIST, SCRIPT, asset_users
from callflows.flows.publishing import flows_publish
from callflows.models import AudioFile, CallerList, TtsScript
from dins.models import Subscription
from portal.names import name_key
from portal.phone import display
from portal.services import ServiceError
from portal.text import UnstorableText, is_storable

MAX_CALLER_LIST_NUMBERS = 2000  # every number is compiled into the flow the action URL caches
# The text of a list at its limit, generously: 2,000 lines of a formatted number and a note.
MAX_CALLER_LIST_CHARACTERS = MAX_CALLER_LIST_NUMBERS * 40
# The form lists this many bad lines; a paste of 40,000 wrong lines does not become a page of
# 40,000 messages.
MAX_LINE_ERRORS_SHOWN = 20
# [choice] Per company. Every asset is offered in each rule of the call-flow editor and every
# MP3 is kept on disk: a library without a bound is a page and a disk without a bound.
LIBRARY_LIMITS = {AUDIO: 200, SCRIPT: 200, CALLER_LIST: 50}
# Closed dates are compiled into every flow; planning further ahead than this is not needed.
CLOSED_DATE_MAX_DAYS_AHEAD = 2 * 366
ESPEAK = "espeak-ng"
TTS_PREVIEW_TIMEOUT_SECONDS = 10


def audio_limits() -> tuple[int, float]:
    """(bytes, seconds) of an MP3 upload (settings ``AUDIO_MAX_BYTES``, ``AUDIO_MAX_SECONDS``)."""
    return settings.AUDIO_MAX_BYTES, settings.AUDIO_MAX_SECONDS


def library_limit(kind: str) -> int:
    return LIBRARY_LIMITS[kind]


def refuse_when_library_full(kind: str) -> None:
    model = {AUDIO: AudioFile, SCRIPT: TtsScript, CALLER_LIST: CallerList}[kind]
    # Checked without a lock: two uploads in the same instant may pass one over the limit,
    # which bounds the library just as well.
    count = model.objects.count()
    if count >= LIBRARY_LIMITS[kind]:
        messages = {
            AUDIO: _(
                "Your company keeps %(count)d recordings, the most allowed. "
                "Delete one it no longer uses first."
            ),
            SCRIPT: _(
                "Your company keeps %(count)d spoken texts, the most allowed. "
                "Delete one it no longer uses first."
            ),
            CALLER_LIST: _(
                "Your company keeps %(count)d caller lists, the most allowed. "
                "Delete one it no longer uses first."
            ),
        }
        raise ServiceError(messages[kind] % {"count": count})


_Asset = type[AudioFile] | type[TtsScript] | type[CallerList]


def _name_field(kind: str) -> tuple[_Asset, str]:
    fields: dict[str, tuple[_Asset, str]] = {
        AUDIO: (AudioFile, "label"),
        SCRIPT: (TtsScript, "name"),
        CALLER_LIST: (CallerList, "name"),
    }
    return fields[kind]


def duplicate_name_message(kind: str, name: str) -> str:
    messages = {
        AUDIO: _(
            "A recording named “%(name)s” already exists. Names are compared ignoring upper "
            "and lower case and full-width letters; choose another name."
        ),
        SCRIPT: _(
            "A spoken text named “%(name)s” already exists. Names are compared ignoring upper "
            "and lower case and full-width letters; choose another name."
        ),
        CALLER_LIST: _(
            "A caller list named “%(name)s” already exists. Names are compared ignoring upper "
            "and lower case and full-width letters; choose another name."
        ),
    }
    return messages[kind] % {"name": name}


def refuse_duplicate_name(kind: str, name: str, *, instead_of=None) -> None:
    """``ServiceError`` when another asset of ``kind`` has this name for a person (full-width
    "VIP" is "vip"); ``instead_of`` is the asset being renamed. The unique constraint on
    ``name_key`` stands behind this check for two saves in the same instant."""
    model, field = _name_field(kind)
    if not is_storable(name):  # refused before it reaches a query: PostgreSQL cannot take it
        raise UnstorableText(f"{model.__name__}.{field}")
    others = model.objects.filter(name_key=name_key(name))
    if instead_of is not None:
        others = others.exclude(pk=instead_of.pk)
    existing = others.first()
    if existing is not None:
        raise ServiceError(duplicate_name_message(kind, getattr(existing, field)))


def republish_flows_of(subscriptions: Iterable[Subscription]) -> None:
    """Publish these numbers' flows again, in this transaction: the asset is baked in."""
    flows_publish(
        subscriptions={subscription.pk: subscription for subscription in subscriptions}.values()
    )


def numbers_text(subscriptions: list[Subscription]) -> str:
    return ", ".join(display(subscription.e164) for subscription in subscriptions)


def refuse_delete_while_used(*, kind: str, asset, label: str) -> None:
    users = asset_users(kind=kind, code=asset.code)
    if users:
        raise ServiceError(
            ngettext(
                "“%(label)s” cannot be deleted: the call flow of %(numbers)s uses it. "
                "Change that flow first.",
                "“%(label)s” cannot be deleted: the call flows of %(numbers)s use it. "
                "Change those flows first.",
                len(users),
            )
            % {"label": label, "numbers": numbers_text(users)}
        )
