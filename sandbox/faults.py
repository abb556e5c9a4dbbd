"""Fault injection: make the sandbox answer a request late, with an error, or both, to drill
the portal against a carrier that misbehaves.
"""

from __future__ import annotations

import re

from django.db.models import F

from sandbox.errors import SandboxValidationError
from sandbox.models import (
    SandboxFault,
)

FAULT_METHODS = ("GET", "POST", "DELETE", "PUT", "PATCH", "*")
MAX_FAULT_DELAY_SECONDS = 60  # also a check constraint: a fault must not hang a server thread


def sandbox_fault_add(
    *,
    method: str,
    path_pattern: str,
    status: int | None = None,
    when: str = SandboxFault.When.BEFORE,
    delay_seconds: float = 0,
    times: int = 1,
) -> SandboxFault:
    """Make the next ``times`` API requests matching ``method`` and ``path_pattern`` fail.

    ``path_pattern`` is a regex searched in the path relative to /sandbox (e.g.
    ``^/voice/dins/subscriptions/[^/]+/?$``). ``when="before"`` answers ``status`` without
    processing the request; ``when="after"`` processes it and answers ``status`` instead of the
    real answer. ``delay_seconds`` is slept before answering (with "after", a client whose read
    timeout is shorter sees a timeout although the request took effect). ``status=None`` keeps
    the real answer, so the fault is a pure delay. Raises ``SandboxValidationError``.
    """
    method = (method or "").strip().upper()
    errors: dict[str, list[str]] = {}
    if method not in FAULT_METHODS:
        errors["method"] = [f"Choose one of: {', '.join(FAULT_METHODS)}."]
    if not path_pattern:
        errors["path_pattern"] = ["This field is required."]
    else:
        try:
            re.compile(path_pattern)
        except re.error as error:
            errors["path_pattern"] = [f"Not a valid regular expression: {error}."]
    if status is not None and not 100 <= status <= 599:
        errors["status"] = ["Enter an HTTP status between 100 and 599."]
    if when not in SandboxFault.When.values:
        errors["when"] = [f"Choose one of: {', '.join(SandboxFault.When.values)}."]
    if not 0 <= delay_seconds <= MAX_FAULT_DELAY_SECONDS:
        errors["delay_seconds"] = [f"Enter 0 to {MAX_FAULT_DELAY_SECONDS} seconds."]
    if times < 1:
        errors["times"] = ["Enter at least 1."]
    if status is None and not delay_seconds and "status" not in errors:
        errors["status"] = ["Give a status, a delay, or both: this fault would change nothing."]
    if errors:
        raise SandboxValidationError(errors)
    return SandboxFault.objects.create(
        method=method,
        path_pattern=path_pattern,
        status=status,
        when=when,
        delay_seconds=delay_seconds,
        remaining=times,
    )


def sandbox_faults_clear() -> int:
    """Remove every fault, used up or not; returns how many there were."""
    deleted, _ = SandboxFault.objects.all().delete()
    return deleted


def sandbox_fault_claim(*, method: str, path: str) -> SandboxFault | None:
    """The oldest fault matching this request, with one of its uses taken, or None.

    Each use is taken by a conditional ``UPDATE … SET remaining = remaining - 1 WHERE
    remaining > 0``: of concurrent requests, exactly ``remaining`` get the fault.
    """
    candidates = SandboxFault.objects.filter(remaining__gt=0, method__in=(method.upper(), "*"))
    for fault in candidates.order_by("created_at", "id"):
        try:
            matches = re.search(fault.path_pattern, path) is not None
        except re.error:  # written around the service (admin, SQL): such a fault never applies
            matches = False
        if not matches:
            continue
        taken = SandboxFault.objects.filter(pk=fault.pk, remaining__gt=0).update(
            remaining=F("remaining") - 1
        )
        if taken:
            fault.remaining -= 1
            return fault
    return None
