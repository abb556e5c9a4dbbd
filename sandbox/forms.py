"""Input of the sandbox's non-Xoxzo interfaces: the internal test call and the operators' page."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from sandbox.calls import CALLER_NUMBER
from sandbox.faults import FAULT_METHODS, MAX_FAULT_DELAY_SECONDS
from sandbox.incoming_calls import dialled_din_digits, incoming_caller
from sandbox.models import SandboxFault


class SimulatedCallForm(forms.Form):
    """``to`` and ``from`` (a Python keyword, hence added in ``__init__``) of a test call, and
    the portal's ``mark``: passed on untouched to the action URL as ``din_test`` (every leg),
    so the portal logs the call as a test."""

    to = forms.CharField(max_length=32)
    mark = forms.RegexField(regex=r"^[A-Za-z0-9._-]{1,80}$", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from"] = forms.CharField(max_length=32, required=False)

    def clean_to(self) -> str:
        to = self.cleaned_data["to"]
        if dialled_din_digits(to) is None:
            raise forms.ValidationError(
                _("Enter a phone number, e.g. +815012345678 or 05012345678.")
            )
        return to

    def clean_from(self) -> str:
        caller = incoming_caller(self.cleaned_data.get("from"))
        if caller and not CALLER_NUMBER.fullmatch(caller):
            raise forms.ValidationError(
                _("Enter a phone number of digits, optionally with a leading +, or anonymous.")
            )
        return caller


class FaultForm(forms.Form):
    method = forms.ChoiceField(
        label=_("Method"), choices=[(method, method) for method in FAULT_METHODS], initial="*"
    )
    path_pattern = forms.CharField(
        label=_("Path pattern"),
        max_length=300,
        help_text=_("A regular expression searched in the path after /sandbox."),
        widget=forms.TextInput(attrs={"placeholder": "^/voice/dins/subscriptions/[^/]+/?$"}),
    )
    status = forms.IntegerField(
        label=_("HTTP status"),
        required=False,
        min_value=100,
        max_value=599,
        help_text=_("Empty: the real answer, after the delay."),
    )
    when = forms.ChoiceField(
        label=pgettext_lazy("fault timing", "When"),
        choices=SandboxFault.When.choices,
        initial=SandboxFault.When.BEFORE,
    )
    delay_seconds = forms.FloatField(
        label=_("Delay (s)"), min_value=0, max_value=MAX_FAULT_DELAY_SECONDS, initial=0
    )
    times = forms.IntegerField(label=_("Times"), min_value=1, max_value=10_000, initial=1)
