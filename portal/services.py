"""Write-side operations for tenants, members, invitations and the audit log."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.addresses import people_url
from portal.client_address import client_address
from portal.models import AuditEvent, Invitation, Membership, Role, Tenant, User
from portal.outbox import outbox_enqueue
from portal.scoping import current_tenant, scopes_disabled, tenant_scope
from portal.signals import tenant_changed


class ServiceError(Exception):
    """A request the user can correct; the message is shown to them as it is."""


class InvalidInput(ServiceError):
    """A value given cannot be taken; ``field`` names it (None: the request as a whole). The
    pages put the message on that field of their form, the API answers 422 naming it."""

    def __init__(self, message, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --- Audit log --------------------------------------------------------------------------------


def audit_record(
    *,
    action: str,
    obj: Any,
    actor: User | None = None,
    request=None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    tenant: Tenant | None = None,
) -> AuditEvent:
    """Record that ``actor`` did ``action`` to ``obj`` (in the active tenant unless given).

    ``request`` supplies the actor (or, for the API, the key's name in
    ``request.audit_actor_label``), source address (the client's, through trusted proxies:
    ``portal.client_address``) and user agent when the change came from the browser; tasks
    pass ``actor=None`` and the log shows the system as the actor.
    """
    # A request made with an API key is recorded under the key's name (set by the API).
    key_label = getattr(request, "audit_actor_label", "") if request is not None else ""
    if key_label:
        actor = None
    elif request is not None and actor is None and request.user.is_authenticated:
        actor = request.user
    meta = request.META if request is not None else {}
    return AuditEvent.objects.create(
        tenant=tenant or current_tenant(),
        actor=actor,
        actor_label=key_label or (actor.email if actor else "system"),
        action=action,
        object_type=obj._meta.model_name,
        object_code=str(getattr(obj, "code", "") or ""),
        object_repr=str(obj)[:200],
        ip_address=client_address(request) if request is not None else None,
        user_agent=(meta.get("HTTP_USER_AGENT") or "")[:300],
        before=before,
        after=after,
    )


# --- Tenants ----------------------------------------------------------------------------------

TENANT_FIELDS = (
    "name",
    "timezone",
    "language",
    "allow_international_transfer",
    "allow_premium_destinations",
    "require_second_factor",
)


def tenant_update(*, tenant: Tenant, request, **values) -> Tenant:
    before = {field: getattr(tenant, field) for field in TENANT_FIELDS}
    for field, value in values.items():
        if field not in TENANT_FIELDS:
            raise TypeError(f"Tenant field {field!r} cannot be changed here.")
        setattr(tenant, field, value)
    after = {field: getattr(tenant, field) for field in TENANT_FIELDS}
    if after == before:
        return tenant
    changed = [field for field in TENANT_FIELDS if after[field] != before[field]]
    with transaction.atomic():
        tenant.save(update_fields=[*values, "updated_at"])
        audit_record(
            action="tenant.update", obj=tenant, request=request, before=before, after=after
        )
        # Call flows republish every number whose answers depend on what changed.
        tenant_changed.send(sender=Tenant, tenant=tenant, fields=changed)
    return tenant


# --- Members ----------------------------------------------------------------------------------


def _lock_owners() -> list[Membership]:
    """Lock the tenant's owner rows so two concurrent changes cannot remove the last owner."""
    return list(Membership.objects.select_for_update().filter(role=Role.OWNER).order_by("pk"))


def _ensure_may_manage(*, by: Membership, target_role: str) -> None:
    """Admins manage admins, staff and viewers; only owners grant or touch the owner role."""
    if not by.has_role(Role.ADMIN):
        raise ServiceError(_("Only owners and admins can manage members."))
    if target_role == Role.OWNER and by.role != Role.OWNER:
        raise ServiceError(_("Only an owner can grant, change or remove the owner role."))


def membership_change_role(
    *, membership: Membership, role: str, by: Membership, request
) -> Membership:
    if role not in Role.values:
        raise ServiceError(_("Unknown role."))
    _ensure_may_manage(by=by, target_role=membership.role)
    _ensure_may_manage(by=by, target_role=role)
    with transaction.atomic():
        owners = _lock_owners()
        membership.refresh_from_db(fields=["role"])
        if membership.role == role:
            return membership
        if membership.role == Role.OWNER and len(owners) <= 1:
            raise ServiceError(
                _("The last owner cannot be demoted. Make someone else owner first.")
            )
        before = {"role": membership.role}
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
        audit_record(
            action="membership.role_change",
            obj=membership,
            request=request,
            before=before,
            after={"role": role},
        )
    return membership


def membership_remove(*, membership: Membership, by: Membership, request) -> None:
    _ensure_may_manage(by=by, target_role=membership.role)
    with transaction.atomic():
        owners = _lock_owners()
        membership.refresh_from_db(fields=["role"])
        if membership.role == Role.OWNER and len(owners) <= 1:
            raise ServiceError(_("The last owner cannot be removed."))
        audit_record(
            action="membership.remove",
            obj=membership,
            request=request,
            before={"email": membership.user.email, "role": membership.role},
        )
        membership.delete()


# --- Invitations ------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# [choice] Each invitation e-mails an address someone typed: bounded, the form cannot be used
# to mail the world.
MAX_OPEN_INVITATIONS = 50


def invitation_create(*, email: str, role: str, by: Membership, request) -> Invitation:
    """Invite ``email`` with ``role`` and e-mail them the link (on the people's address).

    Only the secret token's hash is stored. An open invitation to the same address is replaced.
    """
    email = email.strip().lower()
    _ensure_may_manage(by=by, target_role=role)
    if Membership.objects.filter(user__email__iexact=email).exists():
        raise ServiceError(_("%(email)s is already a member.") % {"email": email})
    open_invitations = Invitation.objects.filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).exclude(email=email)
    if open_invitations.count() >= MAX_OPEN_INVITATIONS:
        raise ServiceError(
            _(
                "%(count)d invitations are still open, the most a company may have. Revoke "
                "some, or wait until they are accepted or expire."
            )
            % {"count": MAX_OPEN_INVITATIONS}
        )
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        now = timezone.now()
        Invitation.objects.filter(
            email=email, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        invitation = Invitation.objects.create(
            tenant=current_tenant(),
            email=email,
            role=role,
            token_hash=_token_hash(token),
            invited_by=request.user,
            expires_at=now + timedelta(days=settings.INVITATION_VALID_DAYS),
        )
        audit_record(
            action="invitation.create",
            obj=invitation,
            request=request,
            after={"email": email, "role": role},
        )
        accept_url = people_url("invitation_accept", token)
        outbox_enqueue(
            "portal.send_invitation_email",
            kwargs={
                "invitation_id": invitation.pk,
                "accept_url": accept_url,
                "tenant_id": invitation.tenant_id,
            },
        )
    return invitation


def invitation_revoke(*, invitation: Invitation, by: Membership, request) -> None:
    _ensure_may_manage(by=by, target_role=invitation.role)
    updated = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if updated:
        audit_record(action="invitation.revoke", obj=invitation, request=request)


def invitation_by_token(token: str) -> Invitation | None:
    """The open invitation behind a link, across tenants (the link names no tenant)."""
    with scopes_disabled():
        invitation = (
            Invitation.objects.select_related("tenant")
            .filter(token_hash=_token_hash(token))
            .first()
        )
    if invitation is None or not invitation.is_open:
        return None
    return invitation


def invitation_accept(
    *, invitation: Invitation, user: User | None, password: str = "", name: str = "", request
) -> Membership:
    """Join the invited tenant, creating the account first when the address has none."""
    with tenant_scope(invitation.tenant), transaction.atomic():
        claimed = Invitation.objects.filter(
            pk=invitation.pk,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        ).update(accepted_at=timezone.now())
        if not claimed:
            raise ServiceError(_("This invitation is no longer valid."))
        if user is None:
            user = User.objects.create_user(
                email=invitation.email, password=password, first_name=name[:150]
            )
        elif user.email.lower() != invitation.email:
            raise ServiceError(_("This invitation was sent to another e-mail address."))
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    tenant=invitation.tenant, user=user, role=invitation.role
                )
        except IntegrityError:
            raise ServiceError(_("You are already a member of this company.")) from None
        audit_record(
            action="invitation.accept",
            obj=membership,
            actor=user,
            request=request,
            after={"role": invitation.role},
        )
    return membership


def invitation_prune(*, older_than_days: int = 30) -> int:
    """Delete invitations that ended (accepted, revoked, expired) more than N days ago."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    with scopes_disabled():
        deleted, _details = Invitation.objects.filter(expires_at__lt=cutoff).delete()
    return deleted
