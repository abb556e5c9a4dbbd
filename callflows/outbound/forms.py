"""The "Place a call" form of a number."""

from typing import cast

from django import forms
from django.utils.translation import gettext_lazy as _

from callflows.grammar import MAX_SAY_LENGTH
from callflows.models import AudioFile, TtsScript
from callflows.outbound import services as outbound
from callflows.outbound.models import OutboundCall
from dins.destinations import DestinationRefused, outbound_recipient_clean
from dins.models import Subscription
from portal.models import Language
from portal.text import validate_text


class OutboundCallForm(forms.Form):
    recipient = forms.CharField(
        label=_("Number to call"),
        max_length=30,
        help_text=_(
            "As dialled in Japan (080-1234-5678), or with the country code (+81 80-1234-5678)."
        ),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    message_kind = forms.ChoiceField(
        label=_("The call plays"),
        choices=OutboundCall.MessageKind.choices,
        initial=OutboundCall.MessageKind.AUDIO,
        widget=forms.RadioSelect,
    )
    # Placeholders (the scoped managers refuse to build a query at import time); the real,
    # tenant-scoped querysets are set in __init__.
    audio = forms.ModelChoiceField(
        label=_("MP3"),
        queryset=AudioFile._base_manager.none(),
        to_field_name="code",
        required=False,
    )
    script = forms.ModelChoiceField(
        label=_("TTS script"),
        queryset=TtsScript._base_manager.none(),
        to_field_name="code",
        required=False,
    )
    text = forms.CharField(
        label=_("Text to read"),
        max_length=MAX_SAY_LENGTH,
        required=False,
        validators=[validate_text],
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    tts_lang = forms.ChoiceField(
        label=_("Language of the text"), choices=Language.choices, initial=Language.JAPANESE
    )
    local_caller_id = forms.BooleanField(
        label=_("Show this number as caller ID (local caller ID option)"), required=False
    )

    def __init__(self, *args, subscription: Subscription, **kwargs):
        super().__init__(*args, **kwargs)
        self.subscription = subscription
        # Built per request: the scoped managers only ever list the active tenant's library.
        for name, library in (("audio", AudioFile.objects), ("script", TtsScript.objects)):
            cast(forms.ModelChoiceField, self.fields[name]).queryset = library.all()
        if not outbound.is_japanese(subscription):
            # Xoxzo offers local caller ID for Japanese numbers only.
            del self.fields["local_caller_id"]

    def clean_recipient(self) -> str:
        try:
            return outbound_recipient_clean(
                self.cleaned_data["recipient"], tenant=self.subscription.tenant
            )
        except DestinationRefused as error:
            raise forms.ValidationError(str(error)) from None

    def order(self) -> outbound.CallOrder:
        """What the valid form asks for; the service checks that it is complete."""
        data = self.cleaned_data
        return outbound.CallOrder(
            recipient=data["recipient"],
            message_kind=data["message_kind"],
            audio=data.get("audio"),
            script=data.get("script"),
            text=data.get("text", ""),
            tts_lang=data.get("tts_lang", ""),
            local_caller_id=data.get("local_caller_id", False),
        )
