"""Celery tasks of call flows: thin wrappers around services."""

from celery import shared_task

from callflows import demo
from callflows.assets import uploads
from callflows.calllog import rollup
from callflows.flows import publishing
from callflows.outbound.tasks import place_call, poll_call, poll_calls  # registered here
from dins import demo as dins_demo
from dins.tasks import TRANSIENT_CARRIER_ERRORS
from portal.scoping import current_tenant
from portal.tasks_base import TenantTask


@shared_task(name="callflows.republish_due")
def republish_due() -> dict[str, int]:
    """Hourly: recompile published flows before they run out; publish any active number that
    has no publication. Each number in its own transaction, so one failure stops nothing."""
    return publishing.flows_republish_due()


@shared_task(name="callflows.audio_convert", base=TenantTask)
def audio_convert(*, tenant_id: int, upload_id: int) -> str:
    """An uploaded or recorded greeting into the MP3 the upload page plays (idempotent)."""
    return uploads.audio_upload_convert(upload_id=upload_id)


@shared_task(name="callflows.prune_audio_uploads")
def prune_audio_uploads() -> int:
    """Hourly: converted recordings nobody saved, with their files."""
    return uploads.audio_uploads_prune()


@shared_task(name="callflows.call_days_catch_up")
def call_days_catch_up() -> int:
    """Every few seconds: add the calls logged since the last run to the daily counts."""
    return rollup.call_days_catch_up()


@shared_task(name="callflows.call_days_recount")
def call_days_recount() -> int:
    """Hourly: count the last two days of every busy company's calls again from the log."""
    return rollup.call_days_recount()


@shared_task(name="callflows.call_days_rebuild", base=TenantTask)
def call_days_rebuild(*, tenant_id: int) -> int:
    """A company's daily call counts from its whole log (its time zone changed)."""
    return rollup.call_days_rebuild(tenant=current_tenant())


@shared_task(
    name="callflows.demo",
    base=TenantTask,
    autoretry_for=TRANSIENT_CARRIER_ERRORS,
    retry_backoff=2,
    retry_backoff_max=30,
    max_retries=30,
)
def demo_seed(*, tenant_id: int) -> int:
    """A demo company's numbers (subscribed at the sandbox) and their flows (idempotent)."""
    requested = dins_demo.demo_numbers_subscribe()
    # The flows are ready before the numbers are active: the first call is answered by them.
    demo.demo_flows_seed_for_owner()
    return requested


__all__ = [
    "audio_convert",
    "call_days_catch_up",
    "call_days_rebuild",
    "call_days_recount",
    "demo_seed",
    "place_call",
    "poll_call",
    "poll_calls",
    "prune_audio_uploads",
    "republish_due",
]
