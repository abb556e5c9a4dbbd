"""Outgoing webhooks: a company's endpoints, the events they receive, signed deliveries.

An event becomes one ``WebhookDelivery`` per subscribed endpoint, its body fixed then; a
Celery task (``api.deliver_webhook``) POSTs it, retried with backoff until it answers 2xx or
the attempts run out. Bodies are signed with HMAC-SHA256 over ``<timestamp>.<body>`` with the
endpoint's secret (docs/api.md shows how to verify). Deliveries are independent: at least once
and not ordered; each body carries its ``id`` and ``occurred_at``.

Webhooks only go to public addresses unless ``WEBHOOK_ALLOW_PRIVATE_ADDRESSES`` (checked when
the endpoint is saved and again before every POST, since DNS answers change), and each POST
goes to the very address that was checked (see "Addresses" below).
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
from collections.abc import Sequence
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

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
#
# The fetcher connects only where it checked. One parser reads the URL (``webhook_url_parse``,
# urllib3's, the one requests uses) and refuses anything two parsers could read differently
# (a backslash, user info, spaces); the host is resolved once, every address it resolves to is
# checked, and the POST goes to that checked address (``_PinnedAdapter``) with the URL's host
# name in ``Host`` and as the TLS name (SNI and certificate). A DNS answer that changes between
# the check and the connection cannot move the connection.

# IPv6 forms that carry an IPv4 address, judged by that address (NAT64, RFC 6052), or refused
# outright (NAT64 for local use, RFC 8215; the deprecated IPv4-compatible ::a.b.c.d).
NAT64 = ipaddress.ip_network("64:ff9b::/96")
REFUSED_V6 = (ipaddress.ip_network("64:ff9b:1::/48"), ipaddress.ip_network("::/96"))
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(ValueError):
    """The URL's host is not a public address (or does not resolve, or the URL is ambiguous)."""


def address_is_public(address: Address) -> bool:
    """True for an address on the internet: not loopback, private, link-local, multicast,
    reserved or unspecified, also when an IPv6 address carries an IPv4 one (mapped, NAT64,
    6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address_is_public(address.ipv4_mapped)
        if address in NAT64:
            return address_is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if any(address in network for network in REFUSED_V6):
            return False
        if address.sixtofour is not None and not address_is_public(address.sixtofour):
            return False
        if address.teredo is not None and not all(map(address_is_public, address.teredo)):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
        or address.is_private
    )


@dataclass(frozen=True)
class WebhookTarget:
    """Where one POST goes: the URL as parsed once, and the address checked for it."""

    scheme: str
    host: str  # the name as in the URL (IDNA for non-ASCII), or an IP literal
    port: int
    target: str  # path and query
    address: str  # the checked address the connection is pinned to

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.target}"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def webhook_url_parse(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path and query)`` of a webhook URL, or ``AddressRefused``."""
    if not url or len(url) > 500 or any(ch in url for ch in "\\ \t\r\n") or not url.isprintable():
        raise AddressRefused(_("Give an http:// or https:// URL without spaces or backslashes."))
    try:
        parts = parse_url(url)
    except LocationParseError:
        raise AddressRefused(_("Give an http:// or https:// URL.")) from None
    if parts.scheme not in ("http", "https") or not parts.host:
        raise AddressRefused(_("Give an http:// or https:// URL."))
    if parts.auth is not None or "@" in (parts.netloc or ""):
        raise AddressRefused(_("A webhook URL cannot hold a user name or password (“…@”)."))
    host = parts.host.strip("[]").lower()
    if "%" in host:
        raise AddressRefused(_("Give an http:// or https:// URL."))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if not 0 < port < 65536:
        raise AddressRefused(_("Give an http:// or https:// URL."))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query is not None else "")
    return parts.scheme, host, port, target


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (one lookup; tests replace it)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def webhook_target(url: str) -> WebhookTarget:
    """Parse ``url``, resolve its host once and check every address: the target to POST to,
    pinned to the first address, or ``AddressRefused`` saying why not."""
    scheme, host, port, target = webhook_url_parse(url)
    try:
        found = resolve(host, port)
    except (OSError, UnicodeError, ValueError):
        raise AddressRefused(_("%(host)s does not resolve.") % {"host": host}) from None
    addresses = [ipaddress.ip_address(text.split("%")[0]) for text in found]
    if not addresses:
        raise AddressRefused(_("%(host)s does not resolve.") % {"host": host})
    if not settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        for address in addresses:
            if not address_is_public(address):
                raise AddressRefused(
                    _(
                        "%(host)s is not a public address (%(address)s); webhooks go to the "
                        "internet."
                    )
                    % {"host": host, "address": address}
                )
    return WebhookTarget(scheme, host, port, target, str(addresses[0]))


def webhook_address_check(url: str) -> None:
    """Raise ``AddressRefused`` unless ``url`` is a webhook URL the fetcher would POST to."""
    webhook_target(url)


class _PinnedAdapter(HTTPAdapter):
    """Connects to the checked address whatever the URL's host resolves to now; TLS is
    verified for the URL's host name (and sent as SNI)."""

    def __init__(self, pinned: WebhookTarget):
        self.pinned = pinned
        super().__init__(max_retries=0)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        host_params = {**host_params, "host": self.pinned.address, "port": self.pinned.port}
        if host_params["scheme"] == "https":
            pool_kwargs = {
                **pool_kwargs,
                "server_hostname": self.pinned.host,
                "assert_hostname": self.pinned.host,
            }
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)


# Certificates are checked against this (tests point it at their own authority).
TLS_VERIFY: bool | str = True


def webhook_post(target: WebhookTarget, *, body: bytes, headers: dict) -> int:
    """POST ``body`` to ``target``'s checked address; the status code. No redirect is followed,
    no proxy from the environment is used, nothing is retried here (the task retries)."""
    with requests.Session() as session:
        session.trust_env = False
        session.mount(f"{target.scheme}://", _PinnedAdapter(target))
        response = session.post(
            target.url,
            data=body,
            headers={**headers, "Host": target.host_header},
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
            verify=TLS_VERIFY,
        )
        response.close()
        return response.status_code


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


def webhook_emit_many(events: Sequence[tuple[int, str, dict]]) -> list[WebhookDelivery]:
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
        status_code = webhook_post(
            webhook_target(endpoint.url),
            body=delivery.body.encode(),
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
        )
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
