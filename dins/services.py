"""Numbers: subscribe, keep, release, the trial sweep and reconciliation with the carrier.

Every state change is a compare-and-set ``UPDATE … WHERE status = <from>``; only the caller
whose update changed a row does the follow-up (enqueue, audit, e-mail), so a redelivered task
or a second click finds nothing to do. The carrier is reached only through ``dins.xoxzo``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from dins import xoxzo
from dins.models import LIVE_STATUSES, CarrierOrphan, Status, Subscription, TrialReminder
from dins.signals import numbers_stopped_answering, subscription_answering_changed
from portal.alerts import alert_raise
from portal.models import AlertKind, User
from portal.scoping import current_tenant, scopes_disabled
from portal.services import ServiceError, audit_record

logger = logging.getLogger(__name__)

TRIAL_LENGTH = timedelta(hours=24)


# --- Pure helpers -----------------------------------------------------------------------------


def trial_price_for(monthly_cost: Decimal) -> Decimal:
    ratio = Decimal(str(settings.TRIAL_PRICE_RATIO))
    return (Decimal(monthly_cost) * ratio).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def action_url_for(subscription: Subscription) -> str:
    """The URL the carrier calls for this number: public base + the number's secret token."""
    return f"{settings.PUBLIC_BASE_URL}/a/{subscription.action_token}/"


def trial_times(accepted_at: datetime) -> tuple[datetime, datetime]:
    """(deadline, release_at) of a trial the carrier accepted at ``accepted_at``."""
    deadline = accepted_at + TRIAL_LENGTH
    return deadline, deadline - timedelta(minutes=settings.TRIAL_RELEASE_MARGIN_MINUTES)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def confirmation_matches(subscription: Subscription, typed: str) -> bool:
    """Typed as +81 50…, 81 50…, or nationally as 050…: any spacing or dashes."""
    digits = _digits(typed)
    national = "0" + subscription.din[len(subscription.country_code) :]
    return bool(digits) and digits in (subscription.din, national)


# --- Subscribe --------------------------------------------------------------------------------


def subscription_request(*, din_uid: str, is_trial: bool, by: User, request=None) -> Subscription:
    """Start subscribing to ``din_uid`` for the active tenant; the carrier call runs in a task.

    A second submit for a number this tenant is already getting answers the same row. The
    offer is read again from the carrier so that the stored costs are the carrier's own.
    """
    from dins.tasks import subscribe_number

    tenant = current_tenant()
    existing = Subscription.objects.filter(din_uid=din_uid, status__in=LIVE_STATUSES).first()
    if existing is not None:
        return existing
    try:
        offers = xoxzo.get_client().search_dins()
    except xoxzo.XoxzoAuthError as error:
        _credentials_rejected(error, operation="search")
        raise
    offer = next((d for d in offers if d.din_uid == din_uid), None)
    if offer is None:
        raise ServiceError(_("This number is no longer available. Search again."))
    try:
        with transaction.atomic():
            subscription = Subscription.objects.create(
                tenant=tenant,
                din_uid=offer.din_uid,
                din=offer.din,
                country_code=offer.country_code,
                prefix=offer.prefix,
                monthly_cost=offer.monthly_cost,
                minute_cost=offer.minute_cost,
                trial_price=trial_price_for(offer.monthly_cost),
                is_trial=is_trial,
                requested_by=by,
            )
            audit_record(
                action="subscription.request",
                obj=subscription,
                actor=by,
                request=request,
                after={"din": subscription.din, "trial": is_trial},
            )
            transaction.on_commit(
                lambda: subscribe_number.delay(subscription_id=subscription.pk, tenant_id=tenant.pk)
            )
    except IntegrityError:
        # The partial unique constraint: someone (here or in another company) was faster.
        existing = Subscription.objects.filter(din_uid=din_uid, status__in=LIVE_STATUSES).first()
        if existing is not None:
            return existing
        raise ServiceError(_("Someone else is subscribing to this number right now.")) from None
    return subscription


def _answering_changed(subscription: Subscription) -> None:
    """What this number answers changed (activated, token rotated, released): call flows
    publish it, or withdraw it, in the current transaction (``dins.signals``)."""
    subscription_answering_changed.send(sender=Subscription, subscriptions=[subscription])


def _credentials_rejected(
    error: xoxzo.XoxzoError, *, operation: str, subscription: Subscription | None = None
) -> None:
    """Alert the tenant that the carrier refused the portal's credentials (HTTP 401)."""
    logger.error("carrier credentials rejected during %s: %s", operation, error)
    alert_raise(
        kind=AlertKind.CARRIER_CREDENTIALS,
        subscription=subscription,
        context={"operation": operation, "error": str(error)[:300]},
    )


def _fail(
    subscription: Subscription, reason: str, *, kind: str = AlertKind.SUBSCRIPTION_FAILED
) -> None:
    changed = Subscription.objects.filter(
        pk=subscription.pk, status__in=[Status.PENDING, Status.UNKNOWN]
    ).update(status=Status.FAILED, failure_reason=reason[:300], updated_at=timezone.now())
    if changed:
        audit_record(action="subscription.fail", obj=subscription, after={"reason": reason})
        # One alert for one failure: a 401 says so in the credentials alert's own words.
        alert_raise(
            kind=kind,
            subscription=subscription,
            context={"operation": "subscribe", "reason": reason},
        )


def subscription_subscribe(*, subscription_id: int) -> None:
    """Subscribe at the carrier (the ``dins.subscribe`` task body).

    Transient errors before the request could take effect propagate, and the task retries.
    An unknown outcome is never retried here: the row goes to "unknown" and reconciliation,
    which reads the carrier's list, settles it.
    """
    from dins.tasks import reconcile

    subscription = Subscription.objects.filter(pk=subscription_id, status=Status.PENDING).first()
    if subscription is None:
        return
    try:
        xoxzo.get_client().subscribe(din_uid=subscription.din_uid)
    except xoxzo.XoxzoValidationError as error:
        # Stored in the carrier's own words; pages add the translated context around it.
        _fail(subscription, " ".join(" ".join(m) for m in error.errors.values()) or str(error))
        return
    except xoxzo.XoxzoAuthError:
        _fail(subscription, "credentials rejected (HTTP 401)", kind=AlertKind.CARRIER_CREDENTIALS)
        return
    except xoxzo.XoxzoError as error:
        if not error.outcome_unknown:
            raise
        changed = Subscription.objects.filter(pk=subscription.pk, status=Status.PENDING).update(
            status=Status.UNKNOWN, updated_at=timezone.now()
        )
        if changed:
            audit_record(action="subscription.unknown", obj=subscription, after={"why": str(error)})
            transaction.on_commit(
                lambda: reconcile.apply_async(countdown=settings.SUBSCRIBE_SETTLE_AFTER_SECONDS)
            )
        return
    _activate(subscription, accepted_at=timezone.now())


def _activate(subscription: Subscription, *, accepted_at: datetime) -> bool:
    from dins.tasks import push_action_url

    values = {"status": Status.ACTIVE, "carrier_accepted_at": accepted_at, "failure_reason": ""}
    if subscription.is_trial:
        values["trial_deadline"], values["release_at"] = trial_times(accepted_at)
    changed = Subscription.objects.filter(
        pk=subscription.pk, status__in=[Status.PENDING, Status.UNKNOWN]
    ).update(updated_at=timezone.now(), **values)
    if changed:
        audit_record(
            action="subscription.activate",
            obj=subscription,
            tenant=subscription.tenant,
            after={"trial": subscription.is_trial, "accepted_at": accepted_at.isoformat()},
        )
        tenant_id = subscription.tenant_id
        transaction.on_commit(
            lambda: push_action_url.delay(subscription_id=subscription.pk, tenant_id=tenant_id)
        )
        _answering_changed(subscription)
    return bool(changed)


def subscription_push_action_url(*, subscription_id: int) -> None:
    """Tell the carrier where this number's calls go (safe to repeat)."""
    subscription = Subscription.objects.filter(pk=subscription_id, status=Status.ACTIVE).first()
    if subscription is None:
        return
    url = action_url_for(subscription)
    try:
        xoxzo.get_client().set_action_url(din_uid=subscription.din_uid, action_url=url)
    except xoxzo.XoxzoNotFound:
        _flag_missing(subscription)
        return
    except xoxzo.XoxzoAuthError as error:
        _credentials_rejected(error, operation="action_url", subscription=subscription)
        raise
    Subscription.objects.filter(pk=subscription.pk).update(action_url_pushed=url)


def subscription_rotate_token(*, subscription: Subscription, request) -> None:
    from dins.models import new_action_token
    from dins.tasks import push_action_url

    subscription.action_token = new_action_token()
    subscription.save(update_fields=["action_token", "updated_at"])
    _answering_changed(subscription)
    audit_record(action="subscription.rotate_token", obj=subscription, request=request)
    if subscription.status == Status.ACTIVE:
        transaction.on_commit(
            lambda: push_action_url.delay(
                subscription_id=subscription.pk, tenant_id=subscription.tenant_id
            )
        )


def subscription_update(*, subscription: Subscription, label: str, description: str, request):
    before = {"label": subscription.label, "description": subscription.description}
    after = {"label": label, "description": description}
    if before == after:
        return
    Subscription.objects.filter(pk=subscription.pk).update(
        label=label, description=description, updated_at=timezone.now()
    )
    subscription.label, subscription.description = label, description
    audit_record(
        action="subscription.update", obj=subscription, request=request, before=before, after=after
    )


# --- Keep and release -------------------------------------------------------------------------


def subscription_keep(*, subscription: Subscription, request) -> None:
    """Turn a running trial into a normal subscription, unless its release already began."""
    changed = Subscription.objects.filter(
        pk=subscription.pk, status=Status.ACTIVE, is_trial=True
    ).update(
        is_trial=False, kept_at=timezone.now(), kept_by=request.user, updated_at=timezone.now()
    )
    subscription.refresh_from_db()
    if changed:
        audit_record(action="subscription.keep", obj=subscription, request=request)
        return
    if subscription.status in (Status.RELEASING, Status.RELEASED):
        raise ServiceError(
            _("Too late to keep this number: its automatic release has already started.")
        )
    if subscription.status == Status.ACTIVE and not subscription.is_trial:
        return  # kept already (a double click)
    raise ServiceError(_("Only an active trial can be kept."))


def subscription_release_request(*, subscription: Subscription, typed_number: str, request):
    """Release a number at the user's request, after they typed it to confirm."""
    from dins.tasks import release_number

    if not confirmation_matches(subscription, typed_number):
        raise ServiceError(
            _("Type the number exactly as shown (%(number)s) to confirm the release.")
            % {"number": subscription.e164}
        )
    now = timezone.now()
    changed = Subscription.objects.filter(pk=subscription.pk, status=Status.ACTIVE).update(
        status=Status.RELEASING,
        release_claimed_at=now,
        release_requested_by=request.user,
        updated_at=now,
    )
    subscription.refresh_from_db()
    if not changed:
        raise ServiceError(
            _("This number cannot be released now (status: %(status)s).")
            % {"status": subscription.get_status_display()}
        )
    audit_record(
        action="subscription.release_request",
        obj=subscription,
        request=request,
        before={"status": Status.ACTIVE},
        after={"status": Status.RELEASING},
    )
    _answering_changed(subscription)
    transaction.on_commit(
        lambda: release_number.delay(
            subscription_id=subscription.pk, tenant_id=subscription.tenant_id
        )
    )


def subscription_release(*, subscription_id: int) -> bool:
    """Delete the number at the carrier (the ``dins.release`` task body); 404 means done.

    Transient carrier errors propagate so the task retries with backoff; the sweep re-drives
    the release after its lease if the task gives up, until the number is released.
    """
    from dins.tasks import TRANSIENT_CARRIER_ERRORS

    subscription = Subscription.objects.filter(pk=subscription_id, status=Status.RELEASING).first()
    if subscription is None:
        return False
    now = timezone.now()
    Subscription.objects.filter(pk=subscription.pk).update(
        release_attempts=F("release_attempts") + 1, release_claimed_at=now
    )
    try:
        xoxzo.get_client().unsubscribe(din_uid=subscription.din_uid)
    except xoxzo.XoxzoNotFound:
        pass  # released already (an earlier attempt's answer was lost, or by hand)
    except xoxzo.XoxzoError as error:
        Subscription.objects.filter(pk=subscription.pk).update(release_error=str(error)[:300])
        # Transient errors are retried quietly (the overdue alert covers a carrier that stays
        # down); anything else will not go away by retrying, so people are told now.
        if isinstance(error, xoxzo.XoxzoAuthError):
            _credentials_rejected(error, operation="release", subscription=subscription)
        elif not isinstance(error, TRANSIENT_CARRIER_ERRORS):
            alert_raise(
                kind=AlertKind.RELEASE_FAILED,
                subscription=subscription,
                context={"reason": str(error)[:300]},
            )
        raise
    changed = Subscription.objects.filter(pk=subscription.pk, status=Status.RELEASING).update(
        status=Status.RELEASED, released_at=timezone.now(), release_error="", updated_at=now
    )
    if not changed:
        return False
    automatic = subscription.is_trial and subscription.release_requested_by_id is None
    audit_record(
        action="subscription.release",
        obj=subscription,
        actor=None if automatic else subscription.release_requested_by,
        tenant=subscription.tenant,
        before={"status": Status.RELEASING},
        after={"status": Status.RELEASED, "automatic": automatic},
    )
    if automatic:
        alert_raise(
            kind=AlertKind.TRIAL_RELEASED,
            subscription=subscription,
            context={"saved": str(subscription.monthly_cost - subscription.trial_price)},
        )
    return True


# --- The trial sweep --------------------------------------------------------------------------


@dataclass
class SweepResult:
    claimed: list[int] = field(default_factory=list)
    redriven: list[int] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)
    reminders: list[tuple[int, int]] = field(default_factory=list)


def trial_sweep(*, now: datetime | None = None) -> SweepResult:
    """Claim due trials and enqueue one release each; re-drive stuck releases; remind; alert.

    Cross-tenant by nature. The due trials are found through the partial index
    ``subscription_trial_due`` and claimed with one UPDATE, so the work grows with the number
    of due trials, not with the number of subscriptions. Downtime needs no special case: the
    next run sees every overdue row.
    """
    from dins.tasks import release_number

    now = now or timezone.now()
    result = SweepResult()
    with scopes_disabled(), transaction.atomic():
        if not _sweep_lock():
            return result  # another sweep is running; the next minute catches up
        due = list(
            Subscription.objects.filter(status=Status.ACTIVE, is_trial=True, release_at__lte=now)
            .select_for_update(skip_locked=True)
            .values_list("id", "tenant_id")
        )
        if due:
            Subscription.objects.filter(
                pk__in=[pk for pk, _tenant in due], status=Status.ACTIVE, is_trial=True
            ).update(status=Status.RELEASING, release_claimed_at=now, updated_at=now)
        result.claimed = [pk for pk, _tenant in due]
        if result.claimed:
            # Claimed numbers stop answering now; call flows withdraw them in this transaction.
            numbers_stopped_answering.send(
                sender=Subscription,
                tokens=list(
                    Subscription.objects.filter(pk__in=result.claimed).values_list(
                        "action_token", flat=True
                    )
                ),
            )

        lease_expired = now - timedelta(minutes=settings.RELEASE_LEASE_MINUTES)
        stuck = list(
            Subscription.objects.filter(
                status=Status.RELEASING, release_claimed_at__lt=lease_expired
            )
            .select_for_update(skip_locked=True)
            .values_list("id", "tenant_id")
        )
        if stuck:
            Subscription.objects.filter(pk__in=[pk for pk, _t in stuck]).update(
                release_claimed_at=now
            )
        result.redriven = [pk for pk, _tenant in stuck]

        for pk, tenant_id in due + stuck:
            transaction.on_commit(
                lambda pk=pk, tenant_id=tenant_id: release_number.delay(
                    subscription_id=pk, tenant_id=tenant_id
                )
            )
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
            status=Status.RELEASING,
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
            status=Status.ACTIVE,
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


# --- Reconciliation ---------------------------------------------------------------------------


@dataclass
class ReconcileResult:
    activated: list[int] = field(default_factory=list)
    resubscribed: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    repushed: list[int] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)


def _flag_missing(subscription: Subscription) -> bool:
    changed = Subscription.objects.filter(
        pk=subscription.pk, status=Status.ACTIVE, carrier_missing_since__isnull=True
    ).update(carrier_missing_since=timezone.now())
    if changed:
        audit_record(
            action="subscription.carrier_missing", obj=subscription, tenant=subscription.tenant
        )
    return bool(changed)


def subscriptions_reconcile(*, now: datetime | None = None) -> ReconcileResult:
    """Compare the carrier's list with ours and settle every difference.

    Pending or unknown numbers the carrier holds become active; unknown ones it does not hold
    (after a grace period) are subscribed again — safe, because we just saw they are absent;
    active ones it lost are flagged; a wrong action URL is pushed again; numbers nobody here
    owns are listed for operators.
    """
    from dins.tasks import push_action_url, subscribe_number

    now = now or timezone.now()
    carrier = {item.din_uid: item for item in xoxzo.get_client().list_subscriptions()}
    result = ReconcileResult()
    settle_before = now - timedelta(seconds=settings.SUBSCRIBE_SETTLE_AFTER_SECONDS)
    # A pending row older than any task could run (time limit) lost its task.
    abandoned_before = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT * 3)
    with scopes_disabled():
        live = list(Subscription.objects.filter(status__in=LIVE_STATUSES).select_related("tenant"))
        for subscription in live:
            held = carrier.get(subscription.din_uid)
            status = subscription.status
            if status in (Status.PENDING, Status.UNKNOWN) and held is not None:
                accepted = held.subscribed_at or now
                if _activate(subscription, accepted_at=min(accepted, now)):
                    result.activated.append(subscription.pk)
            elif (status == Status.UNKNOWN and subscription.updated_at <= settle_before) or (
                status == Status.PENDING and subscription.updated_at <= abandoned_before
            ):
                if Subscription.objects.filter(pk=subscription.pk, status=status).update(
                    status=Status.PENDING, updated_at=now
                ):
                    result.resubscribed.append(subscription.pk)
                    transaction.on_commit(
                        lambda s=subscription: subscribe_number.delay(
                            subscription_id=s.pk, tenant_id=s.tenant_id
                        )
                    )
            elif status == Status.ACTIVE and held is None:
                if _flag_missing(subscription):
                    result.missing.append(subscription.pk)
            elif status == Status.ACTIVE:
                if subscription.carrier_missing_since is not None:
                    Subscription.objects.filter(pk=subscription.pk).update(
                        carrier_missing_since=None
                    )
                if held.action_url != action_url_for(subscription):
                    result.repushed.append(subscription.pk)
                    transaction.on_commit(
                        lambda s=subscription: push_action_url.delay(
                            subscription_id=s.pk, tenant_id=s.tenant_id
                        )
                    )
        owned = {s.din_uid for s in live}
        orphans = {uid: item for uid, item in carrier.items() if uid not in owned}
        for uid, item in orphans.items():
            CarrierOrphan.objects.update_or_create(
                din_uid=uid, defaults={"din": item.din, "action_url": item.action_url}
            )
        CarrierOrphan.objects.exclude(din_uid__in=list(orphans)).delete()
        result.orphans = sorted(orphans)
    return result
