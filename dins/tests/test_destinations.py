"""The destination policy, table by table, with real number ranges.

The ranges are the ones phonenumbers' metadata (from the national numbering plans) assigns:
Japan's 0990 is premium rate (Dial Q2), 0570 Navi Dial a nationwide access number, 060 the
personal forwarding range, 020 pagers; the US 900 is premium rate and 500/533 personal
numbers; the UK 09 premium rate; +881/+882 satellite and international networks.
"""

import phonenumbers
import pytest

from dins.destinations import (
    DestinationPolicy,
    DestinationRefused,
    destination_check,
    destination_clean,
)

STRICT = DestinationPolicy()
ABROAD = DestinationPolicy(allow_international=True)
PREMIUM = DestinationPolicy(allow_premium=True)
EVERYTHING = DestinationPolicy(allow_international=True, allow_premium=True)

# (typed, E.164, refusal code under each policy: strict, abroad allowed, premium allowed, both)
TABLE = [
    # ordinary Japanese numbers: always
    ("03-1234-5678", "+81312345678", None, None, None, None),  # Tokyo fixed line
    ("06-6123-4567", "+81661234567", None, None, None, None),  # Osaka fixed line
    ("090-1234-5678", "+819012345678", None, None, None, None),  # mobile
    ("070-1234-5678", "+817012345678", None, None, None, None),  # mobile
    ("050-1234-5678", "+815012345678", None, None, None, None),  # IP phone
    ("0120-123-456", "+81120123456", None, None, None, None),  # toll-free
    ("0800-123-4567", "+818001234567", None, None, None, None),  # toll-free
    # Japanese premium-rate and shared-cost: only when an admin allowed them
    ("0990-123-456", "+81990123456", "premium_rate", "premium_rate", None, None),
    ("0570-064-556", "+81570064556", "shared_cost", "shared_cost", None, None),
    ("0570-123-456", "+81570123456", "shared_cost", "shared_cost", None, None),
    ("060-123-4567", "+81601234567", "personal_number", "personal_number", None, None),
    # pagers answer nobody: never
    ("020-1234-5678", "+812012345678", *["not_callable"] * 4),
    # abroad: only when allowed, and the costly kinds abroad need both
    ("+1 415 555 0123", "+14155550123", "international", None, "international", None),
    ("+44 20 7946 0000", "+442079460000", "international", None, "international", None),
    ("+1 800 234 5678", "+18002345678", "international", None, "international", None),
    ("+1 900 234 5678", "+19002345678", "international", "premium_rate", "international", None),
    ("+44 909 876 5432", "+449098765432", "international", "premium_rate", "international", None),
    ("+33 8 91 12 34 56", "+33891123456", "international", "premium_rate", "international", None),
    ("+1 500 234 5678", "+15002345678", "international", "personal_number", "international", None),
    # satellite phones and international networks: both allowances
    ("+881 6 1234 5678", "+881612345678", "international", "global_service", "international", None),
    ("+882 34 2123 4", "+8823421234", "international", "global_service", "international", None),
    ("+979 1 2345 6789", "+979123456789", "international", "global_service", "international", None),
]


@pytest.mark.parametrize(
    "typed,e164,strict,abroad,premium,everything", TABLE, ids=[row[0] for row in TABLE]
)
def test_it_applies_the_policy_to_real_number_ranges(
    typed, e164, strict, abroad, premium, everything
):
    for policy, expected in (
        (STRICT, strict),
        (ABROAD, abroad),
        (PREMIUM, premium),
        (EVERYTHING, everything),
    ):
        if expected is None:
            assert destination_clean(typed, policy=policy) == e164, policy
        else:
            with pytest.raises(DestinationRefused) as refused:
                destination_clean(typed, policy=policy)
            assert refused.value.code == expected, (typed, policy)
            assert e164 in str(refused.value)  # the reason names the number


def test_it_says_why_and_who_can_change_it():
    with pytest.raises(DestinationRefused) as refused:
        destination_clean("0990-123-456", policy=STRICT)
    assert "premium-rate number" in str(refused.value)
    assert "An admin can change this in Settings." in str(refused.value)

    with pytest.raises(DestinationRefused) as refused:
        destination_clean("+1 415 555 0123", policy=STRICT)
    assert "outside Japan" in str(refused.value)


@pytest.mark.parametrize(
    "typed,code",
    [
        ("+81 0 3 1234 5678", "invalid"),  # the trunk 0 after the country code
        ("hello", "invalid"),
        ("", "invalid"),
        ("0990", "invalid"),
        ("+8150 1111 2222", "own_number"),
    ],
)
def test_it_refuses_what_is_not_a_destination(typed, code):
    with pytest.raises(DestinationRefused) as refused:
        destination_clean(typed, policy=EVERYTHING, own_number="+815011112222")
    assert refused.value.code == code


def _full_width(text: str) -> str:
    """``text`` as a Japanese input method types it (digits and hyphens full width)."""
    return text.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789-"})


def test_it_reads_full_width_digits_as_typed_with_a_japanese_input_method():
    assert destination_clean(_full_width("03-1234-5678"), policy=STRICT) == "+81312345678"
    with pytest.raises(DestinationRefused):
        destination_clean(_full_width("0990-123-456"), policy=STRICT)


def test_it_uses_the_number_types_of_phonenumbers_for_every_example_it_has():
    # Every region's example premium-rate number is refused without the allowance: the
    # policy does not depend on a list of prefixes someone has to keep up to date.
    refused = 0
    for region in phonenumbers.SUPPORTED_REGIONS:
        example = phonenumbers.example_number_for_type(
            region, phonenumbers.PhoneNumberType.PREMIUM_RATE
        )
        if example is None:
            continue
        with pytest.raises(DestinationRefused):
            destination_check(example, policy=ABROAD)
        refused += 1
    assert refused > 100
