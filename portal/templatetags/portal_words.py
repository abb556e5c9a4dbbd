"""The audit log in words for templates (loaded for every template); see portal.audit_words."""

from django import template

from portal import audit_words

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
    return audit_words.changes(event.before, event.after)


@register.filter
def numbers_in_words(text) -> str:
    return audit_words.numbers_in_words(str(text or ""))
