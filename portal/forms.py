from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.auth import password_validation
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from portal.audit_words import action_label, object_label
from portal.fields import BoundedDateField, choice_field
from portal.models import Language, NotificationSetting, Role, Tenant, User
from portal.outbox import outbox_enqueue
from portal.text import validate_line
from portal.zones import zone_choices

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def role_choices_for(membership) -> list[tuple[str, StrOrPromise]]:
    """The roles this member may hand out: owners any, admins up to admin."""
    limit = Role.rank(membership.role)
    return [(role.value, role.label) for role in Role if Role.rank(role) <= limit]


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.STAFF)

    def __init__(self, *args, membership, **kwargs):
        super().__init__(*args, **kwargs)
        choice_field(self, "role").choices = role_choices_for(membership)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class TenantSettingsForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200, validators=[validate_line])
    # Stored by IANA name (Asia/Tokyo), chosen by its name in the reader's language.
    timezone = forms.ChoiceField(label=_("Time zone"), choices=())
    language = forms.ChoiceField(
        label=_("Language"),
        choices=Language.choices,
        help_text=_("Used for e-mails to the whole company and for calls' default voice."),
    )
    allow_international_transfer = forms.BooleanField(
        label=_("Allow transfers and outbound calls to numbers outside Japan"),
        required=False,
        help_text=_("Off by default: calls abroad can be abused for expensive calls."),
    )
    require_second_factor = forms.BooleanField(
        label=_("Require a second factor for owners and admins"),
        required=False,
        help_text=_(
            "They type a code from an authenticator app after their password; one who has "
            "none is asked to set it up at the next page. API keys are not affected."
        ),
    )
    allow_premium_destinations = forms.BooleanField(
        label=_("Allow transfers and outbound calls to premium-rate and shared-cost numbers"),
        required=False,
        help_text=_(
            "Off by default: numbers like 0990 (premium rate), 0570 (Navi Dial) or 060 "
            "(personal forwarding) charge the caller more, and are what toll fraud calls."
        ),
    )

    @classmethod
    def for_tenant(cls, tenant: Tenant, data=None):
        fields = (
            "name",
            "timezone",
            "language",
            "allow_international_transfer",
            "allow_premium_destinations",
            "require_second_factor",
        )
        form = cls(data, initial={field: getattr(tenant, field) for field in fields})
        choice_field(form, "timezone").choices = zone_choices(current=tenant.timezone)
        return form


class AcceptInvitationForm(forms.Form):
    """Creates the account of an invited person who has none yet."""

    name = forms.CharField(label=_("Your name"), max_length=150, validators=[validate_line])
    password1 = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label=_("Password again"), widget=forms.PasswordInput, strip=False)

    def __init__(self, *args, email: str, **kwargs):
        self.email = email
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords differ."))
        elif first:
            try:
                password_validation.validate_password(first, User(email=self.email))
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False)
    object_type = forms.ChoiceField(label=_("Object"), required=False)
    actor = forms.ChoiceField(label=_("Who"), required=False)
    since = BoundedDateField(label=_("From"), required=False)
    until = BoundedDateField(label=_("To"), required=False)
    query = forms.CharField(label=_("Search"), required=False, max_length=100)

    def __init__(self, *args, facets: dict, members, **kwargs):
        super().__init__(*args, **kwargs)
        everything: list[tuple[str, StrOrPromise]] = [("", _("All"))]
        # A code the log holds from before the menus knew it stays selectable from a link.
        wanted = self.data if self.is_bound else {}
        actions = sorted({*facets["actions"], wanted.get("action", "")} - {""})
        objects = sorted({*facets["object_types"], wanted.get("object_type", "")} - {""})
        choice_field(self, "action").choices = everything + [(a, action_label(a)) for a in actions]
        choice_field(self, "object_type").choices = everything + [
            (t, object_label(t)) for t in objects
        ]
        choice_field(self, "actor").choices = everything + [
            (str(m.code), str(m.user)) for m in members
        ]


class NotificationSettingForm(forms.ModelForm):
    """Who receives the company's alerts by e-mail, and in which language."""

    MAX_EXTRA_ADDRESSES = 20

    class Meta:
        model = NotificationSetting
        fields = ["notify_owners", "notify_admins", "notify_staff", "extra_addresses", "language"]
        labels = {
            "notify_owners": _("Owners"),
            "notify_admins": _("Admins"),
            "notify_staff": _("Staff"),
            "extra_addresses": _("Extra addresses"),
            "language": _("Language of the e-mails"),
        }
        help_texts = {
            "extra_addresses": _(
                "One e-mail address a line (at most 20), e.g. a shared mailbox; written in the "
                "company's language unless a language is chosen below."
            ),
        }
        widgets = {"extra_addresses": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Every address at its longest, one a line: anything longer is refused unread.
        limit = self.MAX_EXTRA_ADDRESSES * 255
        field = self.fields["extra_addresses"]
        assert isinstance(field, forms.CharField)  # the model's TextField
        field.max_length = limit
        field.validators.append(MaxLengthValidator(limit))
        field.widget.attrs["maxlength"] = limit

    def clean_extra_addresses(self):
        lines = [
            line.strip().lower()
            for line in self.cleaned_data["extra_addresses"].splitlines()
            if line.strip()
        ]
        if len(lines) > self.MAX_EXTRA_ADDRESSES:
            raise forms.ValidationError(
                _("At most %(count)d extra addresses.") % {"count": self.MAX_EXTRA_ADDRESSES}
            )
        validate = forms.EmailField().clean
        for line in lines:
            try:
                validate(line)
            except forms.ValidationError:
                raise forms.ValidationError(
                    _("%(address)s is not an e-mail address.") % {"address": line[:254]}
                ) from None
        return "\n".join(dict.fromkeys(lines))


class PasswordResetRequestForm(forms.Form):
    """ "Forgot your password?": the address goes to a worker, which looks it up and mails.

    The request itself never looks the address up, so an address with an account and one
    without are answered by the same work in the same time (Django's own form sends the mail
    in the request, which takes measurably longer only when there is an account).
    """

    email = forms.EmailField(label=_("E-mail address"), max_length=254)

    def save(self, *, request, **_django_options):
        # The link is written on the people's address (PORTAL_BASE_URL), never from the
        # request's Host header: a forged Host cannot point the e-mail anywhere else.
        outbox_enqueue("portal.send_password_reset", kwargs={"email": self.cleaned_data["email"]})


class SecondFactorCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=20,
        help_text=_("The 6 digits your authenticator app shows, or a recovery code."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )


def form_refused(form: forms.Form, error: Exception) -> None:
    """Show a service's refusal on the form: on the field it names when the form has it."""
    field = getattr(error, "field", None)
    form.add_error(field if field in form.fields else None, str(error))
