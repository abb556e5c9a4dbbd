"""The settings pages' forms: a new API key, a new webhook."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from api.models import KeyRole, WebhookEvent
from portal.fields import BoundedDateTimeField


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What uses the key, e.g. “CRM sync”. The audit log names changes by it."),
    )
    role = forms.ChoiceField(label=_("Role"), choices=KeyRole.choices, initial=KeyRole.VIEWER)
    expires_at = BoundedDateTimeField(
        label=_("Expires"),
        required=False,
        help_text=_("Leave empty for a key that works until it is revoked."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )


class WebhookForm(forms.Form):
    url = forms.URLField(
        label=_("URL"),
        max_length=500,
        assume_scheme="https",
        help_text=pgettext_lazy(
            "webhook", "Events are sent here as JSON, signed with the webhook's secret."
        ),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=list(WebhookEvent.values),
    )
