"""What callers hear: audio files, TTS scripts, caller lists, call flows and the call log."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.models import Language, TenantOwned
from portal.names import NAME_KEY_MAX_LENGTH
from portal.scoping import TenantManager


def new_public_id() -> str:
    # Xoxzo accepts MP3 paths of [A-Za-z0-9_/-] only; token_urlsafe stays inside that set.
    return secrets.token_urlsafe(24)


def audio_upload_path(instance, filename: str) -> str:
    return f"audio/{instance.public_id}.mp3"


class AudioFile(TenantOwned):
    """An uploaded MP3, served to the carrier at an unguessable public URL."""

    label = models.CharField(_("label"), max_length=100)
    # portal.names.name_key(label), set by the services: one "VIP" per company, whatever its
    # width or case. Empty for rows made otherwise (tests), which the constraint leaves out.
    name_key = models.CharField(max_length=NAME_KEY_MAX_LENGTH, blank=True, default="")
    file = models.FileField(upload_to=audio_upload_path)
    public_id = models.CharField(max_length=64, unique=True, default=new_public_id)
    original_name = models.CharField(max_length=200, blank=True)
    size_bytes = models.PositiveIntegerField()
    duration_seconds = models.FloatField()
    bitrate = models.PositiveIntegerField(null=True, blank=True)
    sample_rate = models.PositiveIntegerField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name_key"],
                condition=~models.Q(name_key=""),
                name="audio_name_once",
            ),
        ]

    def __str__(self):
        return self.label


def upload_source_path(instance, filename: str) -> str:
    return f"audio/uploads/{instance.code}.source"


def upload_result_path(instance, filename: str) -> str:
    return f"audio/uploads/{instance.code}.mp3"


class AudioUpload(TenantOwned):
    """A recording on its way to the library: converted by a worker, heard, then saved.

    The owner uploads or records any audio (``callflows.assets.uploads``); the
    ``callflows.audio_convert`` task makes the MP3 (``callflows.assets.convert``), the page
    follows it live and plays it; "Save" turns it into an ``AudioFile``. Neither file is ever
    served to the carrier. Unsaved uploads are deleted after ``AUDIO_UPLOAD_KEEP_HOURS``.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("waiting for a worker")
        CONVERTING = "converting", _("converting")
        READY = "ready", _("ready to listen to")
        FAILED = "failed", _("could not be converted")

    label = models.CharField(_("label"), max_length=100)
    original_name = models.CharField(max_length=200, blank=True)
    source = models.FileField(upload_to=upload_source_path)
    source_bytes = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Why it failed, as a code and its details: the page says it in the reader's language.
    failure_code = models.CharField(max_length=32, blank=True)
    failure_params = models.JSONField(default=dict, blank=True)
    source_format = models.CharField(max_length=20, blank=True)  # "M4A/MP4", "WebM", …
    source_codec = models.CharField(max_length=20, blank=True)
    source_seconds = models.FloatField(null=True, blank=True)
    result = models.FileField(upload_to=upload_result_path, blank=True)
    size_bytes = models.PositiveIntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    trimmed_start_seconds = models.FloatField(null=True, blank=True)
    trimmed_end_seconds = models.FloatField(null=True, blank=True)
    gain_db = models.FloatField(null=True, blank=True)
    bitrate = models.PositiveIntegerField(null=True, blank=True)
    sample_rate = models.PositiveIntegerField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The hourly prune: uploads nobody saved, oldest first.
            models.Index(fields=["created_at"], name="audio_upload_created"),
        ]

    def __str__(self):
        return self.label

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.READY, self.Status.FAILED)


class TtsScript(TenantOwned):
    """A text the carrier reads aloud (Xoxzo's TTS speaks Japanese and English)."""

    name = models.CharField(_("name"), max_length=100)
    name_key = models.CharField(max_length=NAME_KEY_MAX_LENGTH, blank=True, default="")
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    text = models.TextField(_("text"), max_length=500)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name_key"],
                condition=~models.Q(name_key=""),
                name="script_name_once",
            ),
        ]

    def __str__(self):
        return self.name


class CallerList(TenantOwned):
    """A named list of caller numbers (E.164), e.g. VIP or blocked."""

    name = models.CharField(_("name"), max_length=100)
    name_key = models.CharField(max_length=NAME_KEY_MAX_LENGTH, blank=True, default="")
    numbers = models.JSONField(default=list)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name_key"],
                condition=~models.Q(name_key=""),
                name="caller_list_name_once",
            ),
        ]

    def __str__(self):
        return self.name


class ClosedDate(TenantOwned):
    """Days the company is closed besides Japanese public holidays: one day or a range
    (年末年始 12/29 to 1/3). ``end_date`` is the last day, or None for a single day."""

    date = models.DateField(_("first day"))
    end_date = models.DateField(_("last day"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "date"], name="closed_date_once"),
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True)
                | models.Q(end_date__gte=models.F("date")),
                name="closed_date_range_in_order",
            ),
        ]

    def __str__(self):
        days = f"{self.date}–{self.end_date}" if self.end_date else f"{self.date}"  # noqa: RUF001
        return f"{days} {self.note}".strip()

    @property
    def last_day(self):
        return self.end_date or self.date

    @property
    def days(self) -> int:
        return (self.last_day - self.date).days + 1


class CallFlow(TenantOwned):
    """The call flow of one number: its current document and a day/night override.

    The document (rules in order, a default action, see ``callflows.flows.rules``) is versioned in
    ``FlowVersion``; ``version`` bumps on every change. What callers hear is what was last
    published from it (``PublishedFlow``).
    """

    subscription = models.OneToOneField(
        "dins.Subscription", on_delete=models.CASCADE, related_name="call_flow"
    )
    document = models.JSONField()
    version = models.PositiveIntegerField(default=1)
    override_document = models.JSONField(null=True, blank=True)
    override_until = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"flow of {self.subscription}"


class FlowVersion(TenantOwned):
    """Every saved state of a flow, with who saved it and when; restorable."""

    flow = models.ForeignKey(CallFlow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    document = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "number"], name="flow_version_unique")
        ]


class PublishedFlow(TenantOwned):
    """What one action token answers, compiled: the only thing the edge reads.

    Written only by ``callflows.flows.publishing`` (the one owner of compiled flows), in the same
    transaction as the change that alters an answer: a flow or override saved, an asset edited,
    the company's time zone or transfer policy changed, a number activated, released or its
    token rotated. ``compiled`` is None for a token that answers nothing any more (a tombstone,
    so every edge process learns that too). ``updated_at`` is set by the database's clock: the
    edge's watcher asks for rows changed lately by that clock (``callflows.edge.runtime``).
    """

    subscription = models.ForeignKey(
        "dins.Subscription", on_delete=models.CASCADE, related_name="published_flows"
    )
    token = models.CharField(max_length=64, unique=True)
    compiled = models.JSONField(null=True)
    stamp = models.CharField(max_length=32)
    flow_version = models.PositiveIntegerField(default=0)
    compiler_version = models.PositiveIntegerField(default=0)
    # What could not be answered as written (e.g. a transfer abroad after they were turned off),
    # each {"where": …, "why": …}: the flow page shows them; callers get the fallback there.
    problems = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            # The edge's watcher: rows changed in the last seconds.
            models.Index(fields=["updated_at"], name="published_flow_changed"),
            # The republish sweep: live rows that run out soon.
            models.Index(
                fields=["expires_at"],
                name="published_flow_expiring",
                condition=models.Q(compiled__isnull=False),
            ),
        ]

    def __str__(self):
        return f"published flow of {self.subscription_id}"


class CallLog(TenantOwned):
    """One answered action-URL request (written in batches, off the request path)."""

    subscription = models.ForeignKey(
        "dins.Subscription", on_delete=models.CASCADE, related_name="+"
    )
    at = models.DateTimeField()
    caller = models.CharField(max_length=32, blank=True)  # "" = anonymous
    recipient = models.CharField(max_length=32, blank=True)
    rule = models.CharField(max_length=100, blank=True)
    command = models.CharField(max_length=1100)
    source = models.CharField(max_length=16)  # "flow", "override", "stale", "fallback"
    latency_us = models.PositiveIntegerField()
    flow_version = models.PositiveIntegerField(null=True)
    # A "Test call" from the flow page (the sandbox vouched for it with the portal's
    # signature): shown and filterable, left out of figures; webhooks say ``"test": true``.
    is_test = models.BooleanField(default=False)
    # The carrier's request (the proxy's X-Request-Id, the same on its retries; else the
    # edge's own): one row per request, however often it was answered or written.
    request_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 (older rows have none)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            # A request the proxy retried on another edge instance, or a journal file written
            # twice, is one call (callflows.edge.call_log inserts ON CONFLICT DO NOTHING).
            models.UniqueConstraint(
                fields=["request_id"],
                condition=models.Q(request_id__isnull=False),
                name="calllog_one_row_per_request",
            ),
        ]
        indexes = [
            # Call log pages and the dashboard: a tenant's, or a number's, recent calls.
            models.Index(fields=["tenant", "-at"], name="calllog_tenant_recent"),
            models.Index(fields=["subscription", "-at"], name="calllog_number_recent"),
            # The call log's caller search written from the number's start (090-1234…, +81…)
            # and its "anonymous only": LIKE 'digits%' or = '' in a tenant's calls (the
            # opclass lets PostgreSQL use LIKE on this index; SQLite ignores it). Searches by
            # the last digits use calllog_tenant_caller_end, migration 0005 (PostgreSQL).
            models.Index(
                fields=["tenant", "caller", "-at"],
                name="calllog_tenant_caller",
                opclasses=["", "varchar_pattern_ops", ""],
            ),
            # The call log's rule and "answered by" filters: a rule that answered a few calls
            # months ago is found without reading every newer call.
            models.Index(fields=["tenant", "rule", "-at"], name="calllog_tenant_rule"),
            # "Answered by" other than the flow (override, cached copy, fallback) is rare: only
            # those calls are indexed (the flow's own: the tenant's newest calls, filtered).
            models.Index(
                fields=["tenant", "source", "-at"],
                name="calllog_tenant_source",
                condition=~Q(source="flow"),
            ),
            # The call log's "test calls" filter: test calls are few.
            models.Index(
                fields=["tenant", "-at"], name="calllog_tenant_tests", condition=Q(is_test=True)
            ),
        ]


class CallDay(models.Model):
    """A company's callers' calls per day (the company's day), rule, answer source and
    whether the caller withheld the number.

    What the call log's chart and rule menu and the dashboard's "calls today" read instead of
    the raw log, so that they cost the same at a million calls as at a hundred. Kept by
    ``callflows.calllog.rollup``: a periodic task adds the calls logged since it last ran
    (``CallDayProgress``) and counts the last days again from the log. Test calls are not
    counted.
    """

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("portal.Tenant", on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    rule = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=16)
    anonymous = models.BooleanField(default=False)
    calls = models.PositiveIntegerField(default=0)

    objects = TenantManager()

    class Meta:
        constraints = [
            # One row per key (the rollup's upsert relies on it); its index serves the chart
            # and the rule menu: a tenant's days in a range.
            models.UniqueConstraint(
                fields=["tenant", "day", "rule", "source", "anonymous"], name="call_day_once"
            ),
        ]

    def __str__(self):
        return f"{self.day} {self.rule or '-'} {self.source}: {self.calls}"


class CallDayProgress(models.Model):
    """How far the daily counts have counted the call log: every call up to ``counted_to``
    (its primary key). One row; its lock orders the tasks that write the counts."""

    id = models.BigAutoField(primary_key=True)
    counted_to = models.BigIntegerField(default=0)
    counted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"call log counted to {self.counted_to}"


class NumberCallDay(models.Model):
    """The same counts as ``CallDay`` for one number: a number's call page and release page."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("portal.Tenant", on_delete=models.PROTECT, related_name="+")
    subscription = models.ForeignKey(
        "dins.Subscription", on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField()
    rule = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=16)
    anonymous = models.BooleanField(default=False)
    calls = models.PositiveIntegerField(default=0)

    objects = TenantManager()

    class Meta:
        constraints = [
            # One row per key; its index serves a number's chart and rule menu.
            models.UniqueConstraint(
                fields=["subscription", "day", "rule", "source", "anonymous"],
                name="number_call_day_once",
            ),
        ]

    def __str__(self):
        return f"{self.day} {self.rule or '-'} {self.source}: {self.calls}"


# Outbound calls live in their own package; importing the model here registers it with the app.
from callflows.outbound.models import OutboundCall  # noqa: E402, F401
