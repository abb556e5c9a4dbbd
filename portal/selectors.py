"""Read-side queries for tenants, members and the audit log."""

from datetime import datetime, timedelta

from django.db.models import Count, QuerySet
from django.utils import timezone

from portal.audit_words import ACTIONS, OBJECTS
from portal.models import AuditEvent, Invitation, Membership, Role, User
from portal.scoping import scopes_disabled


def memberships_of_user(user: User) -> list[Membership]:
    """Every tenant the user belongs to: the one cross-tenant read a request makes."""
    with scopes_disabled():
        return list(
            Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")
        )


def membership_list() -> QuerySet[Membership]:
    return Membership.objects.select_related("user").order_by("user__email")


def invitation_open_list() -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).select_related("invited_by")


def audit_event_list(
    *,
    action: str = "",
    actor: User | None = None,
    object_type: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    query: str = "",
) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.select_related("actor")
    if action:
        events = events.filter(action=action)
    if object_type:
        events = events.filter(object_type=object_type)
    if actor is not None:
        events = events.filter(actor=actor)
    if since:
        events = events.filter(created_at__gte=since)
    if until:
        events = events.filter(created_at__lt=until)
    if query:
        events = events.filter(object_repr__icontains=query)
    return events.order_by("-created_at", "-id")


def audit_event_facets() -> dict[str, list[str]]:
    """The actions and object types the filter menus offer: every one the portal records
    (``portal.audit_words``), not a DISTINCT over the company's whole log on every view."""
    return {"actions": sorted(ACTIONS), "object_types": sorted(OBJECTS)}


def dashboard_figures() -> dict:
    """The active tenant's headline figures."""
    roles = dict(
        Membership.objects.order_by()
        .values_list("role")
        .annotate(count=Count("id"))
        .values_list("role", "count")
    )
    week_ago = timezone.now() - timedelta(days=7)
    return {
        "members_total": sum(roles.values()),
        "members_by_role": [(Role(role).label, roles.get(role, 0)) for role in reversed(Role)],
        "invitations_open": invitation_open_list().count(),
        "audit_events_week": AuditEvent.objects.filter(created_at__gte=week_ago).count(),
        "recent_events": list(AuditEvent.objects.select_related("actor")[:8]),
    }
