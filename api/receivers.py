"""Where the API hears of events in the lower apps and turns them into webhook deliveries.

Imported by ``ApiConfig.ready``. Every receiver only queues deliveries (after commit); nothing
here talks to a receiver, so the call-log writer and the services are not slowed by webhooks.
"""

from django.db.models.signals import post_save

from api.models import WebhookEvent
from api.webhooks import webhook_emit, webhook_emit_many, webhook_listeners
from callflows.signals import calls_logged, outbound_call_finished
from dins.models import Subscription
from portal.audit_words import describe_values
from portal.formats import money_out, phone_out, time_text
from portal.models import Alert, AlertKind, Tenant
from portal.scoping import scopes_disabled

# Keyed by the alert's kind as stored (AlertKind values).
ALERT_EVENTS: dict[str, WebhookEvent] = {
    AlertKind.TRIAL_REMINDER: WebhookEvent.TRIAL_REMINDER,
    AlertKind.TRIAL_RELEASED: WebhookEvent.TRIAL_RELEASED,
    AlertKind.SUBSCRIPTION_FAILED: WebhookEvent.SUBSCRIPTION_FAILED,
}


def _calls_logged(sender, *, calls, **kwargs):
    """``call.answered`` for each call the call-log writer stored (a batch of many tenants)."""
    # Most companies have no webhook: the writer's batch (thousands of calls a second on a busy
    # edge) is only looked at for the companies listening, one small query a flush.
    listening = webhook_listeners(WebhookEvent.CALL_ANSWERED)
    calls = [call for call in calls if call["tenant_id"] in listening]
    if not calls:
        return
    numbers = {call["subscription_id"] for call in calls}
    with scopes_disabled():
        found = dict(Subscription.objects.filter(pk__in=numbers).values_list("pk", "code"))
    zones = {
        tenant.pk: tenant.zone
        for tenant in Tenant.objects.filter(pk__in={call["tenant_id"] for call in calls})
    }
    events = []
    for call in calls:
        code = found.get(call["subscription_id"])
        if code is None:
            continue
        events.append(
            (
                call["tenant_id"],
                WebhookEvent.CALL_ANSWERED,
                {
                    "number": str(code),
                    "recipient": phone_out(call.get("recipient", "")),
                    "caller": phone_out(call.get("caller", "")),
                    "at": time_text(call["at"], zones[call["tenant_id"]]),
                    "rule": call.get("rule", ""),
                    "source": call["source"],
                    "fallback": call["source"] == "fallback",
                    "command": call.get("command", ""),
                    # A "Test call" from the flow page, not a caller (dins.call_marks).
                    "test": bool(call.get("is_test")),
                },
            )
        )
    webhook_emit_many(events)


def _alert_saved(sender, instance: Alert, created: bool, **kwargs):
    """Events raised as alerts, picked up when the alert is saved (``alert_raise`` makes at
    most one per kind, number and hour): ``trial.reminder`` (the trial sweep), ``trial.released``
    (the release service, once per released trial), ``subscription.failed`` (the subscribe
    task, when the number is not ours)."""
    if not created or instance.kind not in ALERT_EVENTS:
        return
    subscription = (
        Subscription.objects.filter(pk=instance.number_id).first() if instance.number_id else None
    )  # alert_raise saves the alert inside the number's company scope
    zone = instance.tenant.zone
    data: dict = {"number": str(subscription.code) if subscription else None}
    if instance.kind == AlertKind.TRIAL_REMINDER:
        data.update(
            e164=phone_out(subscription.e164 if subscription else ""),
            trial_deadline=time_text(subscription.trial_deadline, zone) if subscription else None,
            release_at=time_text(subscription.release_at, zone) if subscription else None,
            minutes_before=instance.context.get("minutes_before"),
        )
    elif instance.kind == AlertKind.TRIAL_RELEASED:
        data.update(
            e164=phone_out(instance.context.get("number", "")),
            released_at=time_text(subscription.released_at, zone) if subscription else None,
            saved=money_out(instance.context.get("saved")),
        )
    else:
        data.update(
            e164=phone_out(subscription.e164 if subscription else ""),
            reason=instance.context.get("reason", ""),
            cause=instance.context.get("cause", "carrier"),
        )
    webhook_emit(tenant_id=instance.tenant_id, event=ALERT_EVENTS[instance.kind], data=data)


def _outbound_call_finished(sender, *, call, **kwargs):
    call.refresh_from_db(fields=["status", "duration", "cost", "ended_at", "failure_reason"])
    webhook_emit(
        tenant_id=call.tenant_id,
        event=WebhookEvent.OUTBOUND_CALL_FINISHED,
        data={
            "call": str(call.code),
            "number": str(call.subscription.code),
            "recipient": phone_out(call.recipient),
            "status": call.status,
            "duration": call.duration,
            "cost": money_out(call.cost),
            "ended_at": time_text(call.ended_at, call.tenant.zone),
            "failure_reason": call.failure_reason,
        },
    )


def _events_words(events) -> str | None:
    if not isinstance(events, list):
        return None
    return ", ".join(
        str(WebhookEvent(event).label) if event in WebhookEvent.values else event
        for event in events
    )


def connect() -> None:
    # The audit log's values in words (portal.audit_words).
    describe_values("webhookendpoint", "events", _events_words)
    calls_logged.connect(_calls_logged, dispatch_uid="api.webhooks.calls")
    post_save.connect(_alert_saved, sender=Alert, dispatch_uid="api.webhooks.alert_events")
    outbound_call_finished.connect(_outbound_call_finished, dispatch_uid="api.webhooks.outbound")
