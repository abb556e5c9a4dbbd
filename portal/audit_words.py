"""The audit log in people's words: actions, objects and the values they changed.

Events store machine codes (``subscription.keep``, ``{"trial": true}``) so that the log can be
filtered and never changes meaning; pages show them through here, in the reader's language:
every action, field, state, role and cause, times in the company's zone. Codes that belong to
apps above this one (a number's states, a call flow's answer, webhook events) are put into
words by those apps, registered with ``describe_values`` in their ``AppConfig.ready``.

What cannot be translated because someone else wrote it (the carrier's own error text) is
shown as "the carrier's words" with the text itself behind a toggle, marked as English.
An unknown code is shown as it is stored rather than hidden.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.template.defaultfilters import filesizeformat
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy

from portal.models import AlertKind, Language, Role
from portal.phone import display
from portal.zones import zone_label

ACTIONS = {
    "alert.acknowledge": gettext_lazy("Alert acknowledged"),
    "api_key.create": gettext_lazy("API key created"),
    "api_key.revoke": gettext_lazy("API key revoked"),
    "webhook.create": pgettext_lazy("webhook", "Webhook added"),
    "webhook.enable": pgettext_lazy("webhook", "Webhook turned on"),
    "webhook.disable": pgettext_lazy("webhook", "Webhook turned off"),
    "webhook.delete": pgettext_lazy("webhook", "Webhook removed"),
    "audio.create": gettext_lazy("MP3 uploaded"),
    "audio.update": gettext_lazy("MP3 renamed"),
    "audio.delete": gettext_lazy("MP3 deleted"),
    "callerlist.create": gettext_lazy("Caller list created"),
    "callerlist.update": gettext_lazy("Caller list changed"),
    "callerlist.delete": gettext_lazy("Caller list deleted"),
    "callflow.save": gettext_lazy("Call flow saved"),
    "callflow.override": gettext_lazy("Override started"),
    "callflow.override_end": gettext_lazy("Override ended"),
    "closeddate.create": gettext_lazy("Closed dates added"),
    "closeddate.delete": gettext_lazy("Closed dates removed"),
    "invitation.accept": gettext_lazy("Invitation accepted"),
    "invitation.create": gettext_lazy("Invitation sent"),
    "invitation.revoke": gettext_lazy("Invitation revoked"),
    "membership.create": gettext_lazy("Member joined"),
    "membership.remove": gettext_lazy("Member removed"),
    "membership.role_change": gettext_lazy("Role changed"),
    "notification_setting.update": gettext_lazy("Notification settings changed"),
    "outbound_call.request": gettext_lazy("Outbound call requested"),
    "outbound_call.fail": gettext_lazy("Outbound call failed"),
    "outbound_call.settle": gettext_lazy("Outbound call ended"),
    "outbound_call.unknown": gettext_lazy("Outbound call unconfirmed"),
    "subscription.request": gettext_lazy("Subscription requested"),
    "subscription.activate": gettext_lazy("Number active"),
    "subscription.fail": gettext_lazy("Subscription failed"),
    "subscription.unknown": gettext_lazy("Subscription unconfirmed"),
    "subscription.keep": gettext_lazy("Trial kept"),
    "subscription.release_request": gettext_lazy("Release requested"),
    "subscription.release": gettext_lazy("Number released"),
    "subscription.rotate_token": gettext_lazy("New action URL issued"),
    "subscription.update": gettext_lazy("Number label changed"),
    "subscription.test_call": gettext_lazy("Test call placed"),
    "subscription.carrier_missing": gettext_lazy("Number missing at the carrier"),
    "subscription.recover": gettext_lazy("Number found at the carrier after all"),
    "tenant.update": gettext_lazy("Company settings changed"),
    "ttsscript.create": gettext_lazy("Script created"),
    "ttsscript.update": gettext_lazy("Script changed"),
    "ttsscript.delete": gettext_lazy("Script deleted"),
}

OBJECTS = {
    "subscription": gettext_lazy("Number"),
    "callflow": gettext_lazy("Call flow"),
    "audiofile": gettext_lazy("MP3"),
    "ttsscript": gettext_lazy("Script"),
    "callerlist": gettext_lazy("Caller list"),
    "closeddate": gettext_lazy("Closed dates"),
    "membership": gettext_lazy("Member"),
    "invitation": gettext_lazy("Invitation"),
    "tenant": gettext_lazy("Company"),
    "notificationsetting": gettext_lazy("Notification settings"),
    "alert": gettext_lazy("Alert"),
    "apikey": gettext_lazy("API key"),
    "webhookendpoint": pgettext_lazy("webhook", "Webhook"),
    "outboundcall": gettext_lazy("Outbound call"),
}

FIELDS = {
    "name": gettext_lazy("Name"),
    "label": gettext_lazy("Label"),
    "description": gettext_lazy("Description"),
    "role": gettext_lazy("Role"),
    "email": gettext_lazy("E-mail address"),
    "din": gettext_lazy("Number"),
    "trial": gettext_lazy("Trial"),
    "status": gettext_lazy("Status"),
    "automatic": gettext_lazy("Automatic"),
    "reason": gettext_lazy("Reason"),
    "why": gettext_lazy("Reason"),
    "accepted_at": gettext_lazy("Accepted at"),
    "timezone": gettext_lazy("Time zone"),
    "language": gettext_lazy("Language"),
    "allow_international_transfer": gettext_lazy("Transfers abroad"),
    "allow_premium_destinations": gettext_lazy("Premium-rate and shared-cost numbers"),
    "retry": gettext_lazy("Tried again"),
    "cause": gettext_lazy("Cause"),
    "caller": gettext_lazy("Caller"),
    "url": gettext_lazy("URL"),
    "events": gettext_lazy("Events"),
    "prefix": gettext_lazy("Key"),
    "file": gettext_lazy("File"),
    "size_bytes": gettext_lazy("Size"),
    "duration_seconds": gettext_lazy("Length"),
    "text": gettext_lazy("Text"),
    "numbers": gettext_lazy("Numbers"),
    "date": gettext_lazy("Date"),
    "end": pgettext_lazy("last day", "To"),
    "note": gettext_lazy("Note"),
    "recipient": gettext_lazy("Recipient"),
    "caller_id": gettext_lazy("Caller ID"),
    "local_caller_id": gettext_lazy("Local caller ID"),
    "message": gettext_lazy("Message"),
    "callid": gettext_lazy("Carrier call ID"),
    "source": gettext_lazy("Reported by"),
    "until": gettext_lazy("Until"),
    "action": gettext_lazy("Answer"),
    "rules": gettext_lazy("Rules"),
    "default": gettext_lazy("Otherwise (default)"),
    "notify_owners": gettext_lazy("Owners"),
    "notify_admins": gettext_lazy("Admins"),
    "notify_staff": gettext_lazy("Staff"),
    "extra_addresses": gettext_lazy("Extra addresses"),
}

# Failure reasons keep the carrier's own words on a line starting with this
# (``OutboundCall.TROUBLE_CARRIER`` is the same).
CARRIER_PREFIX = "carrier: "
_E164 = re.compile(r"\+\d{8,15}\b")
_MAX_VALUE = 120
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
# Text with a letter of Japanese in it was written for people here (the portal's own words,
# in the company's language); plain ASCII prose in a reason is the carrier's.
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")
CAUSES = {
    "carrier": gettext_lazy("the carrier"),
    "queue": gettext_lazy("the task queue (nothing was sent to the carrier)"),
}
# Reasons the portal itself stored in English before they were codes (audit "why"/"reason").
KNOWN_REASONS = {
    "the worker stopped while placing the call": gettext_lazy(
        "the portal's worker stopped while placing the call"
    ),
    "the carrier holds the number this attempt asked for": gettext_lazy(
        "the carrier holds the number this attempt asked for"
    ),
    "credentials rejected (HTTP 401)": gettext_lazy(
        "the carrier rejected the portal's credentials (error 401)"
    ),
    "The task queue (broker) could not be reached in time; nothing was sent to the carrier.": (
        gettext_lazy(
            "The task queue could not be reached in time; nothing was sent to the carrier."
        )
    ),
}
# (object type or "*", field) → the value in words; registered by the apps that own the codes.
_value_words: dict[tuple[str, str], Callable[[Any], str | None]] = {}


def describe_values(object_type: str, field: str, words: Callable[[Any], str | None]) -> None:
    """Let an app above put its codes into words (``("subscription", "status")``: states)."""
    _value_words[(object_type, field)] = words


def choice_words(choices) -> Callable[[Any], str | None]:
    """``describe_values``'s words for a model's ``TextChoices``: each code's label."""
    return lambda value: str(choices(value).label) if value in choices.values else None


def action_label(code: str) -> str:
    return str(ACTIONS.get(code, code))


def object_label(model_name: str) -> str:
    return str(OBJECTS.get(model_name, model_name))


# Changes made through the API are recorded as "apikey:<prefix>:<name>" (api.auth).
API_KEY_ACTOR = "apikey:"


def actor_label(event) -> str:
    if event.actor_id is None and event.actor_label == "system":
        return _("System (automatic)")
    if event.actor_id is None and event.actor_label.startswith(API_KEY_ACTOR):
        _kind, prefix, name = event.actor_label.split(":", 2)
        return _("API key “%(name)s” (%(prefix)s)") % {"name": name, "prefix": prefix}
    return event.actor_label or "—"


def numbers_in_words(text: str) -> str:
    """Any E.164 number inside ``text`` written the way people read it."""
    return _E164.sub(lambda match: display(match.group()), text or "")


def local_time(text: str) -> str | None:
    """An ISO time stored in an event, in the active (the company's) zone: 2026-12-07 18:00."""
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if timezone.is_naive(moment):
        return None
    return formats.date_format(timezone.localtime(moment), "Y-m-d H:i")


def is_foreign_text(text: str) -> bool:
    """Free text a Japanese reader would get in English (the carrier's error messages)."""
    language = translation.get_language() or "ja"
    return (
        not language.startswith("en")
        and bool(re.search(r"[A-Za-z]{3}", text))
        and not _JAPANESE.search(text)
    )


def _fixed_value(key: str, value, object_type: str) -> str | None:
    """Codes this app knows: roles, languages, zones, causes, sizes, lengths, times."""
    words = _value_words.get((object_type, key)) or _value_words.get(("*", key))
    if words is not None:
        described = words(value)
        if described is not None:
            return described
    if key == "role" and value in Role.values:
        return str(Role(value).label)
    if key == "language" and value in Language.values:
        return str(Language(value).label)
    if key == "timezone" and isinstance(value, str):
        return zone_label(value)
    if key == "cause" and value in CAUSES:
        return str(CAUSES[value])
    if key == "size_bytes" and isinstance(value, int):
        return filesizeformat(value)
    if key == "duration_seconds" and isinstance(value, int | float):
        seconds = round(value)
        return ngettext("%(seconds)d second", "%(seconds)d seconds", seconds) % {"seconds": seconds}
    if isinstance(value, str) and _ISO_TIME.match(value):
        return local_time(value)
    return None


def _value(key: str, value, object_type: str = "") -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    fixed = _fixed_value(key, value, object_type)
    if fixed is not None:
        return fixed
    if key == "din" and isinstance(value, str):
        return display(value)
    if isinstance(value, list):
        if all(isinstance(item, str) for item in value):
            text = ", ".join(numbers_in_words(item) for item in value)
        else:
            text = _("%(count)d items") % {"count": len(value)}
    elif isinstance(value, dict):
        if key in ("rules",) or "rules" in value:
            return _("see the call flow's history")
        text = ", ".join(
            f"{FIELDS.get(k, k)}: {_value(k, v, object_type)}" for k, v in value.items()
        )
    else:
        text = numbers_in_words(str(value))
        if text in KNOWN_REASONS:
            text = str(KNOWN_REASONS[text])
    return text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE] + "…"


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str
    # The carrier's own words, in English, shown behind a toggle (``after`` then says so).
    after_raw: str = ""


def reason_parts(text: str) -> tuple[str, str]:
    """A failure reason as (the portal's words, the carrier's own English text).

    Stored as "<words>" then a line "carrier: <text>" (``OutboundCall.failure_reason``, a
    test call's problem); a reason that is only the carrier's text (or an older one stored
    in English) is all carrier's, for a reader of another language.
    """
    words, _newline, raw = str(text or "").partition("\n" + CARRIER_PREFIX)
    if not raw and words.startswith(CARRIER_PREFIX):
        words, raw = "", words.removeprefix(CARRIER_PREFIX)
    if not raw and words not in KNOWN_REASONS and is_foreign_text(words):
        words, raw = "", words
    return words, raw


def _change(key: str, before: dict, after: dict, object_type: str) -> Change:
    shown_before = _value(key, before[key], object_type) if key in before else ""
    raw = after.get(key)
    if isinstance(raw, str) and "\n" + CARRIER_PREFIX in raw:
        words, carrier_text = reason_parts(raw)
        return Change(str(FIELDS.get(key, key)), shown_before, words, after_raw=carrier_text)
    if (
        isinstance(raw, str)
        and raw not in KNOWN_REASONS
        and is_foreign_text(raw)
        and _fixed_value(key, raw, object_type) is None
    ):
        return Change(
            str(FIELDS.get(key, key)),
            shown_before,
            _("the carrier's message (in English)"),
            after_raw=raw[:300],
        )
    shown_after = _value(key, after[key], object_type) if key in after else ""
    return Change(str(FIELDS.get(key, key)), shown_before, shown_after)


def changes(before: dict | None, after: dict | None, object_type: str = "") -> list[Change]:
    """One line per field: its label, the value before and after, in words."""
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    if "rules" in before or "rules" in after:
        return [Change(str(FIELDS["rules"]), "", _("see the call flow's history"))]
    keys = list(dict.fromkeys([*before, *after]))
    return [
        _change(key, before, after, object_type)
        for key in keys
        if before.get(key) != after.get(key) or key not in before
    ]


_MEMBERSHIP = re.compile(r"^(?P<person>.*) @ .* \((?P<role>[a-z]+)\)$")


def object_words(event) -> str:
    """What the event was about, in words: the name it had, with numbers and roles as people
    read them (``str()`` of the object was stored, in whatever language was active then)."""
    text = event.object_repr or ""
    if event.object_type == "membership":
        match = _MEMBERSHIP.match(text)
        if match and match["role"] in Role.values:
            return f"{match['person']} ({Role(match['role']).label})"
    if event.object_type == "notificationsetting":
        return ""
    if event.object_type == "alert":
        for kind in AlertKind:
            for language in ("en", "ja"):
                with translation.override(language):
                    label = str(kind.label)
                if text.startswith(label):
                    return f"{kind.label}{numbers_in_words(text[len(label) :])}"
    words = _value_words.get((event.object_type, "__str__"))
    if words is not None:
        described = words(text)
        if described is not None:
            return described
    return numbers_in_words(text)
