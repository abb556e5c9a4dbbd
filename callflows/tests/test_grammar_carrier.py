"""The portal's renderer against the carrier's strict parser (the sandbox's own, written from
Xoxzo's documentation): every line the portal can render, the carrier reads back as meant."""

import phonenumbers
from hypothesis import given
from hypothesis import strategies as st

from callflows import grammar
from sandbox.grammar import Playback, Say, Transfer, Voicemail, parse

_PATH_CHARACTERS = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1
)
_REGIONS = ("JP", "US", "GB", "DE", "SG", "AU", "FR", "KR")


@given(st.sampled_from(grammar.LANGUAGES), st.text(min_size=1, max_size=600))
def test_every_text_the_portal_says_the_carrier_reads_as_cleaned(lang, typed):
    try:
        cleaned = grammar.say_text_clean(typed)
    except grammar.UnsayableText:
        return  # refused at the form, never rendered
    assert parse(grammar.say(lang, typed)) == Say(lang, cleaned)


@given(
    st.sampled_from(["http", "https"]),
    st.sampled_from(["din.example.com", "127.0.0.1", "localhost:8001", "[::1]:8001"]),
    st.lists(_PATH_CHARACTERS, min_size=0, max_size=4),
    _PATH_CHARACTERS,
)
def test_every_audio_url_the_portal_plays_the_carrier_accepts(scheme, host, folders, name):
    url = f"{scheme}://{host}/" + "".join(f"{folder}/" for folder in folders) + f"{name}.mp3"
    assert parse(grammar.playback(url)) == Playback(url)
    assert parse(grammar.voicemail(grammar.playback(url))) == Voicemail(Playback(url))


@given(st.sampled_from(_REGIONS), st.sampled_from(["FIXED_LINE", "MOBILE", "TOLL_FREE"]))
def test_every_transfer_the_portal_renders_the_carrier_accepts(region, kind):
    example = phonenumbers.example_number_for_type(
        region, getattr(phonenumbers.PhoneNumberType, kind)
    )
    if example is None:
        return
    number = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    assert parse(grammar.transfer(number)) == Transfer(number)


def test_the_fallback_is_a_command_the_carrier_reads():
    assert parse(grammar.FALLBACK) == Voicemail()
