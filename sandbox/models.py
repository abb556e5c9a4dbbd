"""The sandbox carrier's own books: accounts, its number inventory, subscriptions, calls.

The sandbox plays another company (Xoxzo), so nothing here points at portal models and none of
it is tenant data: plain managers, no tenant scoping.
"""

import uuid
from typing import TypedDict

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class _Money(TypedDict):
    max_digits: int
    decimal_places: int


# Every amount of money: 14 digits, two decimals (typed, so that ``**MONEY`` is checked).
MONEY: _Money = {"max_digits": 14, "decimal_places": 2}


class SandboxAccount(models.Model):
    """A Xoxzo account, known by its SID. The token is checked against settings, not stored."""

    id = models.BigAutoField(primary_key=True)
    sid = models.CharField(max_length=64, unique=True)
    # Credits (1 credit = 1 JPY), changed only by accounts.balance_change (with a ledger row).
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
        INCOMING_CALL = "incoming_call", _("Incoming call")

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
    incoming_call = models.ForeignKey(
        "SandboxIncomingCall", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
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
            # An incoming call too, however often its charge is attempted.
            models.UniqueConstraint(
                fields=["incoming_call"],
                condition=models.Q(kind="incoming_call"),
                name="sandbox_ledger_one_charge_per_incoming_call",
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


class SandboxIncomingCall(models.Model):
    """A simulated call to one of the sandbox's numbers, as ``sandbox.incoming`` ran it."""

    class Outcome(models.TextChoices):
        COMPLETED = "completed", _("Completed")
        TRANSFERRED = "transferred", _("Transferred")
        VOICEMAIL = "voicemail", _("Voicemail")
        FAILED = "failed", _("Failed")

    id = models.BigAutoField(primary_key=True)
    call_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        SandboxAccount, on_delete=models.PROTECT, related_name="incoming_calls"
    )
    # None when the dialled number is not one of the sandbox's (the call then failed).
    din = models.ForeignKey(
        SandboxDin,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incoming_calls",
    )
    caller = models.CharField(max_length=32, blank=True)  # "" = withheld (anonymous)
    recipient = models.CharField(max_length=32)  # as dialled
    action_url = models.CharField(max_length=2000, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    failure_reason = models.CharField(max_length=500, blank=True)
    transcript = models.JSONField(default=dict)  # incoming.Transcript.as_dict()
    audio_seconds = models.FloatField(default=0)
    billed_seconds = models.PositiveIntegerField(default=0)
    billed_minutes = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(**MONEY, default=0)
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.FloatField(default=0)  # wall time the sandbox spent on the call
    # Set by the one run of sandbox_incoming_call_charge that wrote the ledger row.
    charged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(outcome__in=["completed", "transferred", "voicemail", "failed"]),
                name="sandbox_incoming_call_outcome_valid",
            ),
        ]
        verbose_name = _("sandbox incoming call")
        verbose_name_plural = _("sandbox incoming calls")

    def __str__(self):
        return f"{self.caller or 'anonymous'} → {self.recipient} ({self.outcome})"


class SandboxVoicemail(models.Model):
    """A message the simulated caller left.

    The recording (a ~20 kB 8-bit WAV) lives in the row, not in MEDIA_ROOT: it is written in
    the same transaction as its call, so a rolled-back call leaves no orphan file, and a
    database flush (tests, a fresh sandbox) removes it too. Lists defer the column.
    """

    id = models.BigAutoField(primary_key=True)
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    incoming_call = models.ForeignKey(
        SandboxIncomingCall, on_delete=models.CASCADE, related_name="voicemails"
    )
    caller = models.CharField(max_length=32, blank=True)
    recipient = models.CharField(max_length=32)  # the DIN whose voicemail took the message
    greeting = models.CharField(max_length=16)  # "say", "playback" or "none"
    greeting_summary = models.CharField(max_length=300, blank=True)
    duration_seconds = models.FloatField()
    content_type = models.CharField(max_length=40, default="audio/wav")
    recording = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("sandbox voicemail")
        verbose_name_plural = _("sandbox voicemail")

    def __str__(self):
        return f"{self.caller or 'anonymous'} → {self.recipient}"


class SandboxFault(models.Model):
    """An injected failure of the sandbox REST API (operators, reliability tests).

    Applied by ``sandbox.auth.xoxzo_api`` to authenticated API requests whose method and path
    (relative to /sandbox, e.g. ``/voice/dins/subscriptions/JP…/``) match, ``remaining``
    times; the oldest matching fault wins.
    """

    class When(models.TextChoices):
        # Answer the status without processing the request (the carrier refused or was down).
        BEFORE = "before", _("Before processing")
        # Process the request, then answer the status instead (the answer was lost).
        AFTER = "after", _("After processing")

    id = models.BigAutoField(primary_key=True)
    method = models.CharField(max_length=10, default="*")  # "GET", "POST", "DELETE" or "*"
    path_pattern = models.CharField(max_length=300)  # a regex, re.search()ed
    # None: no status of its own (a pure delay; the real answer follows it).
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    when = models.CharField(max_length=6, choices=When.choices, default=When.BEFORE)
    delay_seconds = models.FloatField(default=0)
    # Decremented with F() by each request it applies to; 0 = used up.
    remaining = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__isnull=True) | models.Q(status__range=(100, 599)),
                name="sandbox_fault_status_http",
            ),
            models.CheckConstraint(
                condition=models.Q(delay_seconds__gte=0, delay_seconds__lte=60),
                name="sandbox_fault_delay_range",
            ),
            models.CheckConstraint(
                condition=models.Q(when__in=["before", "after"]),
                name="sandbox_fault_when_valid",
            ),
        ]
        verbose_name = _("sandbox fault")
        verbose_name_plural = _("sandbox faults")

    def __str__(self):
        answer = f"HTTP {self.status}" if self.status else "real answer"
        delay = f" after {self.delay_seconds:g} s" if self.delay_seconds else ""
        pattern = f"{self.method} {self.path_pattern}"
        return f"{pattern} → {answer}{delay} ({self.when}, {self.remaining} left)"
