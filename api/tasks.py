"""Celery tasks of the API: thin wrappers around ``api.webhooks``."""

from celery import shared_task
from django.conf import settings

from api import webhooks
from portal.tasks_base import TenantTask


@shared_task(
    name="api.deliver_webhook",
    base=TenantTask,
    bind=True,
    max_retries=None,  # bounded by WEBHOOK_MAX_ATTEMPTS below, a setting
)
def deliver_webhook(self, *, tenant_id: int, delivery_id: int) -> str:
    """POST one webhook delivery; a failure is retried with backoff until the last attempt."""
    final = self.request.retries + 1 >= settings.WEBHOOK_MAX_ATTEMPTS
    outcome = webhooks.webhook_deliver(delivery_id=delivery_id, final_attempt=final)
    if outcome == webhooks.RETRY:
        raise self.retry(countdown=webhooks.webhook_retry_delay(self.request.retries))
    return outcome
