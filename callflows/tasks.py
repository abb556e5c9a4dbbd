"""Celery tasks of call flows: thin wrappers around services."""

from celery import shared_task

from callflows.flows import publishing


@shared_task(name="callflows.republish_due")
def republish_due() -> dict[str, int]:
    """Hourly: recompile published flows before they run out; publish any active number that
    has no publication. Each number in its own transaction, so one failure stops nothing."""
    return publishing.flows_republish_due()
