"""The installation's own health, for its operators: alerts, heartbeats and checks.

Some trouble belongs to the platform, not to whichever company happened to be near it: the
carrier refusing the portal's credentials, scheduled work that stopped running, tasks piling
up, call-log rows an edge process had to drop, calls answered while nothing was known about
their number. ``platform_alert_raise`` records them (one ``PlatformAlert`` per kind, subject
and hour, counting repeats) and e-mails ``OPERATOR_ALERT_EMAILS`` once per row; the operators'
page and Django admin list them. An alert whose cause goes away closes itself
(``platform_alert_resolve``: the late work ran, the queue drained); operators may also
acknowledge one. ``platform_checks`` is what a load balancer or a monitoring system reads
(``/healthz/platform`` as JSON, ``/metrics`` for Prometheus): it needs nothing scheduled to
run, so it also tells when the scheduler itself has stopped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app as app  # the project's app (config/celery.py)
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import ChannelError

from portal.addresses import people_path, people_url
from portal.models import Heartbeat, PlatformAlert, PlatformAlertKind
from portal.outbox import outbox_enqueue

logger = logging.getLogger(__name__)

DEDUP_WINDOW = timedelta(hours=1)


# The scheduler (Celery beat) records when it started: scheduled work is not late until its
# limit has passed since then, however long the installation was stopped before.
SCHEDULER_STARTED = "scheduler_started"


def _heartbeat_limits() -> dict[str, timedelta]:
    """Scheduled work and how late it may be before operators are told (missed runs)."""
    return {
        "trial_sweep": timedelta(minutes=5),  # runs every minute
        "reconcile": timedelta(minutes=3 * settings.RECONCILE_INTERVAL_MINUTES),
    }


def heartbeat(name: str, *, at: datetime | None = None) -> None:
    """Scheduled work ``name`` just finished (the trial sweep, reconciliation).

    An operators' alert saying it was late closes here: the cause is gone.
    """
    at = at or timezone.now()
    Heartbeat.objects.update_or_create(name=name, defaults={"at": at})
    if name in _heartbeat_limits():
        platform_alert_resolve(
            kind=PlatformAlertKind.SCHEDULER_LATE,
            subject=name,
            resolution=f"{name} ran at {at:%Y-%m-%d %H:%M:%S %Z}.",
        )


# --- Alerts -----------------------------------------------------------------------------------


def platform_alert_raise(
    *, kind: str, message: str, count: int = 1, subject: str = "", link: str = ""
) -> PlatformAlert:
    """Record trouble of the installation; the first time in an hour also e-mails operators.

    ``subject`` says what it is about (a scheduled job, a call): one row per kind, subject and
    hour, closed by ``platform_alert_resolve`` when that cause goes away. ``link`` is the path
    of the page where an operator looks into it (on the people's address).
    """
    now = timezone.now()
    hour = int(now.timestamp()) // int(DEDUP_WINDOW.total_seconds())
    key = f"{kind}:{subject[:80]}:{hour}"
    with transaction.atomic():
        try:
            with transaction.atomic():
                alert = PlatformAlert.objects.create(
                    kind=kind,
                    subject=subject[:80],
                    dedup_key=key,
                    message=message[:2000],
                    link=link[:200],
                    count=count,
                )
        except IntegrityError:  # the same trouble this hour: count it, keep the latest words
            PlatformAlert.objects.filter(dedup_key=key).update(
                count=F("count") + count,
                message=message[:2000],
                last_at=now,
                # Back again after it had closed itself: open once more.
                acknowledged_at=None,
                resolution="",
            )
            return PlatformAlert.objects.get(dedup_key=key)
        logger.error("operators' alert: %s: %s", kind, message)
        outbox_enqueue("portal.send_platform_alert", kwargs={"alert_id": alert.pk})
    return alert


def platform_alert_resolve(*, kind: str, subject: str = "", resolution: str) -> int:
    """Close the open alerts of ``kind`` about ``subject``: their cause is gone. How many."""
    now = timezone.now()
    return PlatformAlert.objects.filter(
        kind=kind, subject=subject[:80], acknowledged_at__isnull=True
    ).update(acknowledged_at=now, resolution=resolution[:300])


def platform_alert_acknowledge(*, alert_id: int) -> bool:
    """An operator has seen to it: off the open list. False when it was closed already."""
    return bool(
        PlatformAlert.objects.filter(pk=alert_id, acknowledged_at__isnull=True).update(
            acknowledged_at=timezone.now()
        )
    )


def platform_alert_email_send(*, alert_id: int) -> int:
    """E-mail operators about one alert (the ``portal.send_platform_alert`` task body)."""
    alert = PlatformAlert.objects.filter(pk=alert_id, emailed_at__isnull=True).first()
    recipients = settings.OPERATOR_ALERT_EMAILS
    if alert is None or not recipients:
        return 0
    subject = f"[DIN Portal] {alert.get_kind_display()}"
    where = (settings.PORTAL_BASE_URL + alert.link) if alert.link else ""
    body = (
        f"{alert.message}\n\nFirst seen {alert.first_at:%Y-%m-%d %H:%M:%S %Z}; "
        f"{alert.count} time(s) this hour.\n"
        + (f"Look into it: {where}\n" if where else "")
        + f"Operators' page: {people_url('operator_home')}\n"
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


def _heartbeat_check(name: str, limit: timedelta, beats: dict, now: datetime) -> Check:
    """Is ``name`` late? Counted from its last run, or from the scheduler's start if later."""
    at, started = beats.get(name), beats.get(SCHEDULER_STARTED)
    age = (now - at).total_seconds() if at else None
    since = max(filter(None, (at, started)), default=None)
    waited = (now - since).total_seconds() if since else None
    ok = waited is not None and waited <= limit.total_seconds()
    seconds = f"(limit {limit.total_seconds():.0f} s)"
    if at is None and started is None:
        detail = "never ran, and the scheduler has not started"
    elif at is None:
        detail = f"not run yet; the scheduler started {waited:.0f} s ago {seconds}"
    elif started and started > at:
        detail = f"last run {age:.0f} s ago; the scheduler started {waited:.0f} s ago {seconds}"
    else:
        detail = f"last run {age:.0f} s ago {seconds}"
    return Check(f"{name}_age_seconds", ok, age, detail)


def platform_checks(*, now: datetime | None = None) -> list[Check]:
    """The installation's health, from what is stored (no scheduled work needed to run it)."""
    now = now or timezone.now()
    checks = []
    beats = dict(Heartbeat.objects.values_list("name", "at"))
    for name, limit in _heartbeat_limits().items():
        checks.append(_heartbeat_check(name, limit, beats, now))
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
    """Raise operators' alerts for what the checks find, and close those whose cause is gone
    (beat runs it every minute)."""
    checks = platform_checks()
    for check in checks:
        if check.name.endswith("_age_seconds"):
            kind, subject = (
                PlatformAlertKind.SCHEDULER_LATE,
                check.name.removesuffix("_age_seconds"),
            )
            message = f"{subject}: {check.detail}."
        elif check.name == "task_queue_length":
            kind, subject = PlatformAlertKind.QUEUE_BACKLOG, ""
            message = f"Celery queue: {check.detail}."
        else:
            continue
        if check.ok:
            platform_alert_resolve(kind=kind, subject=subject, resolution=f"{message[:-1]}: ok.")
        else:
            platform_alert_raise(
                kind=kind, subject=subject, message=message, link=people_path("operator_home")
            )
    return checks


def scheduler_started() -> None:
    """Celery beat has just started (``config.celery``): lateness is counted from now on."""
    Heartbeat.objects.update_or_create(name=SCHEDULER_STARTED, defaults={"at": timezone.now()})
