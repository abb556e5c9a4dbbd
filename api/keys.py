"""API keys: created and revoked by owners and admins, checked on every API request.

A key reads ``dinp_<prefix>_<secret>``. The prefix (public) finds the row; the SHA-256 of the
whole key is compared in constant time. A revoked key stops at once: every request reads the
row (one indexed query), nothing about a key is cached.

Keys are bounded by people: a key uses the rights of one member (``holder``: its creator, or
an owner they named) and acts with the lower of its own role and that member's role *now*
(read in the same query). A member demoted to viewer leaves their admin key read-only at the
next request; a member who leaves the company takes their keys' access with them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from api.models import ApiKey, KeyRole
from portal.counters import counter_increment
from portal.models import Membership, Role
from portal.scoping import current_tenant, scopes_disabled
from portal.services import ServiceError, audit_record

logger = logging.getLogger(__name__)

KEY_PREFIX = "dinp_"
MAX_ACTIVE_KEYS = 20
# last_used_at is written at most this often per key: not one UPDATE per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    token: str  # shown once; only its hash is kept


def api_key_holders(*, by: Membership) -> list[Membership]:
    """Whose rights a key made by ``by`` may use: theirs, or an owner's of the company."""
    owners = Membership.objects.filter(role=Role.OWNER).exclude(pk=by.pk).select_related("user")
    return [by, *owners.order_by("user__email")]


def api_key_create(
    *,
    name: str,
    role: str,
    expires_at: datetime | None,
    by: Membership,
    request,
    holder: Membership | None = None,
) -> NewKey:
    """A new key for the active tenant; owners and admins only, never above their role nor
    above the role of the member whose rights it uses (``holder``, by default ``by``)."""
    if not by.has_role(Role.ADMIN):
        raise ServiceError(_("Only owners and admins can manage API keys."))
    if role not in KeyRole.values:
        raise ServiceError(_("Unknown role."))
    holder = holder or by
    if holder.pk not in {member.pk for member in api_key_holders(by=by)}:
        raise ServiceError(_("A key uses your rights or an owner's."))
    if not by.has_role(role) or not holder.has_role(role):
        raise ServiceError(
            _("The key's role cannot be above %(name)s's role (%(role)s).")
            % {"name": holder.user, "role": holder.get_role_display()}
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ServiceError(_("The expiry must be in the future."))
    active = ApiKey.objects.filter(revoked_at__isnull=True).count()
    if active >= MAX_ACTIVE_KEYS:
        raise ServiceError(
            _("A company may have %(count)d API keys; revoke one first.")
            % {"count": MAX_ACTIVE_KEYS}
        )
    prefix = secrets.token_hex(5)
    token = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            tenant=current_tenant(),
            name=name.strip()[:100],
            role=role,
            prefix=prefix,
            secret_hash=_hash(token),
            created_by=by.user,
            holder=holder.user,
            expires_at=expires_at,
        )
        audit_record(
            action="api_key.create",
            obj=key,
            request=request,
            after={
                "name": key.name,
                "role": role,
                "prefix": prefix,
                "holder": holder.user.email,
            },
        )
    return NewKey(key=key, token=token)


def api_key_revoke(*, key: ApiKey, by: Membership, request) -> bool:
    """Revoke now (compare-and-set: a second click changes nothing)."""
    if not by.has_role(Role.ADMIN):
        raise ServiceError(_("Only owners and admins can manage API keys."))
    changed = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by.user, updated_at=timezone.now()
    )
    if changed:
        audit_record(action="api_key.revoke", obj=key, request=request)
    return bool(changed)


def _with_holder_role(queryset):
    """Each key with ``holder_role``: its holder's role in the key's company now (None when
    they are no longer a member), in the same query."""
    memberships = Membership._base_manager.filter(
        tenant=OuterRef("tenant"), user=OuterRef("holder")
    )
    return queryset.annotate(holder_role=Subquery(memberships.values("role")[:1]))


def api_key_list():
    keys = ApiKey.objects.select_related("created_by", "holder").order_by(
        "revoked_at", "-created_at"
    )
    return _with_holder_role(keys)


class KeyRefused(Exception):
    """The presented key cannot be used; ``code`` says why (for the error body)."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


def api_key_authenticate(token: str) -> ApiKey:
    """The usable key behind ``token`` (its tenant loaded), else ``KeyRefused``.

    Keys are looked up across tenants (the key names its tenant, not the other way round).
    """
    parts = token.split("_", 2)  # the secret may hold "_" too
    if len(parts) != 3 or f"{parts[0]}_" != KEY_PREFIX:
        raise KeyRefused("invalid_key", _("The API key is not valid."))
    with scopes_disabled():
        found = ApiKey.objects.select_related("tenant", "holder").filter(prefix=parts[1])
        key = _with_holder_role(found).first()
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(token)):
        raise KeyRefused("invalid_key", _("The API key is not valid."))
    if key.revoked_at is not None:
        raise KeyRefused("key_revoked", _("This API key was revoked."))
    if key.expires_at is not None and key.expires_at <= timezone.now():
        raise KeyRefused("key_expired", _("This API key has expired."))
    if key.holder is None or not key.holder.is_active:
        # Writes are recorded against the person whose rights the key uses (numbers kept,
        # calls placed); a key whose holder's account is gone must be replaced.
        raise KeyRefused("key_orphaned", _("The account that created this key no longer exists."))
    if key.holder_role is None:
        raise KeyRefused(
            "key_holder_removed",
            _(
                "%(name)s, whose rights this key uses, is no longer a member of the company; "
                "an owner or admin can create a new key."
            )
            % {"name": key.holder},
        )
    key.effective_role = key.acting_role
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        with scopes_disabled():
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def api_key_rate_limited(key: ApiKey, *, now: datetime | None = None) -> int | None:
    """Seconds to wait when ``key`` used its requests of the current minute, else None.

    A fixed one-minute window counted where every process counts (``portal.counters``: Redis,
    or the database on the embedded default). When that is unreachable the request goes
    through (the limit protects the portal; an outage of Redis must not stop every program
    using the API) and the log says so.
    """
    now = now or timezone.now()
    window = int(now.timestamp()) // 60
    name = f"api:rate:{key.prefix}:{window}"  # the prefix is random and unique, the pk reusable
    try:
        count = counter_increment(name, lifetime_seconds=70)
    except Exception as error:  # the store is away: let the request through, loudly
        logger.warning("api rate limit: counter unavailable (%s)", type(error).__name__)
        return None
    if count > settings.API_RATE_LIMIT_PER_MINUTE:
        return 60 - int(now.timestamp()) % 60
    return None


def key_has_role(key: ApiKey, role: str) -> bool:
    acting = getattr(key, "effective_role", key.role)
    return Role.rank(acting) >= Role.rank(role)
