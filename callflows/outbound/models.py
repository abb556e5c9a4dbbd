"""Outbound calls: one call placed from a company's number to a recipient (its services,
tasks, pages and callbacks are beside this module in ``callflows/outbound/``).

Registered with the callflows app by ``callflows/models.py``.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.models import TenantOwned


def new_callback_token() -> str:
    # The secret path of one call's status callback (/c/<token>/): single-purpose, names nothing.
    return secrets.token_urlsafe(24)


class OutboundCall(TenantOwned):
    """One call placed from a number to a recipient, playing an MP3 or reading a text.

    Every arrow is a compare-and-set in ``callflows.outbound.services``: queued → placing →
    in_progress → answered / no_answer / failed. placing → unknown when the carrier may have
    placed the call without answering us; the call's callback (which carries its callid) or,
    failing that, a grace period settles it. Never placed twice: nothing moves a row back to
    queued once the request may have left.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        PLACING = "placing", _("Placing")
        UNKNOWN = "unknown", _("Checking with the carrier")
        IN_PROGRESS = "in_progress", _("In progress")
        ANSWERED = "answered", _("Answered")
        NO_ANSWER = "no_answer", _("No answer")
        FAILED = "failed", _("Failed")

    class MessageKind(models.TextChoices):
        AUDIO = "audio", _("MP3 from the library")
        SCRIPT = "script", _("TTS script")
        TEXT = "text", _("Typed text")

    FINAL_STATUSES = (Status.ANSWERED, Status.NO_ANSWER, Status.FAILED)
    OPEN_STATUSES = (Status.QUEUED, Status.PLACING, Status.UNKNOWN, Status.IN_PROGRESS)
    # ``trouble`` starts with who failed: the carrier, or our worker.
    TROUBLE_CARRIER = "carrier: "
    TROUBLE_WORKER = "worker: "

    subscription = models.ForeignKey(
        "dins.Subscription", on_delete=models.CASCADE, related_name="outbound_calls"
    )
    recipient = models.CharField(_("recipient"), max_length=16)  # E.164 with "+"
    # The number shown to the recipient as caller ID ("" when none of ours is shown), and the
    # "caller" actually sent to the carrier (see callflows.outbound.services.caller_for).
    caller_id_used = models.CharField(_("caller ID"), max_length=16, blank=True)
    caller_sent = models.CharField(max_length=16, blank=True)
    local_caller_id = models.BooleanField(_("local caller ID"), default=False)

    message_kind = models.CharField(max_length=8, choices=MessageKind.choices)
    audio = models.ForeignKey(
        "callflows.AudioFile", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    script = models.ForeignKey(
        "callflows.TtsScript", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Snapshots taken when the call was requested: what the carrier is told, whatever happens
    # to the library afterwards.
    message_label = models.CharField(max_length=100, blank=True)
    recording_url = models.CharField(max_length=500, blank=True)
    tts_text = models.TextField(max_length=500, blank=True)
    tts_lang = models.CharField(max_length=2, blank=True)

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    callid = models.CharField(max_length=64, unique=True, null=True, blank=True)
    callback_token = models.CharField(max_length=64, unique=True, default=new_callback_token)
    estimated_minute_cost = models.DecimalField(max_digits=8, decimal_places=2)
    duration = models.PositiveIntegerField(null=True, blank=True)  # seconds
    cost = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    # Why the call is in "unknown" or was put back in "queued": who failed, our worker or the
    # carrier (``callflows.outbound.services``), so a final failure names the right one.
    trouble = models.CharField(max_length=300, blank=True)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    placing_at = models.DateTimeField(null=True, blank=True)  # the request to the carrier began
    placed_at = models.DateTimeField(null=True, blank=True)  # the carrier gave a callid
    ended_at = models.DateTimeField(null=True, blank=True)
    callback_received_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table keeps the name it had when the model lived in dins: the migrations
        # dins/migrations/0009_outbound_call_to_callflows.py and
        # callflows/migrations/0010_outbound_call_from_dins.py moved it without touching it.
        db_table = "dins_outboundcall"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(message_kind="audio") & ~Q(recording_url=""))
                | (Q(message_kind__in=["script", "text"]) & ~Q(tts_text="") & ~Q(tts_lang="")),
                name="outbound_call_has_message",
            ),
            # A call the carrier took has its callid, so polling can always settle it.
            models.CheckConstraint(
                condition=~Q(status="in_progress") | Q(callid__isnull=False),
                name="outbound_call_in_progress_has_callid",
            ),
        ]
        indexes = [
            # The rate limit and the daily cap count a tenant's recent calls.
            models.Index(fields=["tenant", "created_at"], name="outbound_call_tenant_recent"),
            # A number's call history.
            models.Index(fields=["subscription", "-created_at"], name="outbound_call_number"),
            # The poll sweep looks at unfinished calls only, however many calls exist.
            models.Index(
                fields=["status", "last_polled_at"],
                condition=Q(status__in=["queued", "placing", "unknown", "in_progress"]),
                name="outbound_call_open",
            ),
        ]

    def __str__(self):
        return f"{self.subscription} → {self.recipient}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES

    @property
    def outbox_subject(self) -> str:
        """How the outbox names the placing of this call (``portal.outbox.outbox_waiting``);
        the name it had in dins, as outbox rows already saved carry it."""
        return f"dins.outbound_call:{self.pk}"
