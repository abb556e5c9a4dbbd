"""Celery tasks of the numbers app: thin wrappers around the services.

Only transient errors are retried, with backoff: a carrier that is unreachable or rate
limits, and a subscribe the carrier's list cannot settle yet. Every task is idempotent: a
redelivered one finds its row moved on, or (a subscribe) settles it from the carrier's list
without sending its request again. Services enqueue these by name through the outbox
(``portal.outbox``); the names are the contract.
"""

from celery import shared_task

from dins import outbound, sandbox_calls
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


# --- Outbound calls ---------------------------------------------------------------------------

PLACE_CALL_MAX_RETRIES = 5


@shared_task(name="dins.place_call", base=TenantTask, bind=True, max_retries=PLACE_CALL_MAX_RETRIES)
def place_call(self, *, tenant_id: int, call_id: int) -> None:
    """Place one outbound call. Retried only when the carrier provably did not get it.

    ``outbound_call_place`` raises only errors that prove the call was not sent (connection
    refused, 429) and has put the row back in "queued"; every outcome after which the call may
    exist is settled without placing it again (see ``dins.outbound``). No ``autoretry_for``:
    the retry decision stays here, visible.
    """
    try:
        outbound.outbound_call_place(call_id=call_id)
    except TRANSIENT_CARRIER_ERRORS as error:
        if self.request.retries >= self.max_retries:
            outbound.outbound_call_give_up(call_id=call_id, reason=str(error))
            return
        raise self.retry(exc=error, countdown=min(5 * 2**self.request.retries, 60)) from None


@shared_task(
    name="dins.poll_call",
    base=TenantTask,
    autoretry_for=TRANSIENT_CARRIER_ERRORS,
    retry_backoff=10,
    retry_backoff_max=60,
    max_retries=3,
)
def poll_call(*, tenant_id: int, call_id: int) -> bool:
    # Safe to retry: the call-status API only reads.
    return outbound.outbound_call_poll(call_id=call_id)


@shared_task(name="dins.poll_calls")
def poll_calls() -> dict:
    result = outbound.outbound_calls_poll_due()
    return {
        "polled": len(result.polled),
        "unknown": len(result.unknown),
        "expired": len(result.expired),
        "given_up": len(result.given_up),
    }
