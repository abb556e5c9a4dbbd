"""The installation's own health, for its operators: alerts, heartbeats and checks.

Some trouble belongs to the platform, not to whichever company happened to be near it: the
carrier refusing the portal's credentials, scheduled work that stopped running, tasks piling
up, call-log rows an edge process had to drop, calls answered while nothing was known about
their number. ``platform_alert_raise`` records them (one ``PlatformAlert`` per kind and hour,
counting repeats) and e-mails ``OPERATOR_ALERT_EMAILS`` once per row; the operators' page and
Django admin list them. ``platform_checks`` is what a load balancer or a monitoring system reads
(``/healthz/platform`` as JSON, ``/metrics`` for Prometheus): it needs nothing scheduled to
run, so it also tells when the scheduler itself has stopped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import ChannelError

from portal.celery import app
from portal.models import Heartbeat, PlatformAlert, PlatformAlertKind
from portal.outbox import outbox_enqueue

logger = logging.getLogger(__name__)

DEDUP_WINDOW = timedelta(hours=1)


def _heartbeat_limits() -> dict[str, timedelta]:
    """Scheduled work and how late it may be before operators are told (missed runs)."""
    return {
        "trial_sweep": timedelta(minutes=5),  # runs every minute
        "reconcile": timedelta(minutes=3 * settings.RECONCILE_INTERVAL_MINUTES),
    }


def heartbeat(name: str, *, at: datetime | None = None) -> None:
    """Scheduled work ``name`` just finished (the trial sweep, reconciliation)."""
    Heartbeat.objects.update_or_create(name=name, defaults={"at": at or timezone.now()})


# --- Alerts -----------------------------------------------------------------------------------


def platform_alert_raise(*, kind: str, message: str, count: int = 1) -> PlatformAlert:
    """Record trouble of the installation; the first time in an hour also e-mails operators."""
    now = timezone.now()
    key = f"{kind}:{int(now.timestamp()) // int(DEDUP_WINDOW.total_seconds())}"
    with transaction.atomic():
        try:
            with transaction.atomic():
                alert = PlatformAlert.objects.create(
                    kind=kind, dedup_key=key, message=message[:2000], count=count
                )
        except IntegrityError:  # the same kind this hour: count it, keep the latest words
            PlatformAlert.objects.filter(dedup_key=key).update(
                count=F("count") + count, message=message[:2000], last_at=now
            )
            return PlatformAlert.objects.get(dedup_key=key)
        logger.error("operators' alert: %s: %s", kind, message)
        outbox_enqueue("portal.send_platform_alert", kwargs={"alert_id": alert.pk})
    return alert


def platform_alert_email_send(*, alert_id: int) -> int:
    """E-mail operators about one alert (the ``portal.send_platform_alert`` task body)."""
    alert = PlatformAlert.objects.filter(pk=alert_id, emailed_at__isnull=True).first()
    recipients = settings.OPERATOR_ALERT_EMAILS
    if alert is None or not recipients:
        return 0
    subject = f"[DIN Portal] {alert.get_kind_display()}"
    body = (
        f"{alert.message}\n\nFirst seen {alert.first_at:%Y-%m-%d %H:%M:%S %Z}; "
        f"{alert.count} time(s) this hour.\nOperators' page: /operator/\n"
    )
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    PlatformAlert.objects.filter(pk=alert.pk).update(emailed_at=timezone.now())
    return len(recipients)


def platform_alert_open_list():
    return PlatformAlert.objects.filter(acknowledged_at__isnull=True)


# --- Checks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    value: float | None  # seconds, a count: what a metric shows
    detail: str


def _queue_length() -> int:
    """Tasks waiting in the broker's default queue (Redis or the embedded file broker)."""
    with app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)
        channel = connection.default_channel
        try:
            declared = channel.queue_declare(queue=app.conf.task_default_queue, passive=True)
        except ChannelError as error:
            # Redis drops an empty list: a queue no one has declared yet holds nothing.
            if "NOT_FOUND" in str(error):
                return 0
            raise
        return declared.message_count


def platform_checks(*, now: datetime | None = None) -> list[Check]:
    """The installation's health, from what is stored (no scheduled work needed to run it)."""
    now = now or timezone.now()
    checks = []
    beats = dict(Heartbeat.objects.values_list("name", "at"))
    for name, limit in _heartbeat_limits().items():
        at = beats.get(name)
        age = (now - at).total_seconds() if at else None
        ok = age is not None and age <= limit.total_seconds()
        detail = (
            f"last run {age:.0f} s ago (limit {limit.total_seconds():.0f} s)"
            if age is not None
            else "never ran"
        )
        checks.append(Check(f"{name}_age_seconds", ok, age, detail))
    try:
        waiting = _queue_length()
    except Exception as error:  # the broker is away: that is the finding
        checks.append(Check("task_queue_length", False, None, f"broker unreachable: {error}"))
    else:
        limit = settings.OPERATOR_QUEUE_BACKLOG
        checks.append(
            Check(
                "task_queue_length", waiting <= limit, waiting, f"{waiting} waiting (limit {limit})"
            )
        )
    open_alerts = platform_alert_open_list().filter(last_at__gte=now - DEDUP_WINDOW).count()
    checks.append(
        Check("operator_alerts_last_hour", open_alerts == 0, open_alerts, f"{open_alerts} open")
    )
    return checks


def platform_check_run() -> list[Check]:
    """Raise operators' alerts for what the checks find (beat runs it every minute)."""
    checks = platform_checks()
    for check in checks:
        if check.ok:
            continue
        if check.name.endswith("_age_seconds"):
            platform_alert_raise(
                kind=PlatformAlertKind.SCHEDULER_LATE,
                message=f"{check.name.removesuffix('_age_seconds')}: {check.detail}.",
            )
        elif check.name == "task_queue_length":
            platform_alert_raise(
                kind=PlatformAlertKind.QUEUE_BACKLOG, message=f"Celery queue: {check.detail}."
            )
    return checks
