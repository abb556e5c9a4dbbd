"""Numbers as people write and read them (portal.phone) and money in words (the filters)."""

from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from dins.templatetags.din_format import credits, duration
from portal import phone

FULL_WIDTH = str.maketrans(
    "0123456789()-+",
    "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff08\uff09\uff0d\uff0b",
)


@pytest.mark.parametrize(
    "typed,e164",
    [
        ("090-1234-5678", "+819012345678"),
        ("09012345678", "+819012345678"),
        ("090 1234 5678", "+819012345678"),
        ("(090) 1234-5678", "+819012345678"),
        ("090-1234-5678".translate(FULL_WIDTH), "+819012345678"),
        ("090\u30fc1234\u30fc5678", "+819012345678"),  # a long-vowel mark typed as a dash
        ("+81 90 1234 5678", "+819012345678"),
        ("819012345678", "+819012345678"),
        ("0120-123-456", "+81120123456"),
        ("03-1234-5678", "+81312345678"),
        ("+1 415 555 0123", "+14155550123"),
        ("010-1-415-555-0123", "+14155550123"),  # dialled abroad from Japan
    ],
)
def test_it_reads_any_common_written_form(typed, e164):
    assert phone.parse(typed) == e164


@pytest.mark.parametrize(
    "typed,message",
    [
        ("", "Enter a phone number."),
        ("abc", "“abc” is not a phone number"),
        ("090-1234-567x", "is not a phone number"),
        ("+81 090 1234 5678", "Remove the 0 after the country code: write +819012345678"),
        ("0000-00-0000", "does not exist"),
    ],
)
def test_it_says_why_a_text_is_not_a_number(typed, message):
    with translation.override("en"), pytest.raises(phone.PhoneNumberInvalid) as error:
        phone.parse(typed)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "stored,shown",
    [
        ("+815012345678", "050-1234-5678"),
        ("815012345678", "050-1234-5678"),  # the carrier sends callers without "+"
        ("+81120123456", "0120-123-456"),
        ("+81312345678", "03-1234-5678"),
        ("+14155550123", "+1 415-555-0123"),
        ("anonymous", "anonymous"),
        ("", ""),
    ],
)
def test_it_shows_japanese_numbers_as_people_read_them(stored, shown):
    assert phone.display(stored) == shown


@given(st.sampled_from(["50", "90", "80", "3", "6"]), st.integers(10**7, 10**8 - 1))
def test_it_reads_back_every_number_it_shows(area, subscriber):
    e164 = f"+81{area}{subscriber}"
    if phone.parse_or_none(e164) is None:
        return  # not a valid Japanese number
    assert phone.parse(phone.display(e164)) == e164


@pytest.mark.parametrize(
    "typed,confirms",
    [
        ("0120-638-670", True),
        ("0120638670", True),
        ("+81120638670", True),
        ("81120638670", True),
        ("0120 638 670", True),
        ("0120-638-670x", False),
        ("0120-638-6700", False),
        ("120638670", False),
        ("", False),
    ],
)
def test_it_confirms_only_the_number_itself(typed, confirms):
    assert phone.same_number(typed, "+81120638670") is confirms


def test_it_writes_credits_and_durations_in_words():
    with translation.override("en"):
        assert credits(Decimal("4500")) == "4,500 credits"
        assert credits(Decimal("1")) == "1 credit"
        assert credits(Decimal("22.5")) == "22.5 credits"
        assert duration(65) == "1 min 5 s"
        assert duration(1) == "1 second"
    with translation.override("ja"):
        assert credits(Decimal("1")) == "1 クレジット"
        assert duration(65) == "1分5秒"


@pytest.mark.parametrize(
    "typed,start,end",
    [
        ("5678", None, "5678"),  # the last digits
        ("0123", "81123", "0123"),  # a leading 0 and nothing else: either
        ("090-1234", "81901234", None),  # written as dialled: the start
        ("\uff10\uff19\uff10\uff11\uff12\uff13\uff14", "81901234", "0901234"),  # full width
        ("+81 90 1234", "81901234", None),
        ("(03) 1234-5678", "81312345678", None),
    ],
)
def test_it_reads_a_search_for_a_number_as_its_start_its_end_or_either(typed, start, end):
    search = phone.number_search(typed)

    assert (search.start, search.end) == (start, end)


def test_a_search_without_digits_is_no_search():
    assert phone.number_search("abc") is None
    assert phone.number_search("") is None
