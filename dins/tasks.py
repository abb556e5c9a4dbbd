"""Celery tasks of the numbers app: thin wrappers around the services.

Only transient errors are retried, with backoff: a carrier that is unreachable or rate
limits, and a subscribe the carrier's list cannot settle yet. Every task is idempotent: a
redelivered one finds its row moved on, or (a subscribe) settles it from the carrier's list
without sending its request again. Services enqueue these by name through the outbox
(``portal.outbox``); the names are the contract.
"""

from celery import shared_task

from dins import sandbox_calls
from dins.subscriptions.common import TRANSIENT_CARRIER_ERRORS
from dins.subscriptions.reconcile import subscriptions_reconcile
from dins.subscriptions.release import subscription_release
from dins.subscriptions.subscribe import (
    SubscribeNotSettled,
    subscription_push_action_url,
    subscription_subscribe,
)
from dins.subscriptions.sweep import trial_sweep as trial_sweep_run
from portal.platform import heartbeat
from portal.tasks_base import TenantTask


@shared_task(
    name="dins.subscribe",
    base=TenantTask,
    autoretry_for=(*TRANSIENT_CARRIER_ERRORS, SubscribeNotSettled),
    retry_backoff=10,
    retry_backoff_max=10 * 60,
    max_retries=12,
)
def subscribe_number(*, tenant_id: int, subscription_id: int, claim: str = "") -> None:
    subscription_subscribe(subscription_id=subscription_id, claim=claim)


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
