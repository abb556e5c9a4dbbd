"""API keys of a company, its outgoing webhooks, their deliveries and idempotent requests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.models import Role, TenantOwned

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class KeyRole(models.TextChoices):
    """What a key may do; the names are the portal's roles (``portal.models.Role``)."""

    VIEWER = "viewer", _("Read only")
    STAFF = "staff", _("Staff")
    ADMIN = "admin", _("Admin")


class ApiKey(TenantOwned):
    """A secret that lets a program use the API as the company, with a role.

    Only the SHA-256 of the whole key is stored; the key is shown once, when it is created.
    ``prefix`` is the key's public first part: it finds the row without scanning, and names the
    key in lists and in the audit log.
    """

    name = models.CharField(_("name"), max_length=100)
    role = models.CharField(_("role"), max_length=10, choices=KeyRole.choices)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Whose rights the key uses: the member who created it, or an owner they named. The key
    # acts with at most that member's current role, and stops when they leave the company
    # (api.keys.api_key_authenticate); what it does is attributed to them.
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("rights of"),
    )
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self):
        return f"{self.name} ({self.prefix})"

    @property
    def acting_role(self) -> str | None:
        """The lower of the key's role and its holder's role now (``holder_role``, annotated
        by ``api.keys``); None when the holder is no longer a member."""
        holder_role = getattr(self, "holder_role", None)
        if holder_role is None:
            return None
        return min(self.role, holder_role, key=Role.rank)

    @property
    def acting_role_label(self) -> StrOrPromise:
        return Role(self.acting_role).label if self.acting_role else ""

    @property
    def is_usable(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class WebhookEvent(models.TextChoices):
    CALL_ANSWERED = "call.answered", _("Call answered")
    TRIAL_REMINDER = "trial.reminder", _("Trial ends soon")
    TRIAL_RELEASED = "trial.released", _("Trial released")
    SUBSCRIPTION_FAILED = "subscription.failed", _("Subscription failed")
    OUTBOUND_CALL_FINISHED = "outbound_call.finished", _("Outbound call finished")


class WebhookEndpoint(TenantOwned):
    """Where the company wants its events POSTed, signed with ``secret``."""

    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(max_length=64)
    events = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    # Counted by the deliveries; reaching WEBHOOK_DISABLE_AFTER_FAILURES turns the endpoint off.
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The event fan-out: a tenant's active endpoints.
            models.Index(
                fields=["tenant"], condition=Q(is_active=True), name="webhook_endpoint_active"
            ),
        ]
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self):
        return self.url


class WebhookDelivery(TenantOwned):
    """One event for one endpoint: the body is fixed when the event happens, then retried."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    # The exact bytes signed and sent (JSON text), whatever changes afterwards.
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_recent"),
        ]

    def __str__(self):
        return f"{self.event} → {self.endpoint_id} ({self.status})"


class IdempotentRequest(TenantOwned):
    """A write made with an ``Idempotency-Key``: the same key answers the same result again."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    operation = models.CharField(max_length=60)
    # SHA-256 of the request body: the same key with another body is refused, not replayed.
    request_hash = models.CharField(max_length=64)
    object_code = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotent_request_once"),
        ]
