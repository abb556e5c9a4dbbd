"""Celery tasks of outbound calls: thin wrappers around ``callflows.outbound.services``.

Each task is also served under the name it was first published under (``dins.place_call``,
``dins.poll_call``, ``dins.poll_calls``, from when outbound calls lived in dins): messages
already in a broker, and outbox rows saved before, still find their task after an upgrade.
"""

from celery import shared_task

from callflows.outbound import follow, services
from dins.tasks import TRANSIENT_CARRIER_ERRORS
from portal.tasks_base import TenantTask

PLACE_CALL_MAX_RETRIES = 5
POLL_CALL_RETRIES = {
    "autoretry_for": TRANSIENT_CARRIER_ERRORS,
    "retry_backoff": 10,
    "retry_backoff_max": 60,
    "max_retries": 3,
}


@shared_task(
    name="callflows.place_call", base=TenantTask, bind=True, max_retries=PLACE_CALL_MAX_RETRIES
)
def place_call(self, *, tenant_id: int, call_id: int) -> None:
    """Place one outbound call. Retried only when the carrier provably did not get it.

    ``outbound_call_place`` raises only errors that prove the call was not sent (connection
    refused, 503, 429) and has put the row back in "queued"; every outcome after which the call
    may exist is settled without placing it again (see ``callflows.outbound.services``).
    No ``autoretry_for``: the retry decision stays here, visible.
    """
    _place(self, call_id=call_id)


@shared_task(name="dins.place_call", base=TenantTask, bind=True, max_retries=PLACE_CALL_MAX_RETRIES)
def place_call_published_before(self, *, tenant_id: int, call_id: int) -> None:
    """``place_call`` under its first name."""
    _place(self, call_id=call_id)


def _place(task, *, call_id: int) -> None:
    try:
        services.outbound_call_place(call_id=call_id)
    except TRANSIENT_CARRIER_ERRORS as error:
        if task.request.retries >= task.max_retries:
            services.outbound_call_give_up(call_id=call_id, reason=str(error))
            return
        raise task.retry(exc=error, countdown=min(5 * 2**task.request.retries, 60)) from None


@shared_task(name="callflows.poll_call", base=TenantTask, **POLL_CALL_RETRIES)
def poll_call(*, tenant_id: int, call_id: int) -> bool:
    # Safe to retry: the call-status API only reads.
    return follow.outbound_call_poll(call_id=call_id)


@shared_task(name="dins.poll_call", base=TenantTask, **POLL_CALL_RETRIES)
def poll_call_published_before(*, tenant_id: int, call_id: int) -> bool:
    """``poll_call`` under its first name."""
    return follow.outbound_call_poll(call_id=call_id)


@shared_task(name="callflows.poll_calls")
def poll_calls() -> dict:
    result = follow.outbound_calls_poll_due()
    return {
        "polled": len(result.polled),
        "unknown": len(result.unknown),
        "expired": len(result.expired),
        "given_up": len(result.given_up),
    }


@shared_task(name="dins.poll_calls")
def poll_calls_published_before() -> dict:
    """``poll_calls`` under its first name (a schedule entry saved before the upgrade)."""
    return poll_calls()
