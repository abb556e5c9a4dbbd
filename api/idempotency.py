"""Writes made with an ``Idempotency-Key``: the first request with a key does the write, any
later one with the same key answers what the first did, and a key sent again with another body
is refused. Concurrent requests with one key do the write once (a unique constraint decides)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from api.models import ApiKey, IdempotentRequest
from portal.models import Tenant
from portal.services import InvalidInput


class IdempotencyKeyReused(InvalidInput):
    """The key was used for a request with another body."""


def idempotent_write(
    *,
    tenant: Tenant,
    api_key: ApiKey,
    key: str,
    operation: str,
    body: str,
    write: Callable[[], str],
) -> tuple[bool, str]:
    """Run ``write`` (which returns the code of what it made) once for ``key``.

    Answers ``(True, code)`` when it ran now, ``(False, code)`` when a request with the same
    key and body ran it before. Raises ``IdempotencyKeyReused`` for the same key with another
    body; whatever ``write`` raises, nothing is kept and the key stays free.
    """
    digest = hashlib.sha256(body.encode()).hexdigest()
    earlier = IdempotentRequest.objects.filter(api_key=api_key, key=key).first()
    if earlier is not None:
        return False, _same(earlier, digest)
    try:
        with transaction.atomic():
            claim = IdempotentRequest.objects.create(
                tenant=tenant, api_key=api_key, key=key, operation=operation, request_hash=digest
            )
            code = write()
            claim.object_code = code
            claim.save(update_fields=["object_code", "updated_at"])
    except IntegrityError:
        # The same key, sent concurrently: the other request did the write.
        earlier = IdempotentRequest.objects.filter(api_key=api_key, key=key).first()
        if earlier is None:
            raise  # another constraint of the write itself
        return False, _same(earlier, digest)
    return True, code


def _same(earlier: IdempotentRequest, digest: str) -> str:
    if earlier.request_hash != digest:
        raise IdempotencyKeyReused(_("This Idempotency-Key was used for a different request."))
    return earlier.object_code
