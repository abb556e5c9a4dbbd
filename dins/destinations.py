"""Where the portal lets a call go: the one destination policy of transfers and outbound calls.

Every call the portal makes costs the company: a transfer is an outbound leg from the DIN, an
outbound call is billed per minute. Toll fraud turns that into money for someone else: a
flow that transfers to a premium-rate number (0990, +1 900), or a stolen account that calls
them all night. So every destination, typed into a transfer rule or into "Place a call",
goes through ``destination_check`` before it is saved or placed, and again when a flow is
compiled for the action URL:

- numbers abroad (not +81) only when the company allows international destinations;
- premium-rate, shared-cost and other special-service numbers (their type according to
  ``phonenumbers``' metadata, not a hand-written prefix list) only when the company allows
  them, abroad too, and never-callable kinds (pagers, voicemail access) never;
- numbers of the non-geographic "global services" (+800…+888: satellite phones, international
  networks), which cost many times a normal call, only when both are allowed.

Each refusal says why and who can change it (an admin, in Settings); ``code`` names the kind
for tests and logs.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from django.utils.translation import gettext as _
from phonenumbers import PhoneNumberType

from portal import phone

JAPAN_COUNTRY_CODE = 81
# phonenumbers' region of the non-geographic country calling codes (+800, +870, +882, …).
NON_GEOGRAPHIC_REGION = "001"

# Numbers that reach a person or a business at the normal rate (toll-free costs the callee).
ORDINARY_TYPES = frozenset(
    {
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.VOIP,
        PhoneNumberType.TOLL_FREE,
    }
)
# Kinds that answer a call but cost more, or forward it where its owner wants.
COSTLY_TYPES = frozenset(
    {
        PhoneNumberType.PREMIUM_RATE,
        PhoneNumberType.SHARED_COST,
        PhoneNumberType.UAN,
        PhoneNumberType.PERSONAL_NUMBER,
    }
)


class DestinationRefused(ValueError):
    """The policy does not let a call go there; ``str()`` is the reason, for the user."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class DestinationPolicy:
    allow_international: bool = False
    allow_premium: bool = False

    @classmethod
    def for_tenant(cls, tenant) -> DestinationPolicy:
        return cls(
            allow_international=tenant.allow_international_transfer,
            allow_premium=tenant.allow_premium_destinations,
        )


def _kind_reason(number_type: int, e164: str) -> tuple[str, str] | None:
    """(code, reason) for a costly or uncallable kind of number, None for an ordinary one."""
    values = {"number": e164}
    if number_type == PhoneNumberType.PREMIUM_RATE:
        return "premium_rate", _(
            "%(number)s is a premium-rate number (like 0990 in Japan or 900 in the US): the "
            "caller pays per minute to its owner, a common toll-fraud target."
        ) % values
    if number_type in (PhoneNumberType.SHARED_COST, PhoneNumberType.UAN):
        return "shared_cost", _(
            "%(number)s is a shared-cost or nationwide access number (like 0570 Navi Dial): "
            "calls to it are charged at a higher rate."
        ) % values
    if number_type == PhoneNumberType.PERSONAL_NUMBER:
        return "personal_number", _(
            "%(number)s is a personal forwarding number (like 060): it forwards the call "
            "wherever its owner chose, at a rate its owner chose."
        ) % values
    return None


def destination_check(number: phonenumbers.PhoneNumber, *, policy: DestinationPolicy) -> None:
    """Raise ``DestinationRefused`` unless ``policy`` lets a call go to this valid number."""
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    allow_change = _("An admin can change this in Settings.")
    is_abroad = number.country_code != JAPAN_COUNTRY_CODE
    if is_abroad and not policy.allow_international:
        raise DestinationRefused(
            _("%(number)s is outside Japan, and calls abroad are off for this company.")
            % {"number": e164}
            + " "
            + allow_change,
            code="international",
        )
    if phonenumbers.region_code_for_number(number) == NON_GEOGRAPHIC_REGION and not (
        policy.allow_premium and policy.allow_international
    ):
        raise DestinationRefused(
            _(
                "%(number)s belongs to an international service network (satellite phones, "
                "global numbers), whose calls cost many times a normal call."
            )
            % {"number": e164}
            + " "
            + allow_change,
            code="global_service",
        )
    number_type = phonenumbers.number_type(number)
    if number_type in ORDINARY_TYPES:
        return
    if number_type in COSTLY_TYPES:
        if policy.allow_premium:
            return
        code, reason = _kind_reason(number_type, e164) or ("costly", "")
        raise DestinationRefused(reason + " " + allow_change, code=code)
    # Pagers, voicemail access numbers and kinds phonenumbers cannot tell: nobody to talk to.
    raise DestinationRefused(
        _("%(number)s is not a number a call can talk to (a pager or a service number).")
        % {"number": e164},
        code="not_callable",
    )


def destination_clean(text: str, *, policy: DestinationPolicy, own_number: str = "") -> str:
    """The E.164 form of a number typed by a member, if the policy lets a call go there.

    Japanese numbers may be typed as dialled (03-1234-5678, full-width digits included);
    others need their country code. ``own_number`` is the DIN the call comes from: a number
    does not call or transfer to itself (the call would ring back into its own flow). Raises
    ``DestinationRefused`` (a ``ValueError``) with the reason.
    """
    try:
        e164 = phone.parse(text)
    except phone.PhoneNumberInvalid as error:
        raise DestinationRefused(str(error), code="invalid") from None
    if own_number and e164 == own_number:
        raise DestinationRefused(
            _("%(number)s is this number itself; a call to it would ring back into its own flow.")
            % {"number": e164},
            code="own_number",
        )
    destination_check(phonenumbers.parse(e164), policy=policy)
    return e164


def transfer_target_clean(text: str, *, tenant, own_number: str) -> str:
    """A transfer target of a call flow rule, as the flow editor and the flow compiler see it."""
    return destination_clean(
        text, policy=DestinationPolicy.for_tenant(tenant), own_number=own_number
    )


def outbound_recipient_clean(text: str, *, tenant, own_number: str = "") -> str:
    """The recipient of an outbound call, as the call form and ``outbound_call_request`` see it."""
    return destination_clean(
        text, policy=DestinationPolicy.for_tenant(tenant), own_number=own_number
    )
