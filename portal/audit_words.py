"""The audit log in people's words: actions, objects and the values they changed.

Events store machine codes (``subscription.keep``, ``{"trial": true}``) so that the log can be
filtered and never changes meaning; pages show them through here, in the reader's language.
An unknown code is shown as it is stored rather than hidden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from portal.phone import display

ACTIONS = {
    "alert.acknowledge": gettext_lazy("Alert acknowledged"),
    "api_key.create": gettext_lazy("API key created"),
    "api_key.revoke": gettext_lazy("API key revoked"),
    "webhook.create": gettext_lazy("Webhook added"),
    "webhook.enable": gettext_lazy("Webhook turned on"),
    "webhook.disable": gettext_lazy("Webhook turned off"),
    "webhook.delete": gettext_lazy("Webhook removed"),
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
    "webhookendpoint": gettext_lazy("Webhook"),
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

_E164 = re.compile(r"\+\d{8,15}\b")
_MAX_VALUE = 120


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


def _value(key: str, value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
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
        text = ", ".join(f"{FIELDS.get(k, k)}: {_value(k, v)}" for k, v in value.items())
    else:
        text = numbers_in_words(str(value))
    return text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE] + "…"


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


def changes(before: dict | None, after: dict | None) -> list[Change]:
    """One line per field: its label, the value before and after, in words."""
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    if "rules" in before or "rules" in after:
        return [Change(str(FIELDS["rules"]), "", _("see the call flow's history"))]
    keys = list(dict.fromkeys([*before, *after]))
    return [
        Change(
            str(FIELDS.get(key, key)),
            _value(key, before[key]) if key in before else "",
            _value(key, after[key]) if key in after else "",
        )
        for key in keys
        if before.get(key) != after.get(key) or key not in before
    ]
