"""Celery tasks of the portal app: thin wrappers around services."""

import logging

from celery import shared_task
from celery.signals import worker_ready

from portal import alerts, emails, outbox, platform, services
from portal.emails import TRANSIENT_MAIL_ERRORS
from portal.tasks_base import TenantTask

logger = logging.getLogger(__name__)


@shared_task(
    name="portal.send_invitation_email",
    base=TenantTask,
    autoretry_for=TRANSIENT_MAIL_ERRORS,
    retry_backoff=30,
    retry_backoff_max=30 * 60,
    max_retries=8,
)
def send_invitation_email(*, tenant_id: int, invitation_id: int, accept_url: str) -> None:
    emails.invitation_send(invitation_id=invitation_id, accept_url=accept_url)


@shared_task(
    name="portal.send_password_reset",
    autoretry_for=TRANSIENT_MAIL_ERRORS,
    retry_backoff=30,
    retry_backoff_max=30 * 60,
    max_retries=8,
)
def send_password_reset(*, email: str, **_queued_before_upgrade) -> int:
    # Messages queued by an older release also carry the request's host: no longer used.
    return emails.password_reset_send(email=email)


@shared_task(name="portal.prune_invitations")
def prune_invitations() -> int:
    return services.invitation_prune()


@shared_task(
    name="portal.send_alert_email",
    base=TenantTask,
    bind=True,
    autoretry_for=TRANSIENT_MAIL_ERRORS,
    retry_backoff=30,
    retry_backoff_max=30 * 60,
    max_retries=8,
)
def send_alert_email(self, *, tenant_id: int, alert_id: int) -> int:
    # The service records each attempt; it marks the alert "failed" on the last one.
    return alerts.alert_email_send(
        alert_id=alert_id, final_attempt=self.request.retries >= self.max_retries
    )


@shared_task(
    name="portal.send_platform_alert",
    autoretry_for=TRANSIENT_MAIL_ERRORS,
    retry_backoff=30,
    retry_backoff_max=30 * 60,
    max_retries=8,
)
def send_platform_alert_email(*, alert_id: int) -> int:
    return platform.platform_alert_email_send(alert_id=alert_id)


@shared_task(name="portal.platform_check")
def platform_check() -> dict:
    return {check.name: check.ok for check in platform.platform_check_run()}


@shared_task(name="portal.outbox_sweep")
def outbox_sweep() -> dict:
    result = outbox.outbox_sweep()
    return {
        "sent": len(result.sent),
        "failed": len(result.failed),
        "given_up": len(result.given_up),
        "pruned": outbox.outbox_prune(),
    }


@worker_ready.connect
def outbox_sweep_on_worker_start(sender=None, **kwargs) -> None:
    """A worker that starts (often: after the broker came back) sweeps the outbox at once."""
    try:
        sender.app.send_task("portal.outbox_sweep")
    except Exception as error:  # the beat schedule sweeps within a minute anyway
        logger.warning("outbox sweep not started with the worker: %s", error)
