"""Publishing: the one way a compiled flow comes into being (the edge only reads what is here).

A number's answer depends on its flow and override, the assets they name, the company's time
zone and transfer policy, the holiday calendar and closed dates. Every change to any of them
calls ``flow_publish`` (or ``flows_publish``) inside its own transaction, so the published
row commits with the change or not at all; the edge's watcher picks it up within
``published.PUBLISH_WINDOW_SECONDS``. Lower apps do not import this module: they send their hooks
(``dins.signals.subscription_answering_changed``, ``portal.signals.tenant_changed``), which
``callflows.apps`` connects here.

Published flows carry an expiry (holidays are compiled as dates for a while ahead); the hourly
``callflows.republish_due`` task recompiles them well before it.
"""

from __future__ import annotations

import datetime
import logging
import random
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone

from callflows.edge import published
from callflows.flows.compiler import COMPILER_VERSION, DEFAULT_DOCUMENT, flow_compile
from callflows.flows.documents import Action, CompiledFlow, Problem
from callflows.models import CallFlow, PublishedFlow
from dins.models import Subscription, SubscriptionStatus
from portal.arrays import AnyOf
from portal.models import Tenant
from portal.scoping import scopes_disabled, tenant_scope

logger = logging.getLogger(__name__)


def flow_build(subscription: Subscription, *, problems: list[Problem]) -> CompiledFlow:
    """Compile what ``subscription`` answers now, never failing (see ``flow_compile``)."""
    flow = CallFlow.objects.filter(subscription=subscription).first()
    override: tuple[Action, datetime.datetime] | None = None
    if flow and flow.override_document and flow.override_until:
        override = (flow.override_document, flow.override_until)
    tenant = subscription.tenant
    compiled = flow_compile(
        flow.document if flow else DEFAULT_DOCUMENT,
        tenant=tenant,
        own_number=subscription.e164,
        override=override,
        around=timezone.localdate(timezone=tenant.zone),
        problems=problems,
    )
    compiled["tenant_id"] = subscription.tenant_id
    compiled["subscription_id"] = subscription.pk
    compiled["version"] = flow.version if flow else 0
    return compiled


def _lifetime() -> datetime.timedelta:
    """How long a publication lives, spread over a day so that republishing spreads too."""
    days = settings.FLOW_PUBLISH_LIFETIME_DAYS
    return datetime.timedelta(days=days, seconds=random.randrange(0, 24 * 60 * 60))


def flow_publish(*, subscription: Subscription) -> PublishedFlow | None:
    """Publish what ``subscription`` answers (or that it answers nothing), in this transaction.

    Locks the subscription's row first, so two changes published at once are applied in
    order: the second one compiles what the first committed. Returns the live row, or None
    when the number answers nothing (not active).
    """
    with transaction.atomic(), scopes_disabled():
        subscription = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("tenant")
            .get(pk=subscription.pk)
        )
        # Whatever token this number answered before (a rotated one) answers nothing now.
        _tombstone(
            PublishedFlow.objects.filter(subscription=subscription).exclude(
                token=subscription.action_token
            )
        )
        if subscription.status != SubscriptionStatus.ACTIVE:
            _tombstone(PublishedFlow.objects.filter(token=subscription.action_token))
            _after_commit([subscription.action_token])
            return None
        problems: list[Problem] = []
        with tenant_scope(subscription.tenant):
            compiled = flow_build(subscription, problems=problems)
        expires_at = timezone.now() + _lifetime()
        compiled["expires"] = expires_at.timestamp()
        values = {
            "tenant": subscription.tenant,
            "subscription": subscription,
            "compiled": compiled,
            "stamp": uuid.uuid4().hex,
            "flow_version": compiled["version"],
            "compiler_version": COMPILER_VERSION,
            "problems": problems,
            "expires_at": expires_at,
        }
        published, _created = PublishedFlow.objects.update_or_create(
            token=subscription.action_token, defaults=values
        )
        # The database's clock, which the edge's watcher reads by (see PublishedFlow).
        PublishedFlow.objects.filter(pk=published.pk).update(updated_at=Now())
        if problems:
            logger.warning(
                "published flow of subscription %s with %d problem(s): %s",
                subscription.pk,
                len(problems),
                "; ".join(f"{p['where']}: {p['why']}" for p in problems),
            )
        _after_commit([subscription.action_token])
        return published


def flows_publish(*, subscriptions: Iterable[Subscription]) -> int:
    """Publish several numbers in this transaction (in primary-key order: locks in order)."""
    count = 0
    for subscription in sorted(subscriptions, key=lambda s: s.pk):
        flow_publish(subscription=subscription)
        count += 1
    return count


def flows_publish_for_tenant(*, tenant: Tenant) -> int:
    """Every live number of a company, e.g. after its time zone or transfer policy changed."""
    with scopes_disabled():
        subscriptions = list(
            Subscription.objects.filter(tenant=tenant, status=SubscriptionStatus.ACTIVE)
        )
    return flows_publish(subscriptions=subscriptions)


def flows_unpublish(*, tokens: Iterable[str]) -> int:
    """These tokens answer nothing from now on (a bulk release claim)."""
    tokens = sorted(set(tokens))
    with scopes_disabled():
        # One array parameter however many tokens (the trial sweep's claim: thousands).
        count = _tombstone(PublishedFlow.objects.filter(AnyOf(F("token"), tokens)))
    _after_commit(tokens)
    return count


def flows_republish_due(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Recompile published flows that run out within ``FLOW_REPUBLISH_AHEAD_DAYS`` or were
    compiled by an older compiler, publish active numbers that have no publication (a safety
    net), and drop old tombstones. Run hourly and by every deployment (``publish_flows``).

    Each number is published in its own transaction: one that fails does not stop the rest.
    """
    now = now or timezone.now()
    ahead = now + datetime.timedelta(days=settings.FLOW_REPUBLISH_AHEAD_DAYS)
    with scopes_disabled():
        expiring = set(
            PublishedFlow.objects.filter(compiled__isnull=False)
            .filter(Q(expires_at__lte=ahead) | ~Q(compiler_version=COMPILER_VERSION))
            .values_list("subscription_id", flat=True)
            .distinct()
        )
        unpublished = set(
            Subscription.objects.filter(status=SubscriptionStatus.ACTIVE)
            .exclude(published_flows__compiled__isnull=False)
            .values_list("pk", flat=True)
        )
        pruned, _ = PublishedFlow.objects.filter(
            compiled__isnull=True, updated_at__lt=now - datetime.timedelta(days=1)
        ).delete()
        result = {"republished": 0, "published": 0, "failed": 0, "pruned": pruned}
        for pk in sorted(expiring | unpublished):
            try:
                subscription = Subscription.objects.get(pk=pk)
                flow_publish(subscription=subscription)
            except Exception:
                logger.exception("republishing the flow of subscription %s failed", pk)
                result["failed"] += 1
                continue
            result["republished" if pk in expiring else "published"] += 1
    return result


def _tombstone(rows) -> int:
    """Mark rows as answering nothing (kept a day, so every edge process sees the change)."""
    return rows.filter(compiled__isnull=False).update(
        compiled=None, problems=[], expires_at=None, stamp=uuid.uuid4().hex, updated_at=Now()
    )


def _after_commit(tokens: list[str]) -> None:
    """This process answers the new publication at once; the others within the window."""

    def forget():
        for token in tokens:
            published.forget_token(token)

    transaction.on_commit(forget)
