"""Celery tasks of outbound calls: thin wrappers around ``callflows.outbound.services``.

The task names keep the ``dins.`` prefix they were first published under: messages already in a
broker still find their task after an upgrade.
"""

from celery import shared_task

from callflows.outbound import follow, services
from dins.tasks import TRANSIENT_CARRIER_ERRORS
from portal.tasks_base import TenantTask

PLACE_CALL_MAX_RETRIES = 5


@shared_task(name="dins.place_call", base=TenantTask, bind=True, max_retries=PLACE_CALL_MAX_RETRIES)
def place_call(self, *, tenant_id: int, call_id: int) -> None:
    """Place one outbound call. Retried only when the carrier provably did not get it.

    ``outbound_call_place`` raises only errors that prove the call was not sent (connection
    refused, 503, 429) and has put the row back in "queued"; every outcome after which the call
    may exist is settled without placing it again (see ``callflows.outbound.services``).
    No ``autoretry_for``: the retry decision stays here, visible.
    """
    try:
        services.outbound_call_place(call_id=call_id)
    except TRANSIENT_CARRIER_ERRORS as error:
        if self.request.retries >= self.max_retries:
            services.outbound_call_give_up(call_id=call_id, reason=str(error))
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
    return follow.outbound_call_poll(call_id=call_id)


@shared_task(name="dins.poll_calls")
def poll_calls() -> dict:
    result = follow.outbound_calls_poll_due()
    return {
        "polled": len(result.polled),
        "unknown": len(result.unknown),
        "expired": len(result.expired),
        "given_up": len(result.given_up),
    }
