"""Celery tasks of the sandbox carrier: thin wrappers around the sandbox's services."""

from celery import shared_task

from sandbox import calls


@shared_task(name="sandbox.complete_call")
def complete_call(*, callid: str) -> None:
    # No retries: completion is idempotent and a missing call has nothing left to do; the
    # callback is attempted once, as its outcome is recorded on the call.
    calls.sandbox_call_complete(callid=callid)
