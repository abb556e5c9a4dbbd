"""Where call flows react to the lower apps' hooks: each one publishes what answers changed.

Imported by ``CallflowsConfig.ready``, once every model is loaded.
"""

from callflows.flows.publishing import flows_publish, flows_publish_for_tenant, flows_unpublish
from dins.signals import numbers_stopped_answering, subscription_answering_changed
from portal.signals import tenant_changed

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


def connect() -> None:
    subscription_answering_changed.connect(_publish_numbers, dispatch_uid="callflows.publish")
    numbers_stopped_answering.connect(_withdraw_tokens, dispatch_uid="callflows.withdraw")
    tenant_changed.connect(_publish_tenant, dispatch_uid="callflows.publish_tenant")
