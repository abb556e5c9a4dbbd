from django import forms
from django.utils.translation import gettext_lazy as _

from dins.selectors import PREFIX_CHOICES


class SearchForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind of number"),
        choices=[(c.key, c.label) for c in PREFIX_CHOICES],
        initial=PREFIX_CHOICES[0].key,
        required=False,
    )

    def choice(self):
        key = (self.cleaned_data.get("kind") if self.is_valid() else "") or PREFIX_CHOICES[0].key
        return next(c for c in PREFIX_CHOICES if c.key == key)


class NumberEditForm(forms.Form):
    label = forms.CharField(label=_("Label"), max_length=100, required=False)
    description = forms.CharField(
        label=_("Description"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ReleaseForm(forms.Form):
    typed_number = forms.CharField(label=_("Type the number to confirm"), max_length=30)
