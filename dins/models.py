"""Numbers the tenants hold: one row per subscription attempt, and its trial bookkeeping."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.models import TenantOwned
from portal.scoping import TenantManager


def new_action_token() -> str:
    # URL-safe ([A-Za-z0-9_-]); names nothing about the tenant or the number.
    return secrets.token_urlsafe(24)


class SubscriptionStatus(models.TextChoices):
    """A subscription's life; every arrow is a compare-and-set in ``dins.subscriptions``.

    pending → subscribing → active → releasing → released; subscribing → failed (number
    taken, credentials). "pending": saved, waiting for its task. "subscribing": a task claimed
    it and the request may have left (``sent_at``); from here it is never sent blindly again:
    the carrier's list of subscribed numbers settles it.
    """

    PENDING = "pending", _("Queued")
    SUBSCRIBING = "subscribing", _("Subscribing")
    ACTIVE = "active", _("Active")
    RELEASING = "releasing", _("Releasing")
    RELEASED = "released", _("Released")
    FAILED = "failed", _("Failed")


LIVE_STATUSES = (
    SubscriptionStatus.PENDING,
    SubscriptionStatus.SUBSCRIBING,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.RELEASING,
)

# A number in these states answers no call through its flow ("not in service" at the carrier,
# or about to be): its flow is kept to read, never edited or switched.
CLOSED_STATUSES = (
    SubscriptionStatus.RELEASING,
    SubscriptionStatus.RELEASED,
    SubscriptionStatus.FAILED,
)


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

    status = models.CharField(
        max_length=12, choices=SubscriptionStatus.choices, default=SubscriptionStatus.PENDING
    )
    is_trial = models.BooleanField(default=False)
    failure_reason = models.CharField(max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    # The subscribe task's ownership: the claim it was enqueued with and when it last ran.
    # A task whose claim no longer matches (reconciliation took over) does nothing.
    claim = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # When the first subscribe request left for the carrier: the earliest moment the carrier
    # can have accepted it, so the anchor of the trial's deadline however late it is settled.
    sent_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)  # the latest request
    # The carrier publishes no acceptance time: the send time above stands for it.
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
                condition=Q(status=SubscriptionStatus.ACTIVE, is_trial=True),
                name="subscription_trial_due",
            ),
            # Releases to re-drive after a lease expired.
            models.Index(
                fields=["release_claimed_at"],
                condition=Q(status=SubscriptionStatus.RELEASING),
                name="subscription_releasing",
            ),
            models.Index(fields=["tenant", "status"], name="subscription_tenant_status"),
            # The numbers page and API, paged newest first (portal.paging).
            models.Index(fields=["tenant", "-created_at"], name="subscription_tenant_recent"),
            # The costs page's numbers, in the order of the number, paged.
            models.Index(fields=["tenant", "din"], name="subscription_tenant_number"),
            # Reconciliation's subscribes whose lease ran out.
            models.Index(
                fields=["claimed_at"],
                condition=Q(
                    status__in=[SubscriptionStatus.PENDING, SubscriptionStatus.SUBSCRIBING]
                ),
                name="subscription_subscribing",
            ),
        ]

    def __str__(self):
        return f"+{self.din}" + (f" ({self.label})" if self.label else "")

    @property
    def e164(self) -> str:
        return f"+{self.din}"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def is_closed(self) -> bool:
        """Released, being released or failed: its flow answers no call and takes no edit."""
        return self.status in CLOSED_STATUSES


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


class MonthCosts(models.Model):
    """A company's month in totals, as ``dins.costs`` sums them, kept for the operators' page.

    Summing every company's numbers and calls grows with them (10,000 numbers and a month's
    calls at a call centre); the operators' page reads these rows instead, one per company,
    written by the worker every ``MONTH_COSTS_INTERVAL_SECONDS`` (``dins.month_costs_refresh``).
    A company without a fresh row is summed on the page itself, so the page is never wrong
    for longer than that, whether the worker runs or not.
    """

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("portal.Tenant", on_delete=models.CASCADE, related_name="+")
    month_start = models.DateField()  # the first day of the month, in the company's zone
    numbers_count = models.PositiveIntegerField(default=0)
    numbers_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    running_trials = models.PositiveIntegerField(default=0)
    trial_rebates = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    released_count = models.PositiveIntegerField(default=0)
    released_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    outbound_count = models.PositiveIntegerField(default=0)
    outbound_seconds = models.PositiveBigIntegerField(default=0)
    outbound_cost = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    outbound_open = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    objects = TenantManager()

    class Meta:
        constraints = [
            # One row per company and month (the refresh's upsert relies on it).
            models.UniqueConstraint(fields=["tenant", "month_start"], name="month_costs_once"),
        ]

    def __str__(self):
        return f"{self.month_start:%Y-%m}: {self.numbers_count} numbers"


class TestCall(TenantOwned):
    """A "Test call" from the flow page: the sandbox carrier rings the number as a caller would.

    Requested by a page, placed by a worker (``dins.test_call``): the page follows it live and
    never holds a server thread for the call's round trip.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("waiting for a worker")
        RUNNING = "running", _("ringing")
        DONE = "done", _("finished")
        FAILED = "failed", _("could not be placed")

    __test__ = False  # not a pytest test class, whatever its name says

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="+")
    caller = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # The sandbox's transcript: {"outcome", "steps", …} and its plain-text rendering.
    transcript = models.JSONField(null=True, blank=True)
    text = models.TextField(blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"test call to {self.subscription}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def outcome(self) -> str:
        return (self.transcript or {}).get("outcome", "")
