from django import forms
from django.utils.translation import gettext_lazy as _

from dins.selectors import PREFIX_CHOICES
from portal import phone
from portal.text import validate_line, validate_text


class SearchForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind of number"),
        choices=[(c.key, c.label) for c in PREFIX_CHOICES],
        initial=PREFIX_CHOICES[0].key,
        required=False,
    )
    digits = forms.CharField(
        label=_("Digits or area code"),
        required=False,
        max_length=15,
        help_text=_("e.g. 03 or 06 for an area, 050-12 for a start, 1234 anywhere in it"),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def clean_digits(self) -> str:
        text = phone.compact(self.cleaned_data["digits"]).lstrip("+")
        if text and not text.isdigit():
            raise forms.ValidationError(_("Use digits only (hyphens are fine)."))
        return text

    def typed_digits(self) -> str:
        return self.cleaned_data.get("digits", "") if self.is_valid() else ""

    def choice(self):
        key = (self.cleaned_data.get("kind") if self.is_valid() else "") or PREFIX_CHOICES[0].key
        return next(c for c in PREFIX_CHOICES if c.key == key)


class NumberListForm(forms.Form):
    q = forms.CharField(
        label=_("Search your numbers"),
        required=False,
        max_length=40,
        help_text=_("Its label, its last digits, or the number from its start (050-12…)"),
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )

    def query(self) -> str:
        return self.cleaned_data.get("q", "") if self.is_valid() else ""


class NumberEditForm(forms.Form):
    label = forms.CharField(
        label=_("Label"), max_length=100, required=False, validators=[validate_line]
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=1000,
        required=False,
        validators=[validate_text],
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ReleaseForm(forms.Form):
    typed_number = forms.CharField(
        label=_("Type the number to confirm"),
        max_length=30,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )

    def __init__(self, *args, subscription, **kwargs):
        super().__init__(*args, **kwargs)
        self.subscription = subscription

    def clean_typed_number(self) -> str:
        """Exactly this number, as shown or in E.164; separators aside, nothing more."""
        typed = self.cleaned_data["typed_number"]
        if not phone.same_number(typed, self.subscription.e164):
            raise forms.ValidationError(
                _("Type the number exactly as shown (%(number)s) to confirm the release.")
                % {"number": phone.display(self.subscription.e164)}
            )
        return typed
