"""A second factor for people: TOTP (an authenticator app) with recovery codes, on django-otp.

Who needs one: owners and admins of a company that requires it (Settings), and operators
(superusers) when ``SECOND_FACTOR_FOR_OPERATORS`` (on in production). Anyone may turn it on.
API keys are not people: the API never asks (its requests carry no session).

How a request meets it (``SecondFactorMiddleware``, after the password step signed the person
in): someone with a confirmed device who has not typed a code in this session is sent to
type one before any page; someone who needs one and has none is sent to set it up first,
before anything else. Whether a person has a device is read at sign-in and kept in the session
(no query per page); setting up or turning off in that session updates it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django_otp import devices_for_user, match_token
from django_otp import login as otp_login
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.models import Membership, Role, User

RECOVERY_CODES = 10
SESSION_HAS_DEVICE = "second_factor_device"
TOTP_NAME = "authenticator"
RECOVERY_NAME = "recovery codes"
# Pages a person who still owes a code may open (the URL names of the portal's URLconf).
OPEN_PAGES = frozenset(
    {
        "second_factor_verify",
        "second_factor_setup",
        "logout",
        "language_switch",
        "healthz",
        "platform_health",
        "metrics",
    }
)


# --- Selectors --------------------------------------------------------------------------------


def second_factor_required(*, user: User, memberships: list[Membership]) -> bool:
    """Whether ``user`` may not use the portal without a second factor."""
    if user.is_superuser and settings.SECOND_FACTOR_FOR_OPERATORS:
        return True
    return any(m.tenant.require_second_factor and m.has_role(Role.ADMIN) for m in memberships)


def second_factor_has_device(user: User) -> bool:
    return any(True for _device in devices_for_user(user, confirmed=True))


@dataclass(frozen=True)
class SecondFactorState:
    has_device: bool
    required: bool
    recovery_codes_left: int


def second_factor_state(*, user: User, memberships: list[Membership]) -> SecondFactorState:
    recovery = StaticDevice.objects.filter(user=user, confirmed=True).first()
    return SecondFactorState(
        has_device=second_factor_has_device(user),
        required=second_factor_required(user=user, memberships=memberships),
        recovery_codes_left=recovery.token_set.count() if recovery else 0,
    )


# --- Services ---------------------------------------------------------------------------------


def second_factor_setup_start(*, user: User, create: bool = True) -> TOTPDevice | None:
    """The authenticator being set up: a new secret, unconfirmed until a code from it is
    typed (a page reloaded keeps the same secret). ``create=False``: only an existing one."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None and create:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def second_factor_confirm(*, request, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the authenticator being set up with a code from it: this session counts as
    verified and the person's recovery codes (shown once) are returned; None when the code is
    wrong (nothing changes)."""
    if device.confirmed or device.user_id != request.user.pk:
        return None
    # Checked without django-otp's throttling, which writes on every failure: this secret
    # protects nothing until it is confirmed, and a refused request writes nothing.
    token = code.strip().replace(" ", "")
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if not token.isdigit() or not totp.verify(int(token), device.tolerance):
        return None
    device.last_t = totp.t()
    with transaction.atomic():
        TOTPDevice.objects.filter(user=request.user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed", "last_t"])
        codes = _new_recovery_codes(request.user)
    otp_login(request, device)
    request.session[SESSION_HAS_DEVICE] = True
    return codes


def second_factor_verify(*, request, code: str) -> bool:
    """A code from the authenticator, or a recovery code (used up): this session counts as
    verified. Wrong codes slow the next attempts down (django-otp's throttling)."""
    device = match_token(request.user, code.strip().replace(" ", ""))
    if device is None:
        return False
    otp_login(request, device)
    return True


def recovery_codes_renew(*, user: User) -> list[str]:
    """New recovery codes; the old ones stop working."""
    with transaction.atomic():
        return _new_recovery_codes(user)


def second_factor_turn_off(*, request) -> None:
    """Remove the person's authenticator and recovery codes (refused by the page when the
    second factor is required)."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=request.user).delete()
        StaticDevice.objects.filter(user=request.user).delete()
    request.session[SESSION_HAS_DEVICE] = False


def second_factor_remember_at_sign_in(sender, request, user, **kwargs) -> None:
    """``user_logged_in`` receiver (``PortalConfig.ready``): the session learns at sign-in
    whether the person has a device, so no page pays for asking."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_HAS_DEVICE] = second_factor_has_device(user)


# --- Middleware -------------------------------------------------------------------------------


class SecondFactorMiddleware:
    """Send a person who owes a code to type it, and one who needs a second factor and has
    none to set it up, before any other page of the portal."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or user.is_verified():
            return None
        # Only the portal's own pages: the sandbox carrier and the edge are other servers.
        if getattr(request, "urlconf", None) not in (None, settings.ROOT_URLCONF):
            return None
        match = request.resolver_match
        if match is None or match.url_name in OPEN_PAGES or "api-v1" in match.namespaces:
            return None
        has_device = request.session.get(SESSION_HAS_DEVICE)
        if has_device is None:
            has_device = second_factor_has_device(user)
            request.session[SESSION_HAS_DEVICE] = has_device
        memberships = getattr(request, "memberships", None) or []
        if has_device:
            target = "second_factor_verify"
        elif second_factor_required(user=user, memberships=memberships):
            target = "second_factor_setup"
        else:
            return None
        return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
