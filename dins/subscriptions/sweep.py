"""The trial sweep: release due trials, re-drive stuck releases, remind, alert when late."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from dins.models import Subscription, SubscriptionStatus, TrialReminder
from dins.signals import numbers_stopped_answering
from dins.subscriptions.common import enqueue_releases
from portal.alerts import alert_raise
from portal.arrays import AnyOf
from portal.models import AlertKind
from portal.scoping import scopes_disabled


@dataclass
class SweepResult:
    claimed: list[int] = field(default_factory=list)
    redriven: list[int] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)
    reminders: list[tuple[int, int]] = field(default_factory=list)


def trial_sweep(*, now: datetime | None = None) -> SweepResult:
    """Claim due trials and enqueue one release each; re-drive stuck releases; remind; alert.

    Cross-tenant by nature. The due trials are found through the partial index
    ``subscription_trial_due`` and claimed with one UPDATE, their flows withdrawn with one
    more, their release tasks saved with one INSERT and marked handed over with one UPDATE: a
    few queries however many are due, and none for the subscriptions that are not. Downtime
    needs no special case: the next run sees every overdue row.
    """
    now = now or timezone.now()
    result = SweepResult()
    with scopes_disabled(), transaction.atomic():
        if not _sweep_lock():
            return result  # another sweep is running; the next minute catches up
        found = list(
            Subscription.objects.filter(
                status=SubscriptionStatus.ACTIVE, is_trial=True, release_at__lte=now
            )
            .select_for_update(skip_locked=True)
            .order_by("pk")  # rows locked in one order by every claimer
            .values_list("id", "tenant_id", "action_token")
        )
        due = [(pk, tenant_id) for pk, tenant_id, _token in found]
        if due:
            Subscription.objects.filter(
                AnyOf(F("pk"), [pk for pk, _tenant in due]),
                status=SubscriptionStatus.ACTIVE,
                is_trial=True,
            ).update(status=SubscriptionStatus.RELEASING, release_claimed_at=now, updated_at=now)
        result.claimed = [pk for pk, _tenant in due]
        if result.claimed:
            # Claimed numbers stop answering now; call flows withdraw them in this transaction.
            numbers_stopped_answering.send(
                sender=Subscription, tokens=[token for _pk, _tenant, token in found]
            )

        lease_expired = now - timedelta(minutes=settings.RELEASE_LEASE_MINUTES)
        stuck = list(
            Subscription.objects.filter(
                status=SubscriptionStatus.RELEASING, release_claimed_at__lt=lease_expired
            )
            .select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("id", "tenant_id")
        )
        if stuck:
            Subscription.objects.filter(AnyOf(F("pk"), [pk for pk, _t in stuck])).update(
                release_claimed_at=now
            )
        result.redriven = [pk for pk, _tenant in stuck]

        enqueue_releases(due + stuck)  # one INSERT; handed over after commit, one UPDATE
        result.overdue = _alert_overdue(now)
        result.reminders = _send_reminders(now)
    return result


SWEEP_LOCK_KEY = 0x44494E5357  # "DINSW": one trial sweep at a time


def _sweep_lock() -> bool:
    """Serialise sweeps: a transaction-scoped advisory lock on PostgreSQL.

    SQLite runs write transactions one at a time anyway (IMMEDIATE mode, see settings).
    """
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SWEEP_LOCK_KEY])
        return cursor.fetchone()[0]


def _alert_overdue(now: datetime) -> list[int]:
    """Trials past their deadline and still not released: flag once and alert.

    The claim above already moved every due trial to "releasing", so only releasing rows can
    be overdue; the partial index ``subscription_releasing`` keeps this query small.
    """
    late = list(
        Subscription.objects.filter(
            status=SubscriptionStatus.RELEASING,
            is_trial=True,
            trial_deadline__lte=now,
            overdue_alerted_at__isnull=True,
        ).select_related("tenant")
    )
    if late:
        Subscription.objects.filter(pk__in=[s.pk for s in late]).update(overdue_alerted_at=now)
    for subscription in late:
        alert_raise(kind=AlertKind.TRIAL_OVERDUE, subscription=subscription)
    return [s.pk for s in late]


def _send_reminders(now: datetime) -> list[tuple[int, int]]:
    """Remind the alert recipients before a trial's deadline; each reminder goes once.

    Per reminder point, one query finds running trials inside its window that have no
    reminder row for it yet (a range on the indexed ``release_at``). When several points
    passed at once (the scheduler was down), only the nearest is e-mailed; the earlier ones
    are recorded as passed.
    """
    margin = timedelta(minutes=settings.TRIAL_RELEASE_MARGIN_MINUTES)
    fresh: dict[int, tuple[int, list[int]]] = {}
    for minutes in sorted(settings.TRIAL_REMINDER_MINUTES):
        reminded = TrialReminder.objects.filter(
            subscription_id=OuterRef("pk"), minutes_before=minutes
        )
        rows = Subscription.objects.filter(
            status=SubscriptionStatus.ACTIVE,
            is_trial=True,
            release_at__gt=now,
            release_at__lte=now + timedelta(minutes=minutes) - margin,
        ).exclude(Exists(reminded))
        for pk, tenant_id in rows.values_list("id", "tenant_id"):
            fresh.setdefault(pk, (tenant_id, []))[1].append(minutes)
    if fresh:
        TrialReminder.objects.bulk_create(
            [
                TrialReminder(
                    tenant_id=tenant_id, subscription_id=pk, minutes_before=m, sent_at=now
                )
                for pk, (tenant_id, offsets) in fresh.items()
                for m in offsets
            ],
            ignore_conflicts=True,  # belt and braces: sweeps are serialised by _sweep_lock
        )
    sent = []
    subscriptions = Subscription.objects.select_related("tenant").in_bulk(list(fresh))
    for pk, (_tenant_id, offsets) in fresh.items():
        nearest = min(offsets)
        sent.append((pk, nearest))
        alert_raise(
            kind=AlertKind.TRIAL_REMINDER,
            subscription=subscriptions[pk],
            context={"minutes_before": nearest, "hours_before": nearest // 60},
        )
    return sent
