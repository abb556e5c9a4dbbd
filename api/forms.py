"""The settings pages' forms: a new API key, a new webhook."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from api.models import KeyRole, WebhookEvent
from portal.fields import BoundedDateTimeField, choice_field
from portal.text import validate_line


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        validators=[validate_line],
        help_text=_("What uses the key, e.g. “CRM sync”. The audit log names changes by it."),
    )
    role = forms.ChoiceField(label=_("Role"), choices=KeyRole.choices, initial=KeyRole.VIEWER)
    holder = forms.ChoiceField(
        label=_("Rights of"),
        required=False,
        help_text=_(
            "The key acts with at most this person's role, and stops when they leave the "
            "company. Choose an owner for a key that should outlive your own membership."
        ),
    )
    expires_at = BoundedDateTimeField(
        label=_("Expires"),
        required=False,
        help_text=_("Leave empty for a key that works until it is revoked."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )

    def __init__(self, *args, holders, **kwargs):
        super().__init__(*args, **kwargs)
        self.holders = {str(member.code): member for member in holders}
        choice_field(self, "holder").choices = [
            (code, f"{member.user} ({member.get_role_display()})")
            for code, member in self.holders.items()
        ]
        self.fields["holder"].initial = next(iter(self.holders), None)

    def clean_holder(self):
        # Left out (a program posting the form): the rights of whoever creates the key.
        chosen = self.cleaned_data["holder"] or next(iter(self.holders), "")
        return self.holders.get(chosen)


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
