"""The sandbox carrier's own books: accounts, its number inventory, subscriptions, calls.

The sandbox plays another company (Xoxzo), so nothing here points at portal models and none of
it is tenant data: plain managers, no tenant scoping.
"""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 14, "decimal_places": 2}


class SandboxAccount(models.Model):
    """A Xoxzo account, known by its SID. The token is checked against settings, not stored."""

    id = models.BigAutoField(primary_key=True)
    sid = models.CharField(max_length=64, unique=True)
    # Credits (1 credit = 1 JPY). Only changed by sandbox.services, always with a ledger row.
    balance = models.DecimalField(**MONEY, default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sandbox account")
        verbose_name_plural = _("sandbox accounts")

    def __str__(self):
        return self.sid


class SandboxDin(models.Model):
    """A number in the carrier's inventory, free or subscribed."""

    id = models.BigAutoField(primary_key=True)
    din_uid = models.CharField(max_length=32, unique=True)
    din = models.CharField(max_length=16, unique=True)  # E.164 digits, no "+"
    country = models.CharField(max_length=2)  # ISO 3166 alpha-2, what ?country= matches
    country_code = models.CharField(max_length=4)
    prefix = models.CharField(max_length=8)  # without trunk 0 and country code
    monthly_cost = models.DecimalField(**MONEY)
    minute_cost = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["din"]
        verbose_name = _("sandbox number")
        verbose_name_plural = _("sandbox numbers")

    def __str__(self):
        return f"+{self.din}"


class SandboxSubscription(models.Model):
    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(
        SandboxAccount, on_delete=models.PROTECT, related_name="subscriptions"
    )
    din = models.ForeignKey(SandboxDin, on_delete=models.PROTECT, related_name="subscriptions")
    action_url = models.URLField(max_length=2000, blank=True)
    subscribed_at = models.DateTimeField(default=timezone.now)
    released_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["subscribed_at", "id"]
        constraints = [
            # A number has at most one holder at a time; concurrent subscribes race on this.
            models.UniqueConstraint(
                fields=["din"],
                condition=models.Q(released_at__isnull=True),
                name="sandbox_subscription_one_holder",
            ),
        ]
        verbose_name = _("sandbox subscription")
        verbose_name_plural = _("sandbox subscriptions")

    def __str__(self):
        return f"{self.din} ({self.account})"

    @property
    def is_active(self) -> bool:
        return self.released_at is None


class SandboxCall(models.Model):
    """An outbound call placed through the simple playback API."""

    class Status(models.TextChoices):
        IN_PROGRESS = "IN PROGRESS", _("In progress")
        ANSWERED = "ANSWERED", _("Answered")
        NO_ANSWER = "NO ANSWER", _("No answer")
        FAILED = "FAILED", _("Failed")

    id = models.BigAutoField(primary_key=True)
    callid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(SandboxAccount, on_delete=models.PROTECT, related_name="calls")
    caller = models.CharField(max_length=32)
    recipient = models.CharField(max_length=32)
    recording_url = models.URLField(max_length=2000, blank=True)
    tts_message = models.TextField(blank=True)
    tts_lang = models.CharField(max_length=2, blank=True)
    callbackurl = models.URLField(max_length=2000, blank=True)
    tags = models.CharField(max_length=200, blank=True)
    is_local_caller_id = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    start_time = models.DateTimeField(default=timezone.now)
    end_time = models.DateTimeField(null=True, blank=True)
    duration = models.PositiveIntegerField(default=0)  # seconds
    cost = models.DecimalField(**MONEY, default=0)
    # What the callback URL answered (status code) or why it could not be reached.
    callback_sent_at = models.DateTimeField(null=True, blank=True)
    callback_result = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start_time", "-id"]
        verbose_name = _("sandbox call")
        verbose_name_plural = _("sandbox calls")

    def __str__(self):
        return f"{self.caller} → {self.recipient} ({self.status})"


class SandboxLedgerEntry(models.Model):
    """One change of an account's balance; the balance is the sum of its entries."""

    class Kind(models.TextChoices):
        INITIAL_CREDIT = "initial_credit", _("Initial credit")
        TOP_UP = "top_up", _("Top-up")
        SUBSCRIPTION = "subscription", _("Number subscription")
        TRIAL_REFUND = "trial_refund", _("24-hour release rebate")
        CALL = "call", _("Outbound call")

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(SandboxAccount, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount = models.DecimalField(**MONEY)  # credits; negative for charges
    balance_after = models.DecimalField(**MONEY)
    description = models.CharField(max_length=200, blank=True)
    subscription = models.ForeignKey(
        SandboxSubscription, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    call = models.ForeignKey(
        SandboxCall, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A call is charged once, however often its completion task runs.
            models.UniqueConstraint(
                fields=["call"],
                condition=models.Q(kind="call"),
                name="sandbox_ledger_one_charge_per_call",
            ),
            models.UniqueConstraint(
                fields=["subscription", "kind"],
                condition=models.Q(subscription__isnull=False),
                name="sandbox_ledger_one_entry_per_subscription_kind",
            ),
        ]
        verbose_name = _("sandbox ledger entry")
        verbose_name_plural = _("sandbox ledger entries")

    def __str__(self):
        return f"{self.account} {self.kind} {self.amount}"
