"""Tenants, their members, invitations and the audit log."""

from __future__ import annotations

import uuid
import zoneinfo
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from portal.scoping import TenantManager

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class Language(models.TextChoices):
    JAPANESE = "ja", _("Japanese")
    ENGLISH = "en", _("English")


TIMEZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who signs in with an e-mail address; tenants come through memberships."""

    # No username: people sign in by e-mail (django-stubs cannot express a removed field).
    username = None  # type: ignore[assignment]
    email = models.EmailField(_("e-mail address"), unique=True)
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.JAPANESE
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []
    # The e-mail manager above; the stub types AbstractUser's as the username-based one.
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    def __str__(self):
        return self.get_full_name() or self.email


class Tenant(models.Model):
    """A company using the portal. Everything it owns points here."""

    id = models.BigAutoField(primary_key=True)
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=200)
    timezone = models.CharField(
        _("time zone"), max_length=64, choices=TIMEZONE_CHOICES, default="Asia/Tokyo"
    )
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.JAPANESE
    )
    # Toll-fraud guards (dins/destinations.py): transfers and outbound calls go abroad, or to
    # premium-rate and shared-cost numbers, only once an admin allowed it.
    allow_international_transfer = models.BooleanField(
        _("allow transfers and calls to numbers outside Japan"), default=False
    )
    allow_premium_destinations = models.BooleanField(
        _("allow transfers and calls to premium-rate and shared-cost numbers"), default=False
    )
    # Owners and admins move money and route the company's calls: when on, they sign in with a
    # second factor too, and one without it is sent to set it up first (portal.second_factor).
    require_second_factor = models.BooleanField(
        _("require a second factor for owners and admins"), default=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")

    def __str__(self):
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class TenantOwned(models.Model):
    """Base of every tenant-owned row: scoped manager, opaque code, timestamps."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("portal.Tenant", on_delete=models.PROTECT, related_name="+")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The default manager is scoped; Django's internal base manager (forward foreign keys,
    # deletion) stays plain, which only ever follows rows already reached through a scope.
    objects = TenantManager()

    class Meta:
        abstract = True


class Role(models.TextChoices):
    """Roles in rising order of power; compare with ``Role.rank``."""

    VIEWER = "viewer", _("Viewer")
    STAFF = "staff", _("Staff")
    ADMIN = "admin", _("Admin")
    OWNER = "owner", _("Owner")

    @classmethod
    def rank(cls, role: str) -> int:
        return [choice.value for choice in cls].index(role)


class Membership(TenantOwned):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.STAFF)

    class Meta:
        ordering = ["tenant__name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user"),
        ]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self):
        return f"{self.user} @ {self.tenant} ({self.role})"

    def has_role(self, role: str) -> bool:
        return Role.rank(self.role) >= Role.rank(role)


class Invitation(TenantOwned):
    """An e-mailed link that lets a person join the tenant with a role."""

    email = models.EmailField(_("e-mail address"))
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.STAFF)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open invitation per address and tenant; a new one replaces the old.
            models.UniqueConstraint(
                fields=["tenant", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
        ]

    def __str__(self):
        return f"{self.email} → {self.tenant}"

    @property
    def is_open(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )


class AuditEvent(TenantOwned):
    """Who did what to which object, from where, with the values before and after."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept beside the foreign key so the log still names a person who was deleted since.
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_code = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The audit page lists one tenant's newest events first, optionally by action.
            models.Index(fields=["tenant", "-created_at"], name="audit_tenant_recent"),
            models.Index(fields=["tenant", "action", "-created_at"], name="audit_tenant_action"),
        ]

    def __str__(self):
        return f"{self.actor_label} {self.action} {self.object_repr}"


# --- Alerts -----------------------------------------------------------------------------------


class NotifyLanguage(models.TextChoices):
    MEMBER = "member", _("Each member's own language")
    JAPANESE = "ja", _("Japanese")
    ENGLISH = "en", _("English")


class NotificationSetting(TenantOwned):
    """Who receives the tenant's alerts by e-mail, and in which language (one row per tenant).

    A tenant without a row gets the defaults (owners and admins, each in their own language).
    """

    notify_owners = models.BooleanField(_("owners"), default=True)
    notify_admins = models.BooleanField(_("admins"), default=True)
    notify_staff = models.BooleanField(_("staff"), default=False)
    # One address a line; extra addresses (a shared mailbox, an on-call service) need no account.
    extra_addresses = models.TextField(_("extra addresses"), blank=True)
    language = models.CharField(
        _("language"), max_length=6, choices=NotifyLanguage.choices, default=NotifyLanguage.MEMBER
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="notification_setting_one_per_tenant"),
        ]
        verbose_name = _("notification setting")
        verbose_name_plural = _("notification settings")

    def __str__(self):
        return f"notifications of tenant {self.tenant_id}"

    @property
    def extra_address_list(self) -> list[str]:
        return [line.strip().lower() for line in self.extra_addresses.splitlines() if line.strip()]


class AlertKind(models.TextChoices):
    TRIAL_REMINDER = "trial_reminder", _("Trial ends soon")
    TRIAL_RELEASED = "trial_released", _("Trial released")
    SUBSCRIPTION_FAILED = "subscription_failed", _("Subscription failed")
    RELEASE_FAILED = "release_failed", _("Release failed")
    TRIAL_OVERDUE = "trial_overdue", _("Trial not released in time")
    ACTION_URL_FALLBACK = "action_url_fallback", _("Calls answered by the fallback")
    CARRIER_CREDENTIALS = "carrier_credentials", _("Carrier credentials rejected")
    WEBHOOK_DISABLED = "webhook_disabled", pgettext_lazy("webhook", "Webhook turned off")


class EmailStatus(models.TextChoices):
    PENDING = "pending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Alert(TenantOwned):
    """Something a tenant should know about, e-mailed once and listed until acknowledged."""

    kind = models.CharField(_("kind"), max_length=32, choices=AlertKind.choices)
    # The number the alert is about, when it is about one: a subscription of the numbers app,
    # which sits above this one and so is named, not pointed at. Its id keeps "one alert per
    # kind and number per hour"; its code makes the links. Set by ``portal.alerts.alert_raise``.
    number_id = models.BigIntegerField(null=True, blank=True)
    number_code = models.UUIDField(null=True, blank=True)
    # "<kind>:<subject>:<hour>": the unique constraint below is what makes "at most one alert
    # per kind and number per hour" hold under concurrent workers (portal.alerts.alert_raise).
    dedup_key = models.CharField(max_length=120)
    # What the e-mail and the pages render from (numbers, reasons), kept as it was then.
    context = models.JSONField(default=dict, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Set when the alert closed itself because its cause went away (acknowledged_by is empty).
    resolution = models.CharField(max_length=300, blank=True)
    email_status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    email_attempts = models.PositiveIntegerField(default=0)
    email_last_error = models.CharField(max_length=300, blank=True)
    # Recipients already served, so a retry after a partial failure mails only the others.
    email_sent_to = models.JSONField(default=list, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    # Not stored: set on the alerts a page lists (``portal.alerts.alert_title``, RESOLUTIONS).
    title: str
    resolution_words: StrOrPromise

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "dedup_key"], name="alert_dedup_once"),
        ]
        indexes = [
            # The dashboard panel and the alerts page: a tenant's open alerts, newest first.
            models.Index(
                fields=["tenant", "-created_at"],
                condition=models.Q(acknowledged_at__isnull=True),
                name="alert_tenant_open",
            ),
            # The alerts page's closed alerts of the last 30 days, newest first.
            models.Index(fields=["tenant", "-created_at"], name="alert_tenant_recent"),
            # alert_raise's look-back for the same kind and number in the last hour.
            models.Index(
                fields=["tenant", "kind", "number_id", "-created_at"], name="alert_recent"
            ),
        ]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")

    def __str__(self):
        number = self.context.get("number", "")
        return f"{self.get_kind_display()} {number}".strip()

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None


class PlatformAlertKind(models.TextChoices):
    """Trouble of the whole installation: operators hear of it, not whichever company was near."""

    CARRIER_CREDENTIALS = "carrier_credentials", _("Carrier credentials rejected")
    SCHEDULER_LATE = "scheduler_late", _("Scheduled work has not run")
    QUEUE_BACKLOG = "queue_backlog", _("Tasks are piling up")
    CALL_LOG_DROPPED = "call_log_dropped", _("Call-log rows dropped")
    CALLS_UNLOGGED = "calls_unlogged", _("Calls answered while nothing was known")
    TASK_FAILED = "task_failed", _("A task failed in the worker")
    STORAGE_FAILED = "storage_failed", _("Uploads cannot be stored")


class PlatformAlert(models.Model):
    """An operators' alert: one row per kind and hour, counting how often it happened."""

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=32, choices=PlatformAlertKind.choices)
    # "<kind>:<subject>:<hour>": the unique constraint makes "one alert per kind, subject and
    # hour" hold under concurrent processes (portal.platform.platform_alert_raise).
    dedup_key = models.CharField(max_length=160, unique=True)
    # What it is about ("reconcile", "outbound_call:12"): the cause whose end closes it.
    subject = models.CharField(max_length=80, blank=True)
    message = models.TextField()
    # Where an operator looks into it: a path on the people's address (portal.addresses).
    link = models.CharField(max_length=200, blank=True)
    count = models.PositiveIntegerField(default=1)
    first_at = models.DateTimeField(auto_now_add=True)
    last_at = models.DateTimeField(auto_now=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_last_error = models.CharField(max_length=300, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # Set when the alert closed itself because its cause went away (e.g. reconcile ran).
    resolution = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-last_at", "-id"]
        verbose_name = _("operators' alert")
        verbose_name_plural = _("operators' alerts")

    def __str__(self):
        return f"{self.get_kind_display()} x{self.count}"


class Heartbeat(models.Model):
    """When a piece of scheduled work last finished (the trial sweep, reconciliation)."""

    name = models.CharField(max_length=40, primary_key=True)
    at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"


class OutboxMessage(models.Model):
    """A task to hand to the broker, saved in the same transaction as the work it stands for.

    ``portal.outbox`` writes it, hands it over after commit and marks it sent; a broker that is
    down at that moment leaves it unsent, and the outbox sweep hands it over once the broker is
    back. Not tenant data: the task's own arguments name the tenant.
    """

    id = models.BigAutoField(primary_key=True)
    task_name = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict)
    # The broker message's id: a message handed over twice is recognisably the same task.
    task_id = models.CharField(max_length=64, unique=True)
    # What the task works on ("dins.subscription:12"), for pages that say "queued".
    subject = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Not handed over after this (the work would come too late): given up instead.
    expires_at = models.DateTimeField(null=True, blank=True)
    # The sweep's lease: a hand-over attempt in progress, or the last one that failed.
    attempted_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    given_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The sweep's one query: unsent messages only, however many were ever sent.
            models.Index(
                fields=["created_at"],
                condition=models.Q(sent_at__isnull=True, given_up_at__isnull=True),
                name="outbox_unsent",
            ),
            models.Index(
                fields=["subject"],
                condition=models.Q(sent_at__isnull=True, given_up_at__isnull=True),
                name="outbox_unsent_subject",
            ),
            models.Index(fields=["created_at"], name="outbox_created"),  # pruning
        ]
        verbose_name = _("queued task")
        verbose_name_plural = _("queued tasks")

    def __str__(self):
        state = "sent" if self.sent_at else "given up" if self.given_up_at else "unsent"
        return f"{self.task_name} {self.subject} ({state})"


class RateCounter(models.Model):
    """A count shared by every process of the embedded default, which has no Redis: requests
    of one API key in one minute (``portal.counters``). One row per name; rows are pruned
    once they expire."""

    name = models.CharField(max_length=120, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"{self.name}={self.count}"
