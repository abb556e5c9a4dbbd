"""Celery tasks of the numbers app: thin wrappers around the services.

Only transient errors are retried, with backoff: a carrier that is unreachable or rate
limits, and a subscribe the carrier's list cannot settle yet. Every task is idempotent: a
redelivered one finds its row moved on, or (a subscribe) settles it from the carrier's list
without sending its request again. Services enqueue these by name through the outbox
(``portal.outbox``); the names are the contract.
"""

from celery import shared_task

from dins import sandbox_calls
from dins.costs import month_costs_refresh
from dins.subscriptions.common import TRANSIENT_CARRIER_ERRORS
from dins.subscriptions.reconcile import subscriptions_reconcile, subscriptions_settle_expired
from dins.subscriptions.release import subscription_release
from dins.subscriptions.subscribe import (
    SubscribeNotSettled,
    subscription_lease_extend,
    subscription_push_action_url,
    subscription_subscribe,
)
from dins.subscriptions.sweep import trial_sweep as trial_sweep_run
from portal.platform import heartbeat
from portal.tasks_base import TenantTask

SUBSCRIBE_MAX_RETRIES = 12


@shared_task(name="dins.subscribe", base=TenantTask, bind=True, max_retries=SUBSCRIBE_MAX_RETRIES)
def subscribe_number(self, *, tenant_id: int, subscription_id: int, claim: str = "") -> None:
    """Retried with backoff (10 s doubling to 10 min) on transient carrier errors and while
    the carrier's list cannot settle it yet; the lease covers each countdown."""
    try:
        subscription_subscribe(subscription_id=subscription_id, claim=claim)
    except (*TRANSIENT_CARRIER_ERRORS, SubscribeNotSettled) as error:
        if self.request.retries >= self.max_retries:
            raise
        countdown = min(10 * 2**self.request.retries, 10 * 60)
        subscription_lease_extend(subscription_id=subscription_id, claim=claim, seconds=countdown)
        raise self.retry(exc=error, countdown=countdown) from None


@shared_task(
    name="dins.push_action_url",
    base=TenantTask,
    autoretry_for=TRANSIENT_CARRIER_ERRORS,
    retry_backoff=10,
    retry_backoff_max=10 * 60,
    max_retries=12,
)
def push_action_url(*, tenant_id: int, subscription_id: int) -> None:
    subscription_push_action_url(subscription_id=subscription_id)


@shared_task(
    name="dins.release",
    base=TenantTask,
    autoretry_for=TRANSIENT_CARRIER_ERRORS,
    retry_backoff=15,
    retry_backoff_max=5 * 60,
    max_retries=20,
)
def release_number(*, tenant_id: int, subscription_id: int) -> None:
    subscription_release(subscription_id=subscription_id)


@shared_task(name="dins.test_call", base=TenantTask)
def place_test_call(*, tenant_id: int, test_call_id: int) -> None:
    sandbox_calls.test_call_place(test_call_id=test_call_id)


@shared_task(name="dins.trial_sweep")
def trial_sweep() -> dict:
    result = trial_sweep_run()
    heartbeat("trial_sweep")  # operators are told when it stops running (portal/platform.py)
    return {"claimed": len(result.claimed), "redriven": len(result.redriven)}


@shared_task(
    name="dins.reconcile",
    autoretry_for=TRANSIENT_CARRIER_ERRORS,
    retry_backoff=30,
    max_retries=3,
)
def reconcile() -> dict:
    result = subscriptions_reconcile()
    heartbeat("reconcile")
    return {"activated": len(result.activated), "missing": len(result.missing)}


@shared_task(name="dins.settle_subscribes", autoretry_for=TRANSIENT_CARRIER_ERRORS, max_retries=1)
def settle_subscribes() -> dict:
    result = subscriptions_settle_expired()
    return {"activated": len(result.activated), "resubscribed": len(result.resubscribed)}


@shared_task(name="dins.month_costs_refresh")
def refresh_month_costs() -> dict:
    """Every company's month summed again for the operators' page (an upsert: safe to repeat)."""
    return {"companies": month_costs_refresh()}
