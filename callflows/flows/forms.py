"""The call-flow editor: rules as a Django formset, turned into a flow document and back.

Each rule is one form (condition + action); a rule's position in the formset is its order.
The page shows only the fields the chosen condition and action need (CSS ``:has``, no script
needed); adding, removing and moving rules works without JavaScript through the editor's
"edit" buttons (``editor_state`` reads what was typed, however incomplete, and the page is drawn
again from it), and ``static/js/flow_editor.js`` does the same in place. A rule left completely
blank is skipped, so a flow saves with only its default answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy, pgettext_lazy

from callflows.flows.documents import Action, Condition, Rule
from callflows.flows.rules import MAX_RULES
from callflows.models import AudioFile, CallerList, TtsScript
from dins.destinations import DestinationRefused, transfer_target_clean
from portal import phone
from portal.fields import BoundedDateTimeField, choice_field
from portal.text import validate_line

WEEKDAYS = [
    (0, _("Mon")),
    (1, _("Tue")),
    (2, _("Wed")),
    (3, _("Thu")),
    (4, _("Fri")),
    (5, _("Sat")),
    (6, _("Sun")),
]
CHOOSE = _("— choose —")
CONDITION_CHOICES = [
    ("", CHOOSE),
    ("always", _("Always")),
    ("hours", _("During these hours")),
    ("holiday", _("On public holidays and our closed dates")),
    ("anonymous", _("Caller withholds their number")),
    ("caller_list", _("Caller is in a list")),
]
ACTION_CHOICES = [
    ("", CHOOSE),
    ("playback", _("Play an MP3")),
    ("say", _("Read a script aloud")),
    ("transfer", _("Transfer to a number")),
    ("voicemail", _("Take a voicemail")),
]


def _choices(queryset):
    return [("", CHOOSE)] + [(str(obj.code), str(obj)) for obj in queryset]


@dataclass(frozen=True)
class Library:
    """The company's MP3s, scripts and caller lists, as the editor's menus offer them."""

    audio: list
    scripts: list
    caller_lists: list

    @classmethod
    def load(cls) -> Library:
        return cls(
            list(AudioFile.objects.all()),
            list(TtsScript.objects.all()),
            list(CallerList.objects.all()),
        )


class ActionForm(forms.Form):
    """What the caller hears: one of the four carrier actions and its argument."""

    action = forms.ChoiceField(
        label=_("Then"),
        choices=ACTION_CHOICES,
        error_messages={"required": _("Choose what the caller hears.")},
    )
    audio = forms.ChoiceField(label=_("MP3"), required=False)
    script = forms.ChoiceField(label=_("Script"), required=False)
    number = forms.CharField(
        label=_("Number to transfer to"),
        required=False,
        max_length=30,
        widget=forms.TextInput(
            attrs={"inputmode": "tel", "autocomplete": "off", "placeholder": "03-1234-5678"}
        ),
    )
    greeting = forms.ChoiceField(label=_("Greeting before the message"), required=False)

    def __init__(self, *args, subscription, library: Library | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.subscription = subscription
        self.library = library or Library.load()
        audio, scripts = self.library.audio, self.library.scripts
        choice_field(self, "audio").choices = _choices(audio)
        choice_field(self, "script").choices = _choices(scripts)
        choice_field(self, "greeting").choices = (
            [("", _("No greeting"))]
            + [(f"say:{s.code}", _("Script: %(name)s") % {"name": s}) for s in scripts]
            + [(f"playback:{a.code}", _("MP3: %(name)s") % {"name": a}) for a in audio]
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        kind = data.get("action")
        if kind == "playback" and not data.get("audio"):
            self.add_error("audio", _("Choose the MP3 to play."))
        if kind == "say" and not data.get("script"):
            self.add_error("script", _("Choose the script to read."))
        if kind == "transfer":
            try:
                data["number"] = transfer_target_clean(
                    data.get("number", ""),
                    tenant=self.subscription.tenant,
                    own_number=self.subscription.e164,
                )
            except DestinationRefused as error:
                self.add_error("number", str(error))
        return data

    def action_document(self) -> Action:
        data = self.cleaned_data
        kind = data["action"]
        if kind == "playback":
            return {"type": kind, "audio": data["audio"]}
        if kind == "say":
            return {"type": kind, "script": data["script"]}
        if kind == "transfer":
            return {"type": kind, "number": data["number"]}
        greeting: Action | None = None
        if data.get("greeting"):
            greeting_kind, code = data["greeting"].split(":", 1)
            if greeting_kind == "playback":
                greeting = {"type": "playback", "audio": code}
            else:
                greeting = {"type": "say", "script": code}
        return {"type": kind, "greeting": greeting}

    @staticmethod
    def initial_from(action: Action) -> dict[str, Any]:
        initial: dict[str, Any] = {"action": action["type"]}
        if action["type"] == "playback":
            initial["audio"] = action["audio"]
        elif action["type"] == "say":
            initial["script"] = action["script"]
        elif action["type"] == "transfer":
            initial["number"] = phone.display(action["number"])
        elif greeting := action.get("greeting"):
            code = greeting.get("audio") or greeting.get("script")
            initial["greeting"] = f"{greeting['type']}:{code}"
        return initial


class RuleForm(ActionForm):
    label = forms.CharField(
        label=_("Rule name"), max_length=100, required=False, validators=[validate_line]
    )
    when = forms.ChoiceField(
        label=pgettext_lazy("call flow condition", "When"),
        choices=CONDITION_CHOICES,
        error_messages={"required": _("Choose when this rule applies.")},
    )
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Days"),
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    start = forms.TimeField(
        label=pgettext_lazy("time of day", "From"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    end = forms.TimeField(
        label=pgettext_lazy("time of day", "To"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    caller_list = forms.ChoiceField(label=_("List"), required=False)

    field_order = ["label", "when", "weekdays", "start", "end", "caller_list"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choice_field(self, "caller_list").choices = _choices(self.library.caller_lists)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("when") == "hours":
            if not data.get("weekdays"):
                self.add_error("weekdays", _("Choose at least one day."))
            if data.get("start") is None or data.get("end") is None:
                self.add_error(
                    "start",
                    _("Give the hours as from and to (an end before the start crosses midnight)."),
                )
        if data.get("when") == "caller_list" and not data.get("caller_list"):
            self.add_error("caller_list", _("Choose the list."))
        return data

    def rule_document(self) -> Rule:
        data = self.cleaned_data
        when: Condition = {"type": data["when"]}
        if data["when"] == "hours":
            when["weekdays"] = sorted(data["weekdays"])
            when["start"] = data["start"].strftime("%H:%M")
            when["end"] = data["end"].strftime("%H:%M")
        elif data["when"] == "caller_list":
            when["list"] = data["caller_list"]
        return {"label": data.get("label", ""), "when": when, "then": self.action_document()}

    @staticmethod
    def initial_from_rule(rule: Rule) -> dict[str, Any]:
        initial = ActionForm.initial_from(rule["then"])
        when = rule["when"]
        initial.update(label=rule.get("label", ""), when=when["type"])
        if when["type"] == "hours":
            initial.update(weekdays=when["weekdays"], start=when["start"], end=when["end"])
        elif when["type"] == "caller_list":
            initial["caller_list"] = when["list"]
        return initial


# The fields of one rule form, as the editor posts them (see ``editor_state``).
RULE_FIELDS = (
    "label",
    "when",
    "start",
    "end",
    "caller_list",
    "action",
    "audio",
    "script",
    "number",
    "greeting",
)


def editor_state(data, *, prefix: str = "rules") -> list[dict]:
    """The rules exactly as typed, however incomplete: initial data to draw the editor again.

    Used by the editor's buttons that change the page without saving (add, remove, move a
    rule, load a starting point): nothing typed is lost and nothing is validated yet.
    """
    try:
        total = int(data.get(f"{prefix}-TOTAL_FORMS", 0))
    except (TypeError, ValueError):
        total = 0
    rules = []
    for index in range(min(max(total, 0), MAX_RULES)):
        key = f"{prefix}-{index}-"
        rule = {name: data.get(key + name, "") for name in RULE_FIELDS}
        rule["weekdays"] = [day for day in data.getlist(key + "weekdays") if day.isdigit()]
        rules.append(rule)
    return rules


def action_state(data, *, prefix: str) -> dict:
    return {name: data.get(f"{prefix}-{name}", "") for name in ActionForm.base_fields}


class BaseRuleFormSet(forms.BaseFormSet):
    default_error_messages = {
        "too_many_forms": ngettext_lazy(
            "A call flow holds at most %(num)d rule.",
            "A call flow holds at most %(num)d rules.",
            "num",
        ),
    }

    def __init__(self, *args, subscription, library: Library | None = None, **kwargs):
        self.subscription = subscription
        # Read once for every rule form (a flow has up to 30): three queries, not ninety; the
        # editor's default and override forms share it too.
        self.library = library or Library.load()
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {"subscription": self.subscription, "library": self.library}

    @property
    def empty_form(self):
        form = self.form(
            auto_id=self.auto_id,
            prefix=self.add_prefix("__prefix__"),
            empty_permitted=True,
            use_required_attribute=False,
            subscription=self.subscription,
            library=self.library,
            # BaseFormSet.__init__ sets ``renderer``; django-stubs does not declare it.
            renderer=self.renderer,  # type: ignore[attr-defined]
        )
        self.add_fields(form, None)
        return form

    def rules_document(self) -> list[Rule]:
        """The rules in the order they were posted; rules left completely blank are skipped."""
        return [form.rule_document() for form in self.forms if form.has_changed()]


# [choice] Rules are checked one by one on every call; 30 cover any real business day. The
# posted form count is believed only up to absolute_max (the rules and the blank one to add
# another), so a forged rules-TOTAL_FORMS builds no more forms than that.
# (formset_factory makes a subclass of ``formset``; its stub promises only a BaseFormSet.)
RuleFormSet = cast(
    type[BaseRuleFormSet],
    forms.formset_factory(
        RuleForm,
        formset=BaseRuleFormSet,
        extra=0,
        max_num=MAX_RULES,
        validate_max=True,
        absolute_max=MAX_RULES,
    ),
)


class OverrideForm(ActionForm):
    until = BoundedDateTimeField(
        label=_("Until"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )


class PreviewForm(forms.Form):
    at = BoundedDateTimeField(
        label=_("Date and time"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    caller = forms.CharField(
        label=_("Caller"),
        required=False,
        max_length=30,
        help_text=_(
            "As you would write it (090-1234-5678); leave empty for a caller who withholds "
            "their number."
        ),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )

    def clean_caller(self) -> str:
        """E.164 of the caller, or "" for a withheld number."""
        return _caller_e164(self.cleaned_data["caller"])


def _caller_e164(text: str) -> str:
    if not (text or "").strip():
        return ""
    try:
        return phone.parse(text)
    except phone.PhoneNumberInvalid as error:
        raise forms.ValidationError(str(error)) from None


class TestCallForm(forms.Form):
    caller = forms.CharField(
        label=_("Call as"),
        required=False,
        max_length=30,
        help_text=_("Leave empty to call with a withheld number."),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )

    def clean_caller(self) -> str:
        return _caller_e164(self.cleaned_data["caller"])
