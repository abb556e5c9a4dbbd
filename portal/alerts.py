"""Alerts: things a tenant must know about, e-mailed once and listed until acknowledged.

``alert_raise`` is the one way in. It inserts at most one ``Alert`` per kind and number per
hour (the unique ``dedup_key`` is the database-level guard, so concurrent workers and
redelivered tasks cannot make a storm) and, on commit, enqueues ``portal.send_alert_email``.
That task records every attempt on the row (status, attempts, last error), so an e-mail that
could not be delivered shows as failed on the alerts page instead of vanishing.

Raised by ``dins.subscriptions`` (trials, subscriptions, releases, carrier credentials) and by
``callflows.edge.call_log.alert_raise_for_fallback_calls`` (calls answered by the fallback).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.addresses import people_url
from portal.emails import TRANSIENT_MAIL_ERRORS, send_templated
from portal.models import (
    Alert,
    AlertKind,
    EmailStatus,
    Membership,
    NotificationSetting,
    NotifyLanguage,
    PlatformAlertKind,
    Role,
    Tenant,
)
from portal.outbox import outbox_enqueue
from portal.pages import page_context
from portal.phone import display
from portal.platform import platform_alert_raise
from portal.scoping import current_tenant, tenant_scope
from portal.services import audit_record

# A number (``dins.models.Subscription``) is passed in by the apps above; this module only
# reads its ``pk``, ``code``, ``tenant`` and ``e164``.
Subscription = Any

DEDUP_WINDOW = timedelta(hours=1)
# The carrier account is shared by all the tenant's numbers: one alert per hour, not per number.
TENANT_WIDE_KINDS = frozenset({AlertKind.CARRIER_CREDENTIALS})
DASHBOARD_ALERTS = 10
RECENT_DAYS = 30


# --- Raising ----------------------------------------------------------------------------------


def alert_dedup_key(*, kind: str, subscription_id: int | None, at: datetime) -> str:
    """``<kind>:<number or "tenant">:<hour>``; equal keys mean the same event."""
    subject = "tenant" if kind in TENANT_WIDE_KINDS or subscription_id is None else subscription_id
    hour = int(at.timestamp()) // int(DEDUP_WINDOW.total_seconds())
    return f"{kind}:{subject}:{hour}"


def alert_raise(
    *,
    kind: str,
    subscription: Subscription | None = None,
    context: dict[str, Any] | None = None,
    tenant: Tenant | None = None,
) -> Alert | None:
    """Record an alert and e-mail it after commit; None when the same one was raised lately.

    The tenant is the subscription's, else ``tenant``, else the active scope's, so callers
    working across tenants (the sweep, the call-log writer) need no scope of their own.
    "Lately" is a sliding hour looked up first; the unique key of the hour bucket then
    settles races between concurrent callers.
    """
    if kind not in AlertKind.values:
        raise ValueError(f"Unknown alert kind {kind!r}.")
    if kind == AlertKind.CARRIER_CREDENTIALS:
        # The credentials are the installation's: operators must fix them, every time.
        platform_alert_raise(
            kind=PlatformAlertKind.CARRIER_CREDENTIALS,
            message="The carrier rejected the portal's credentials (HTTP 401) during "
            f"{(context or {}).get('operation', 'a request')}: update XOXZO_SID / "
            "XOXZO_AUTH_TOKEN.",
        )
    if subscription is not None:
        tenant = subscription.tenant
    tenant = tenant or current_tenant()
    now = timezone.now()
    context = dict(context or {})
    if subscription is not None:
        context.setdefault("number", subscription.e164)
    with tenant_scope(tenant):
        recent = Alert.objects.filter(kind=kind, created_at__gt=now - DEDUP_WINDOW)
        if kind not in TENANT_WIDE_KINDS:
            recent = recent.filter(number_id=subscription.pk if subscription else None)
        if recent.exists():
            return None
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    tenant=tenant,
                    kind=kind,
                    number_id=subscription.pk if subscription else None,
                    number_code=subscription.code if subscription else None,
                    dedup_key=alert_dedup_key(
                        kind=kind,
                        subscription_id=subscription.pk if subscription else None,
                        at=now,
                    ),
                    context=context,
                )
                # Saved with the alert: a broker that is down delays the e-mail, never loses it.
                outbox_enqueue(
                    "portal.send_alert_email",
                    kwargs={"tenant_id": tenant.pk, "alert_id": alert.pk},
                )
        except IntegrityError:
            return None  # raised by someone else within the same hour
    return alert


# --- Acknowledging and closing ----------------------------------------------------------------

# Why an alert closed itself (``Alert.resolution``), in words for the pages.
RESOLUTIONS = {
    "subscribed": _("Closed by itself: a later attempt subscribed the number."),
}


def alert_resolve(*, kind: str, subscription: Subscription, resolution: str) -> int:
    """Close the open alerts of ``kind`` about ``subscription``: their cause is gone (e.g. a
    retried subscription went through). ``resolution`` is a key of ``RESOLUTIONS``."""
    now = timezone.now()
    with tenant_scope(subscription.tenant):
        return Alert.objects.filter(
            kind=kind, number_id=subscription.pk, acknowledged_at__isnull=True
        ).update(acknowledged_at=now, resolution=resolution, updated_at=now)


def alert_acknowledge(*, alert: Alert, request) -> bool:
    """Take the alert off the open list; False when someone acknowledged it already."""
    now = timezone.now()
    changed = Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=now, acknowledged_by=request.user, updated_at=now
    )
    if changed:
        audit_record(action="alert.acknowledge", obj=alert, request=request)
    return bool(changed)


# --- Notification settings ------------------------------------------------------------------

NOTIFICATION_FIELDS = (
    "notify_owners",
    "notify_admins",
    "notify_staff",
    "extra_addresses",
    "language",
)


def notification_setting_get() -> NotificationSetting:
    """The active tenant's setting; an unsaved row with the defaults when it has none yet."""
    setting = NotificationSetting.objects.first()
    return setting or NotificationSetting(tenant=current_tenant())


def notification_setting_update(*, request, **values) -> NotificationSetting:
    setting = notification_setting_get()
    before = {field: getattr(setting, field) for field in NOTIFICATION_FIELDS}
    for field, value in values.items():
        if field not in NOTIFICATION_FIELDS:
            raise TypeError(f"Notification field {field!r} cannot be changed here.")
        setattr(setting, field, value)
    after = {field: getattr(setting, field) for field in NOTIFICATION_FIELDS}
    if setting.pk is not None and after == before:
        return setting
    with transaction.atomic():
        setting.save()
        audit_record(
            action="notification_setting.update",
            obj=setting,
            request=request,
            before=before,
            after=after,
        )
    return setting


def alert_recipients() -> list[tuple[str, str]]:
    """(e-mail, language) of everyone the active tenant's alerts go to, each address once."""
    setting = notification_setting_get()
    tenant = current_tenant()
    roles = [
        role
        for role, wanted in (
            (Role.OWNER, setting.notify_owners),
            (Role.ADMIN, setting.notify_admins),
            (Role.STAFF, setting.notify_staff),
        )
        if wanted
    ]
    members = (
        Membership.objects.filter(role__in=roles, user__is_active=True)
        .order_by("user__email")
        .values_list("user__email", "user__language")
    )
    recipients: dict[str, str] = {}
    for email, language in members:
        recipients.setdefault(email.lower(), language)
    for email in setting.extra_address_list:
        recipients.setdefault(email, tenant.language)  # no account: the company's language
    if setting.language != NotifyLanguage.MEMBER:
        return [(email, setting.language) for email in recipients]
    return list(recipients.items())


# --- Rendering and sending --------------------------------------------------------------------


def alert_template(kind: str) -> str:
    return f"emails/alert_{kind}"


def alert_message_context(alert: Alert) -> dict[str, Any]:
    """What the page title and the e-mail of ``alert`` are rendered from (an e-mail adds what
    the apps above contribute, ``alert_email_context``)."""
    context = {
        **alert.context,
        # Numbers as people read them (050-1234-5678); the stored context keeps E.164.
        **({"number": display(alert.context["number"])} if alert.context.get("number") else {}),
        "alert": alert,
        "tenant": alert.tenant,
        "alerts_url": people_url("alert_list"),
    }
    if alert.number_code is not None:
        context["number_url"] = people_url("number_detail", alert.number_code)
    if alert.kind == AlertKind.WEBHOOK_DISABLED:
        context["settings_url"] = people_url("api_settings")
    return context


def alert_title(alert: Alert) -> str:
    """The alert's one-line summary in the active language (its e-mail subject)."""
    text = render_to_string(
        f"{alert_template(alert.kind)}_subject.txt", alert_message_context(alert)
    )
    return " ".join(text.split())


def alert_email_send(*, alert_id: int, final_attempt: bool = True) -> int:
    """E-mail the alert to each recipient not served yet; returns how many were sent now.

    Every attempt is recorded on the row. A failure propagates (the task retries transient
    ones); the row says "failed" once no retry will follow, with the error, for the pages.
    """
    alert = Alert.objects.select_related("tenant").filter(pk=alert_id).first()
    if alert is None or alert.email_status == EmailStatus.SENT:
        return 0
    Alert.objects.filter(pk=alert.pk).update(email_attempts=F("email_attempts") + 1)
    served = list(alert.email_sent_to)
    recipients = [(email, lang) for email, lang in alert_recipients() if email not in served]
    if not recipients and not served:
        _record_email(alert, served, status=EmailStatus.FAILED, error="No recipients configured.")
        return 0
    # The number as it is now (its trial's deadline, when it is released), from the numbers
    # app: ``page_context("alert_email")``.
    context = {**alert_message_context(alert), **page_context("alert_email", alert=alert)}
    try:
        for email, language in recipients:
            send_templated(
                template=alert_template(alert.kind), to=[email], language=language, context=context
            )
            served.append(email)
    except Exception as error:
        retried = isinstance(error, TRANSIENT_MAIL_ERRORS) and not final_attempt
        _record_email(
            alert,
            served,
            status=EmailStatus.PENDING if retried else EmailStatus.FAILED,
            error=f"{type(error).__name__}: {error}",
        )
        raise
    _record_email(alert, served, status=EmailStatus.SENT, error="")
    return len(recipients)


def _record_email(alert: Alert, served: list[str], *, status: str, error: str) -> None:
    now = timezone.now()
    Alert.objects.filter(pk=alert.pk).update(
        email_status=status,
        email_sent_to=served,
        email_last_error=error[:300],
        emailed_at=now if status == EmailStatus.SENT else None,
        updated_at=now,
    )


# --- Reading ----------------------------------------------------------------------------------


def alert_open_list() -> QuerySet[Alert]:
    return Alert.objects.filter(acknowledged_at__isnull=True).select_related("tenant")


def alert_recent_list() -> QuerySet[Alert]:
    """Acknowledged alerts of the last ``RECENT_DAYS`` days."""
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    return Alert.objects.filter(
        acknowledged_at__isnull=False, created_at__gte=since
    ).select_related("tenant", "acknowledged_by")


def alerts_for_dashboard() -> dict[str, Any]:
    """The newest open alerts (titled) and how many are open: two queries, however many."""
    alerts = list(alert_open_list()[:DASHBOARD_ALERTS])
    for alert in alerts:
        alert.title = alert_title(alert)  # read by the template
    # Counted every time (the open alerts' partial index), so a page costs the same queries
    # with three open alerts as with three thousand.
    return {"open": alerts, "open_total": alert_open_list().order_by().count()}
