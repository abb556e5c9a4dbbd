"""Where call flows react to the lower apps' hooks: each one publishes what answers changed.

Imported by ``CallflowsConfig.ready``, once every model is loaded.
"""

from callflows.flows.publishing import flows_publish, flows_publish_for_tenant, flows_unpublish
from dins.signals import numbers_stopped_answering, subscription_answering_changed
from portal.outbox import outbox_enqueue
from portal.signals import tenant_changed

# Task names (``callflows.tasks``): enqueued by name through the outbox.
CALL_DAYS_REBUILD_TASK = "callflows.call_days_rebuild"

# Company settings a compiled flow depends on (time zone of the hours; destination policy).
ANSWER_FIELDS = frozenset(
    {"timezone", "allow_international_transfer", "allow_premium_destinations"}
)


def _publish_numbers(sender, *, subscriptions, **kwargs):
    flows_publish(subscriptions=subscriptions)


def _withdraw_tokens(sender, *, tokens, **kwargs):
    flows_unpublish(tokens=tokens)


def _publish_tenant(sender, *, tenant, fields, **kwargs):
    if ANSWER_FIELDS & set(fields):
        flows_publish_for_tenant(tenant=tenant)
    if "timezone" in fields:
        # The company's days are other days now: its daily call counts are counted again
        # (callflows.calllog.rollup).
        outbox_enqueue(CALL_DAYS_REBUILD_TASK, kwargs={"tenant_id": tenant.pk})


def connect() -> None:
    subscription_answering_changed.connect(_publish_numbers, dispatch_uid="callflows.publish")
    numbers_stopped_answering.connect(_withdraw_tokens, dispatch_uid="callflows.withdraw")
    tenant_changed.connect(_publish_tenant, dispatch_uid="callflows.publish_tenant")
