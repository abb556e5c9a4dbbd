"""Forms of the call-flow asset pages: they parse input; the checks live in the asset services."""

from django import forms
from django.template.defaultfilters import filesizeformat
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from callflows.assets import audio as audio_services
from callflows.assets import caller_lists as caller_list_services
from callflows.assets import closed_dates as closed_date_services
from callflows.assets import library as asset_library
from callflows.assets import scripts as script_services
from callflows.assets import uploads as upload_services
from callflows.grammar import MAX_SAY_LENGTH
from callflows.models import AudioFile, CallerList, TtsScript
from portal.fields import BoundedDateField
from portal.models import Language
from portal.phone import display
from portal.services import ServiceError
from portal.text import validate_line


class AudioUploadForm(forms.Form):
    label = forms.CharField(label=_("Label"), max_length=100, validators=[validate_line])
    file = forms.FileField(
        label=_("MP3 file"), widget=forms.ClearableFileInput(attrs={"accept": ".mp3,audio/mpeg"})
    )

    def __init__(self, *args, refused_sizes: dict | None = None, **kwargs):
        """``refused_sizes``: files the upload handler skipped for their size (by field)."""
        super().__init__(*args, **kwargs)
        self.refused_sizes = refused_sizes or {}
        max_bytes, max_seconds = asset_library.audio_limits()
        self.fields["file"].help_text = _(
            "MP3 audio, at most %(size)s and %(minutes)s minutes."
        ) % {"size": filesizeformat(max_bytes), "minutes": f"{max_seconds / 60:g}"}

    def clean(self):
        data = super().clean()
        if "file" in self.refused_sizes:
            self.errors.pop("file", None)
            max_bytes, _seconds = asset_library.audio_limits()
            self.add_error(
                "file",
                audio_services.audio_too_big_message(self.refused_sizes["file"], max_bytes),
            )
        return data


# What phones, browsers and PCs record: the file picker offers these first (any file can
# still be chosen; the worker says what it is if it is no recording).
RECORDING_ACCEPT = "audio/*,.m4a,.mp4,.aac,.wav,.mp3,.ogg,.oga,.opus,.webm,.flac,.caf,.aiff"


class RecordingUploadForm(forms.Form):
    """The upload page: any recording, converted into an MP3 by a worker (``uploads``)."""

    label = forms.CharField(label=_("Label"), max_length=100)
    file = forms.FileField(
        label=_("Recording"),
        widget=forms.ClearableFileInput(attrs={"accept": RECORDING_ACCEPT}),
    )

    def __init__(self, *args, refused_sizes: dict | None = None, **kwargs):
        """``refused_sizes``: files the upload handler skipped for their size (by field)."""
        super().__init__(*args, **kwargs)
        self.refused_sizes = refused_sizes or {}
        _max_bytes, max_seconds = asset_library.audio_limits()
        self.fields["file"].help_text = _(
            "A voice memo (.m4a), or a .wav, .mp3, .ogg, .opus, .webm or .flac file, at most "
            "%(size)s. It becomes an MP3 of at most %(minutes)s minutes."
        ) % {
            "size": filesizeformat(upload_services.upload_max_bytes()),
            "minutes": f"{max_seconds / 60:g}",
        }

    def clean(self):
        data = super().clean()
        if "file" in self.refused_sizes:
            self.errors.pop("file", None)
            self.add_error(
                "file", upload_services.upload_too_big_message(self.refused_sizes["file"])
            )
        return data


class AudioLabelForm(forms.Form):
    label = forms.CharField(label=_("Label"), max_length=100, validators=[validate_line])

    @classmethod
    def for_audio(cls, audio: AudioFile, data=None):
        return cls(data, initial={"label": audio.label})


class TtsScriptForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, validators=[validate_line])
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)
    # The length that counts is that of the cleaned text (line breaks become spaces), and
    # clean_text says it in words; max_length only stops abuse before that work.
    text = forms.CharField(
        label=_("Text"),
        strip=False,
        max_length=10 * MAX_SAY_LENGTH,
        help_text=_(
            "Read aloud by the carrier; at most 500 characters. Line breaks become spaces."
        ),
        widget=forms.Textarea(attrs={"rows": 5}),
    )

    @classmethod
    def for_script(cls, script: TtsScript, data=None):
        initial = {"name": script.name, "language": script.language, "text": script.text}
        return cls(data, initial=initial)

    def clean_text(self) -> str:
        try:
            return script_services.script_text_clean(self.cleaned_data["text"])
        except ServiceError as error:
            raise forms.ValidationError(str(error)) from None


class CallerListForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, validators=[validate_line])
    numbers = forms.CharField(
        label=_("Numbers"),
        required=False,
        help_text=format_lazy(
            _(
                "One a line, at most {limit} numbers. Japanese numbers as you dial them "
                "(090-1234-5678), others with their country code (+1 415 555 0123)."
            ),
            limit=asset_library.MAX_CALLER_LIST_NUMBERS,
        ),
        # The text's length is checked first, in caller_numbers_parse, with a clear message;
        # the attribute stops a browser from sending more.
        widget=forms.Textarea(
            attrs={"rows": 12, "maxlength": asset_library.MAX_CALLER_LIST_CHARACTERS}
        ),
    )

    @classmethod
    def for_list(cls, caller_list: CallerList, data=None):
        # Shown the way people write them; saved again as E.164 (caller_numbers_parse).
        numbers = "\n".join(display(number) for number in caller_list.numbers)
        initial = {"name": caller_list.name, "numbers": numbers}
        return cls(data, initial=initial)

    def clean_numbers(self) -> list[str]:
        try:
            return caller_list_services.caller_numbers_parse(self.cleaned_data["numbers"])
        except caller_list_services.CallerNumbersInvalid as error:
            raise forms.ValidationError(error.messages) from None


class ClosedDateForm(forms.Form):
    date = BoundedDateField(
        label=_("First day"),
        max_date=closed_date_services.closed_date_horizon,
        help_text=format_lazy(
            _("Up to {days} days ahead."), days=asset_library.CLOSED_DATE_MAX_DAYS_AHEAD
        ),
        error_messages={
            "too_late": _("%(date)s is too far ahead: closed dates can be set up to %(max)s."),
        },
    )
    end_date = BoundedDateField(
        label=_("Last day"),
        required=False,
        max_date=closed_date_services.closed_date_horizon,
        help_text=_("Leave empty for a single day."),
        error_messages={
            "too_late": _("%(date)s is too far ahead: closed dates can be set up to %(max)s."),
        },
    )
    note = forms.CharField(
        label=_("Note"),
        max_length=100,
        required=False,
        validators=[validate_line],
        widget=forms.TextInput(attrs={"placeholder": _("e.g. New Year holidays")}),
    )
