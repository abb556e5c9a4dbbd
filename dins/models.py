"""Numbers the tenants hold: one row per subscription attempt, and its trial bookkeeping."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.models import TenantOwned


def new_action_token() -> str:
    # URL-safe ([A-Za-z0-9_-]); names nothing about the tenant or the number.
    return secrets.token_urlsafe(24)


class Status(models.TextChoices):
    """A subscription's life; every arrow is a compare-and-set in ``dins.services``.

    pending → active → releasing → released; pending → failed (number taken, credentials);
    pending → unknown (the subscribe request may have reached the carrier without an answer:
    reconciliation reads the carrier's list and settles it).
    """

    PENDING = "pending", _("Subscribing")
    UNKNOWN = "unknown", _("Checking with the carrier")
    ACTIVE = "active", _("Active")
    RELEASING = "releasing", _("Releasing")
    RELEASED = "released", _("Released")
    FAILED = "failed", _("Failed")


LIVE_STATUSES = (Status.PENDING, Status.UNKNOWN, Status.ACTIVE, Status.RELEASING)


class Subscription(TenantOwned):
    din_uid = models.CharField(max_length=64)
    din = models.CharField(_("number"), max_length=20)  # E.164 digits, no "+"
    country_code = models.CharField(max_length=4)
    prefix = models.CharField(max_length=8)
    monthly_cost = models.DecimalField(max_digits=10, decimal_places=2)
    minute_cost = models.DecimalField(max_digits=10, decimal_places=2)
    trial_price = models.DecimalField(max_digits=10, decimal_places=2)

    label = models.CharField(_("label"), max_length=100, blank=True)
    description = models.TextField(_("description"), max_length=1000, blank=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    is_trial = models.BooleanField(default=False)
    failure_reason = models.CharField(max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    carrier_accepted_at = models.DateTimeField(null=True, blank=True)
    # Trials only: the carrier bills in full from trial_deadline; the sweep releases at
    # release_at = trial_deadline - TRIAL_RELEASE_MARGIN_MINUTES.
    trial_deadline = models.DateTimeField(null=True, blank=True)
    release_at = models.DateTimeField(null=True, blank=True)
    kept_at = models.DateTimeField(null=True, blank=True)
    kept_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    release_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Lease of the release task: a row left in "releasing" longer than the lease (worker died)
    # is enqueued again by the sweep.
    release_claimed_at = models.DateTimeField(null=True, blank=True)
    release_attempts = models.PositiveIntegerField(default=0)
    release_error = models.CharField(max_length=300, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    overdue_alerted_at = models.DateTimeField(null=True, blank=True)

    # The secret path of this number's action URL; rotating it pushes the new URL.
    action_token = models.CharField(max_length=64, unique=True, default=new_action_token)
    action_url_pushed = models.CharField(max_length=500, blank=True)
    # Set by reconciliation when the carrier no longer lists an active number.
    carrier_missing_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Never two live subscriptions of one number, whoever clicks and however often.
            models.UniqueConstraint(
                fields=["din_uid"],
                condition=Q(status__in=LIVE_STATUSES),
                name="subscription_one_live_per_din",
            ),
            # Once the carrier accepted a trial, the sweep must be able to find its deadline.
            models.CheckConstraint(
                condition=Q(is_trial=False)
                | Q(carrier_accepted_at__isnull=True)
                | Q(trial_deadline__isnull=False, release_at__isnull=False),
                name="subscription_trial_has_deadline",
            ),
        ]
        indexes = [
            # The trial sweep's one query: due trials only, however many numbers exist.
            models.Index(
                fields=["release_at"],
                condition=Q(status=Status.ACTIVE, is_trial=True),
                name="subscription_trial_due",
            ),
            # Releases to re-drive after a lease expired.
            models.Index(
                fields=["release_claimed_at"],
                condition=Q(status=Status.RELEASING),
                name="subscription_releasing",
            ),
            models.Index(fields=["tenant", "status"], name="subscription_tenant_status"),
        ]

    def __str__(self):
        return f"+{self.din}" + (f" ({self.label})" if self.label else "")

    @property
    def e164(self) -> str:
        return f"+{self.din}"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


class TrialReminder(TenantOwned):
    """One row per reminder sent: inserting it is the claim that makes each reminder go once."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="+")
    minutes_before = models.PositiveIntegerField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "minutes_before"], name="trial_reminder_once"
            ),
        ]


class CarrierOrphan(models.Model):
    """A number the carrier account holds that no subscription here owns (for operators).

    Not tenant data: nobody here owns it, which is the point. Reconciliation rewrites the list.
    """

    id = models.BigAutoField(primary_key=True)
    din_uid = models.CharField(max_length=64, unique=True)
    din = models.CharField(max_length=20)
    action_url = models.CharField(max_length=500, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["din"]
        verbose_name = _("carrier number owned by nobody")
        verbose_name_plural = _("carrier numbers owned by nobody")

    def __str__(self):
        return f"+{self.din} ({self.din_uid})"
