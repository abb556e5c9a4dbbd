"""How the sandbox's REST views authenticate and answer errors, the way Xoxzo (DRF) does."""

from __future__ import annotations

import base64
import binascii
import time
from functools import wraps

from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from sandbox import accounts, errors, faults, subscriptions

REALM = 'Basic realm="api"'


def basic_credentials(request) -> tuple[str, str] | None:
    """(sid, token) from an ``Authorization: Basic`` header, or None if absent or malformed."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    sid, separator, token = decoded.partition(":")
    if not separator:
        return None
    return sid, token


def _unauthorized(detail: str) -> JsonResponse:
    response = JsonResponse({"detail": detail}, status=401)
    response["WWW-Authenticate"] = REALM
    return response


def xoxzo_api(*methods: str):
    """Decorate a sandbox REST view: no CSRF, Basic auth, allowed methods, JSON errors.

    The view receives ``request.sandbox_account``. Service errors become DRF-style answers:
    ``SandboxValidationError`` → 400 ``{"field": [...]}``, ``SandboxNotFound`` → 404.
    Injected faults (``SandboxFault``) apply here, once authentication has passed, so that
    every API view fails alike and a refused request never uses a fault up.
    """

    def decorator(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            credentials = basic_credentials(request)
            if credentials is None:
                return _unauthorized("Authentication credentials were not provided.")
            account = accounts.sandbox_account_authenticate(
                sid=credentials[0], auth_token=credentials[1]
            )
            if account is None:
                return _unauthorized("Invalid username/password.")
            request.sandbox_account = account
            fault = faults.sandbox_fault_claim(method=request.method, path=api_path(request))
            if fault is None:
                return answer(request, *args, **kwargs)
            return _with_fault(fault, answer, request, *args, **kwargs)

        def answer(request, *args, **kwargs):
            if request.method not in methods:
                response = JsonResponse(
                    {"detail": f'Method "{request.method}" not allowed.'}, status=405
                )
                response["Allow"] = ", ".join(methods)
                return response
            # The inventory appears on first use, also after a test flushed the tables.
            subscriptions.sandbox_inventory_ensure()
            try:
                return view(request, *args, **kwargs)
            except errors.SandboxValidationError as exc:
                return JsonResponse(exc.errors, status=400)
            except errors.SandboxNotFound:
                return JsonResponse({"detail": "Not found."}, status=404)

        return wrapper

    return decorator


def api_path(request) -> str:
    """The request's path relative to /sandbox (``/voice/dins/``), as fault patterns see it."""
    # Derived from the URLconf rather than written down (the portal's URLconf mounts it).
    mount = reverse("sandbox:account").removesuffix("account/").rstrip("/")
    return request.path_info.removeprefix(mount) or "/"


def _with_fault(fault, answer, request, *args, **kwargs):
    """Answer ``request`` the way the claimed fault says (see ``SandboxFault``)."""
    injected = None
    if fault.status is not None:
        injected = JsonResponse(
            {"detail": f"Injected sandbox fault: HTTP {fault.status}."}, status=fault.status
        )
        injected["X-Sandbox-Fault"] = str(fault.pk)
    if fault.when == fault.When.AFTER:
        response = answer(request, *args, **kwargs)
        time.sleep(fault.delay_seconds)
        return injected or response
    time.sleep(fault.delay_seconds)
    return injected or answer(request, *args, **kwargs)
