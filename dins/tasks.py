"""Celery tasks of the numbers app: thin wrappers around ``dins.services``.

Only transient carrier errors (unreachable, 5xx, rate limited) are retried, with backoff.
A subscribe whose outcome is unknown is not retried here: the service hands it to
reconciliation. Every task is idempotent: a redelivered one finds its row moved on.
"""

from celery import shared_task

from dins import sandbox_calls, services
from dins.xoxzo import XoxzoRateLimited, XoxzoUnavailable
from portal.platform import heartbeat
from portal.tasks_base import TenantTask

TRANSIENT_CARRIER_ERRORS = (XoxzoUnavailable, XoxzoRateLimited)


@shared_task(
    name="dins.subscribe",
    base=TenantTask,
    autoretry_for=TRANSIENT_CARRIER_ERRORS,
    retry_backoff=10,
    retry_backoff_max=10 * 60,
    max_retries=12,
)
def subscribe_number(*, tenant_id: int, subscription_id: int) -> None:
    services.subscription_subscribe(subscription_id=subscription_id)


@shared_task(
    name="dins.push_action_url",
    base=TenantTask,
    autoretry_for=TRANSIENT_CARRIER_ERRORS,
    retry_backoff=10,
    retry_backoff_max=10 * 60,
    max_retries=12,
)
def push_action_url(*, tenant_id: int, subscription_id: int) -> None:
    services.subscription_push_action_url(subscription_id=subscription_id)


@shared_task(
    name="dins.release",
    base=TenantTask,
    autoretry_for=TRANSIENT_CARRIER_ERRORS,
    retry_backoff=15,
    retry_backoff_max=5 * 60,
    max_retries=20,
)
def release_number(*, tenant_id: int, subscription_id: int) -> None:
    services.subscription_release(subscription_id=subscription_id)


@shared_task(name="dins.test_call", base=TenantTask)
def place_test_call(*, tenant_id: int, test_call_id: int) -> None:
    sandbox_calls.test_call_place(test_call_id=test_call_id)


@shared_task(name="dins.trial_sweep")
def trial_sweep() -> dict:
    result = services.trial_sweep()
    heartbeat("trial_sweep")  # operators are told when it stops running (portal/platform.py)
    return {"claimed": len(result.claimed), "redriven": len(result.redriven)}


@shared_task(
    name="dins.reconcile",
    autoretry_for=TRANSIENT_CARRIER_ERRORS,
    retry_backoff=30,
    max_retries=3,
)
def reconcile() -> dict:
    result = services.subscriptions_reconcile()
    heartbeat("reconcile")
    return {"activated": len(result.activated), "missing": len(result.missing)}
