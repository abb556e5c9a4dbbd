"""Outgoing webhooks: a company's endpoints, the events they receive, signed deliveries.

An event becomes one ``WebhookDelivery`` per subscribed endpoint, its body fixed then; a
Celery task (``api.deliver_webhook``) POSTs it, retried with backoff until it answers 2xx or
the attempts run out. Bodies are signed with HMAC-SHA256 over ``<timestamp>.<body>`` with the
endpoint's secret (docs/api.md shows how to verify). Deliveries are independent: at least once
and not ordered; each body carries its ``id`` and ``occurred_at``.

Webhooks only go to public addresses unless ``WEBHOOK_ALLOW_PRIVATE_ADDRESSES`` (checked when
the endpoint is saved and again before every POST, since DNS answers change).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from collections import defaultdict
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from api.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from portal.alerts import alert_raise
from portal.formats import time_text
from portal.models import AlertKind, Membership, Role
from portal.outbox import outbox_enqueue
from portal.scoping import current_tenant, scopes_disabled
from portal.services import ServiceError, audit_record

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-DinPortal-Signature"
TIMESTAMP_HEADER = "X-DinPortal-Timestamp"
EVENT_HEADER = "X-DinPortal-Event"
DELIVERY_HEADER = "X-DinPortal-Delivery"
MAX_ENDPOINTS = 10
DELIVER_TASK = "api.deliver_webhook"


# --- Addresses --------------------------------------------------------------------------------


class AddressRefused(ValueError):
    """The URL's host is not a public address (or does not resolve)."""


def webhook_address_check(url: str) -> None:
    """Raise ``AddressRefused`` unless every address ``url``'s host resolves to is global."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressRefused(_("Give an http:// or https:// URL."))
    if settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError, UnicodeError):
        raise AddressRefused(_("%(host)s does not resolve.") % {"host": parts.hostname}) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            raise AddressRefused(
                _("%(host)s is not a public address (%(address)s); webhooks go to the internet.")
                % {"host": parts.hostname, "address": address}
            )


# --- Endpoints --------------------------------------------------------------------------------


def _ensure_admin(by: Membership) -> None:
    if not by.has_role(Role.ADMIN):
        raise ServiceError(_("Only owners and admins can manage webhooks."))


def webhook_create(*, url: str, events: list[str], by: Membership, request) -> WebhookEndpoint:
    _ensure_admin(by)
    unknown = set(events) - set(WebhookEvent.values)
    if not events or unknown:
        raise ServiceError(_("Choose at least one event."))
    if WebhookEndpoint.objects.count() >= MAX_ENDPOINTS:
        raise ServiceError(_("A company may have %(count)d webhooks.") % {"count": MAX_ENDPOINTS})
    try:
        webhook_address_check(url)
    except AddressRefused as error:
        raise ServiceError(str(error)) from None
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            tenant=current_tenant(),
            url=url,
            secret="whsec_" + secrets.token_urlsafe(32),
            events=sorted(set(events)),
            created_by=by.user,
        )
        audit_record(
            action="webhook.create",
            obj=endpoint,
            request=request,
            after={"url": url, "events": endpoint.events},
        )
    return endpoint


def webhook_set_active(*, endpoint: WebhookEndpoint, active: bool, by: Membership, request) -> bool:
    """Turn on (the failure count starts again) or off; False when it already was."""
    _ensure_admin(by)
    values = {"is_active": active, "updated_at": timezone.now()}
    if active:
        values.update(consecutive_failures=0, disabled_at=None, disabled_reason="")
    changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=not active).update(**values)
    if changed:
        audit_record(
            action="webhook.enable" if active else "webhook.disable", obj=endpoint, request=request
        )
    return bool(changed)


def webhook_delete(*, endpoint: WebhookEndpoint, by: Membership, request) -> None:
    _ensure_admin(by)
    with transaction.atomic():
        audit_record(
            action="webhook.delete", obj=endpoint, request=request, before={"url": endpoint.url}
        )
        endpoint.delete()


def webhook_list():
    return WebhookEndpoint.objects.order_by("-created_at")


def webhook_recent_deliveries(endpoint: WebhookEndpoint, *, limit: int = 50):
    return WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-id")[:limit]


# --- Events -----------------------------------------------------------------------------------


def _body(*, event: str, delivery_code: uuid.UUID, occurred_at, data: dict) -> str:
    return json.dumps(
        {
            "id": str(delivery_code),
            "event": event,
            "occurred_at": occurred_at,
            "data": data,
        },
        cls=DjangoJSONEncoder,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def webhook_listeners(event: str) -> set[int]:
    """The companies with an active endpoint subscribed to ``event`` (one indexed query)."""
    with scopes_disabled():
        endpoints = WebhookEndpoint.objects.filter(is_active=True).values_list(
            "tenant_id", "events"
        )
        return {tenant_id for tenant_id, events in endpoints if event in events}


def webhook_emit_many(events: list[tuple[int, str, dict]]) -> list[WebhookDelivery]:
    """Queue ``(tenant_id, event, data)`` events for every active endpoint subscribed to them.

    Works across tenants (the call-log writer's batches hold many): one query for the
    endpoints, one insert for the deliveries, one task each after commit.
    """
    if not events:
        return []
    tenant_ids = {tenant_id for tenant_id, _event, _data in events}
    with scopes_disabled():
        endpoints = list(
            WebhookEndpoint.objects.filter(tenant_id__in=tenant_ids, is_active=True)
            # occurred_at is written in each company's zone (portal.formats)
            .select_related("tenant")
        )
    if not endpoints:
        return []
    by_tenant: dict[int, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in endpoints:
        by_tenant[endpoint.tenant_id].append(endpoint)
    now = timezone.now()
    deliveries = []
    for tenant_id, event, data in events:
        for endpoint in by_tenant.get(tenant_id, []):
            if event not in endpoint.events:
                continue
            code = uuid.uuid4()
            deliveries.append(
                WebhookDelivery(
                    tenant_id=tenant_id,
                    endpoint=endpoint,
                    code=code,
                    event=event,
                    body=_body(
                        event=event,
                        delivery_code=code,
                        occurred_at=time_text(now, endpoint.tenant.zone),
                        data=data,
                    ),
                )
            )
    if not deliveries:
        return []
    with transaction.atomic(), scopes_disabled():
        WebhookDelivery.objects.bulk_create(deliveries)
        codes = [d.code for d in deliveries]
        # bulk_create leaves primary keys unset on some databases: read them back.
        stored = list(WebhookDelivery.objects.filter(code__in=codes).values_list("pk", "tenant_id"))
        # Saved with the deliveries: a broker that is down delays them, it does not lose them.
        for pk, tenant_id in stored:
            outbox_enqueue(DELIVER_TASK, kwargs={"tenant_id": tenant_id, "delivery_id": pk})
    return deliveries


def webhook_emit(*, tenant_id: int, event: str, data: dict) -> list[WebhookDelivery]:
    return webhook_emit_many([(tenant_id, event, data)])


# --- Delivering -------------------------------------------------------------------------------


def webhook_signature(*, secret: str, timestamp: int, body: str) -> str:
    """``v1=<hex HMAC-SHA256 of "<timestamp>.<body>">``: what receivers recompute."""
    message = f"{timestamp}.{body}".encode()
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


DELIVERED, RETRY, FAILED, SKIPPED = "delivered", "retry", "failed", "skipped"


def webhook_deliver(*, delivery_id: int, final_attempt: bool) -> str:
    """POST one delivery (the ``api.deliver_webhook`` task body); returns what happened.

    ``retry``: it failed and another attempt will follow (the task schedules it);
    ``failed``: it failed for the last time, which counts against the endpoint and, at
    ``WEBHOOK_DISABLE_AFTER_FAILURES`` failed deliveries in a row, turns it off with an alert.
    A delivery no longer pending (delivered by a duplicate task) is ``skipped``.
    """
    delivery = (
        WebhookDelivery.objects.select_related("endpoint")
        .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
        .first()
    )
    if delivery is None:
        return SKIPPED
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        _finish(
            delivery,
            status=WebhookDelivery.Status.FAILED,
            code=None,
            error=_("The webhook is turned off."),
        )
        return FAILED
    timestamp = int(time.time())
    status_code, error = None, ""
    try:
        webhook_address_check(endpoint.url)
        response = requests.post(
            endpoint.url,
            data=delivery.body.encode(),
            headers={
                "Content-Type": "application/json",
                "User-Agent": "DIN-Portal-Webhooks/1",
                SIGNATURE_HEADER: webhook_signature(
                    secret=endpoint.secret, timestamp=timestamp, body=delivery.body
                ),
                TIMESTAMP_HEADER: str(timestamp),
                EVENT_HEADER: delivery.event,
                DELIVERY_HEADER: str(delivery.code),
            },
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
        status_code = response.status_code
        response.close()
    except AddressRefused as refused:
        error = str(refused)
    except requests.RequestException as failure:
        error = f"{type(failure).__name__}"[:300]
    if status_code is not None and 200 <= status_code < 300:
        _finish(delivery, status=WebhookDelivery.Status.DELIVERED, code=status_code, error="")
        WebhookEndpoint.objects.filter(pk=endpoint.pk).exclude(consecutive_failures=0).update(
            consecutive_failures=0
        )
        return DELIVERED
    error = error or _("The receiver answered HTTP %(code)s.") % {"code": status_code}
    if not final_attempt:
        _finish(delivery, status=WebhookDelivery.Status.PENDING, code=status_code, error=error)
        return RETRY
    _finish(delivery, status=WebhookDelivery.Status.FAILED, code=status_code, error=error)
    _count_failure(endpoint)
    return FAILED


def _finish(delivery: WebhookDelivery, *, status: str, code: int | None, error: str) -> None:
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status,
        attempts=F("attempts") + 1,
        last_status_code=code,
        last_error=error[:300],
        last_attempt_at=now,
        delivered_at=now if status == WebhookDelivery.Status.DELIVERED else None,
        updated_at=now,
    )


def _count_failure(endpoint: WebhookEndpoint) -> None:
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            consecutive_failures=F("consecutive_failures") + 1
        )
        limit = settings.WEBHOOK_DISABLE_AFTER_FAILURES
        turned_off = WebhookEndpoint.objects.filter(
            pk=endpoint.pk, is_active=True, consecutive_failures__gte=limit
        ).update(
            is_active=False,
            disabled_at=timezone.now(),
            disabled_reason=_("%(count)d deliveries in a row failed.") % {"count": limit},
        )
        if turned_off:
            logger.warning("webhook %s turned off after %d failed deliveries", endpoint.pk, limit)
            alert_raise(
                kind=AlertKind.WEBHOOK_DISABLED,
                tenant=endpoint.tenant,
                context={"url": endpoint.url, "failures": limit},
            )


def webhook_retry_delay(retries: int) -> int:
    """Seconds before attempt ``retries + 2``: doubling from the base, at most an hour."""
    return min(settings.WEBHOOK_RETRY_BASE_SECONDS * 2**retries, 3600)
