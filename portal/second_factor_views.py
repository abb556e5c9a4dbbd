"""The second factor's pages: type a code, set an authenticator up, manage it."""

from __future__ import annotations

import base64

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal import second_factor
from portal.forms import SecondFactorCodeForm


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return "/"


@login_required
def second_factor_verify(request):
    """After the password: a code from the authenticator app, or a recovery code."""
    if request.user.is_verified():
        return redirect(_next(request))
    form = SecondFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if second_factor.second_factor_verify(request=request, code=form.cleaned_data["code"]):
            return redirect(_next(request))
        form.add_error(
            "code",
            _(
                "That code is not right, or was used already. Type the 6 digits your app "
                "shows now, or one of your recovery codes. Each wrong code makes the next try "
                "wait a little longer."
            ),
        )
    status = 400 if form.errors else 200
    context = {"form": form, "next": _next(request)}
    return render(request, "registration/second_factor_verify.html", context, status=status)


@login_required
def second_factor_setup(request):
    """Set up an authenticator app: scan the code (or type the key), then type a code it shows."""
    if second_factor.second_factor_has_device(request.user):
        return redirect("second_factor")
    # The secret is made when the page is shown; a post only confirms it (writes nothing
    # when refused).
    posted = request.method == "POST"
    device = second_factor.second_factor_setup_start(user=request.user, create=not posted)
    if device is None:
        return redirect("second_factor_setup")
    form = SecondFactorCodeForm(request.POST or None)
    if posted and form.is_valid():
        codes = second_factor.second_factor_confirm(
            request=request, device=device, code=form.cleaned_data["code"]
        )
        if codes is not None:
            return render(
                request,
                "registration/second_factor_codes.html",
                {"codes": codes, "next": _next(request), "first_time": True},
            )
        form.add_error(
            "code",
            _(
                "That code is not right. Check that the app shows DIN Portal with your e-mail "
                "address, then type the 6 digits it shows now."
            ),
        )
    secret = base64.b32encode(device.bin_key).decode()
    context = {
        "form": form,
        "next": _next(request),
        "qr_svg": segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#111"),
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
        "required": second_factor.second_factor_required(
            user=request.user, memberships=getattr(request, "memberships", [])
        ),
    }
    status = 400 if form.errors else 200
    return render(request, "registration/second_factor_setup.html", context, status=status)


@login_required
def second_factor_manage(request):
    state = second_factor.second_factor_state(
        user=request.user, memberships=getattr(request, "memberships", [])
    )
    return render(request, "registration/second_factor.html", {"state": state})


@require_POST
@login_required
def recovery_codes_renew(request):
    if not request.user.is_verified():
        return redirect("second_factor_verify")
    codes = second_factor.recovery_codes_renew(user=request.user)
    return render(request, "registration/second_factor_codes.html", {"codes": codes, "next": "/"})


@require_POST
@login_required
def second_factor_turn_off(request):
    state = second_factor.second_factor_state(
        user=request.user, memberships=getattr(request, "memberships", [])
    )
    if state.required:
        messages.error(
            request,
            _("Your company (or your operator role) requires a second factor: it stays on."),
        )
    elif request.user.is_verified():
        second_factor.second_factor_turn_off(request=request)
        messages.success(request, _("The second factor is off: you sign in with your password."))
    return redirect("second_factor")
