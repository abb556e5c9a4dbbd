"""The audit log in words for templates (loaded for every template); see portal.audit_words."""

from django import template
from django.utils.translation import gettext as _

from portal import audit_words, zones

register = template.Library()


@register.filter
def action_label(code) -> str:
    return audit_words.action_label(str(code or ""))


@register.filter
def object_label(model_name) -> str:
    return audit_words.object_label(str(model_name or ""))


@register.filter
def actor_name(event) -> str:
    return audit_words.actor_label(event)


@register.filter
def audit_changes(event) -> list:
    return audit_words.changes(event.before, event.after, event.object_type)


@register.filter
def audit_object(event) -> str:
    return audit_words.object_words(event)


@register.filter
def numbers_in_words(text) -> str:
    return audit_words.numbers_in_words(str(text or ""))


@register.filter
def zone_name(name) -> str:
    """A time zone by its name in the reader's language (``portal.zones.zone_label``)."""
    return zones.zone_label(str(name or "UTC"))


@register.filter
def reason_parts(text) -> dict:
    """A failure reason as ``{"words", "raw"}``: the portal's words in the company's language,
    and the carrier's own text (English) that pages show behind a toggle. Stored as "<words>"
    followed by a line "carrier: <text>" (``callflows.outbound.services.carrier_failure``);
    a reason that is only the carrier's English is all "raw"."""
    words, raw = audit_words.reason_parts(str(text or ""))
    if raw and not words:
        words = _("The carrier gave this reason:")
    return {"words": words, "raw": raw}
