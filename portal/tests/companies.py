"""A company whose own data is Japanese, with something on every page (for page-wide tests)."""

import datetime
from decimal import Decimal

from django.utils import timezone

from api.models import ApiKey, WebhookDelivery, WebhookEndpoint
from callflows.calllog.rollup import call_days_catch_up
from callflows.flows.services import flow_save
from callflows.models import (
    CallerList,
    CallFlow,
    CallLog,
    ClosedDate,
    FlowVersion,
    OutboundCall,
    TtsScript,
)
from callflows.tests.factories import make_audio, make_audio_upload
from dins.models import SubscriptionStatus, TestCall
from dins.tests.factories import SubscriptionFactory
from portal.models import (
    Alert,
    AlertKind,
    AuditEvent,
    Invitation,
    Membership,
    NotificationSetting,
    Role,
)
from portal.scoping import tenant_scope


def japanese_clinic(personas) -> dict:
    """Tenant A as a Japanese clinic: numbers, a full flow, library, calls, alerts, history.

    Returns one object of each kind that has pages, by model name (for URLs).
    """
    tenant = personas.tenant_a
    tenant.name = "さくら歯科"
    tenant.save()
    for user, name in [
        (personas.owner_a, "院長"),
        (personas.admin_a, "事務長"),
        (personas.staff_a, "受付"),
        (personas.viewer_a, "見学"),
        (personas.both, "兼務"),
    ]:
        user.first_name = name
        user.save()
    now = timezone.now()
    number = SubscriptionFactory(tenant=tenant, din="815011112222", label="受付")
    trial = SubscriptionFactory(
        tenant=tenant,
        din="815033334444",
        is_trial=True,
        carrier_accepted_at=now,
        trial_deadline=now + datetime.timedelta(hours=24),
        release_at=now + datetime.timedelta(hours=23, minutes=30),
    )
    released = SubscriptionFactory(
        tenant=tenant,
        din="815055556666",
        status=SubscriptionStatus.RELEASED,
        is_trial=True,
        carrier_accepted_at=now - datetime.timedelta(hours=5),
        trial_deadline=now + datetime.timedelta(hours=19),
        release_at=now + datetime.timedelta(hours=18),
        released_at=now - datetime.timedelta(hours=1),
    )
    audio = make_audio(tenant, label="営業時間の挨拶")
    with tenant_scope(tenant):
        script = TtsScript.objects.create(
            tenant=tenant, name="時間外のご案内", language="ja", text="本日の受付は終了しました。"
        )
        vip = CallerList.objects.create(tenant=tenant, name="VIP", numbers=["+819012345678"])
        ClosedDate.objects.create(
            tenant=tenant,
            date=datetime.date(2026, 12, 29),
            end_date=datetime.date(2027, 1, 3),
            note="年末年始",
        )
        document = {
            "rules": [
                {
                    "label": "VIP",
                    "when": {"type": "caller_list", "list": str(vip.code)},
                    "then": {"type": "transfer", "number": "+81312345678"},
                },
                {
                    "label": "非通知",
                    "when": {"type": "anonymous"},
                    "then": {"type": "say", "script": str(script.code)},
                },
                {"label": "", "when": {"type": "holiday"}, "then": {"type": "voicemail"}},
                {
                    "label": "昼休み",
                    "when": {
                        "type": "hours",
                        "weekdays": [0, 1, 2, 3, 4],
                        "start": "12:00",
                        "end": "13:00",
                    },
                    "then": {
                        "type": "voicemail",
                        "greeting": {"type": "say", "script": str(script.code)},
                    },
                },
                {
                    "label": "診療時間",
                    "when": {
                        "type": "hours",
                        "weekdays": [0, 1, 2, 3, 4, 5],
                        "start": "09:00",
                        "end": "18:00",
                    },
                    "then": {"type": "playback", "audio": str(audio.code)},
                },
            ],
            "default": {"type": "voicemail", "greeting": None},
        }
        flow_save(subscription=number, document=document, by=personas.owner_a)
        flow_save(
            subscription=number,
            document={**document, "rules": document["rules"][1:]},
            by=personas.owner_a,
            note="VIPを外す",
        )
        flow = CallFlow.objects.get(subscription=number)
        for index, (rule, command, source, caller) in enumerate(
            [
                ("default", "voicemail", "flow", ""),
                ("override", 'say ja "休業中です"', "override", "819012345678"),
                ("fallback", "voicemail", "fallback", "819000001111"),
                ("#3", "voicemail", "flow", "819000002222"),
                ("VIP", "transfer +81312345678", "flow", "819012345678"),
                (
                    "診療時間",
                    f"playback http://testserver/media/audio/{audio.public_id}.mp3",
                    "stale",
                    "815000003333",
                ),
            ]
        ):
            row = {
                "tenant_id": tenant.pk,
                "subscription_id": number.pk,
                "at": now - datetime.timedelta(minutes=index),
                "caller": caller,
                "recipient": number.din,
                "rule": rule,
                "command": command,
                "source": source,
                "latency_us": 1200,
                "flow_version": flow.version,
            }
            CallLog.objects.create(**row)
        OutboundCall.objects.create(
            tenant=tenant,
            subscription=number,
            recipient="+819012345678",
            caller_id_used=number.e164,
            caller_sent=number.e164,
            local_caller_id=True,
            message_kind=OutboundCall.MessageKind.SCRIPT,
            script=script,
            message_label=script.name,
            tts_text=script.text,
            tts_lang="ja",
            status=OutboundCall.Status.ANSWERED,
            estimated_minute_cost=Decimal("15"),
            duration=65,
            cost=Decimal("30"),
            placed_by=personas.owner_a,
        )
        for kind, subscription, context in [
            (AlertKind.TRIAL_REMINDER, trial, {"number": trial.e164, "minutes": 60}),
            (AlertKind.TRIAL_RELEASED, released, {"number": released.e164, "saved": "617.5"}),
            (AlertKind.ACTION_URL_FALLBACK, number, {"number": number.e164, "calls": 2}),
            (AlertKind.CARRIER_CREDENTIALS, None, {"operation": "subscribe"}),
        ]:
            Alert.objects.create(
                tenant=tenant,
                kind=kind,
                number_id=subscription.pk if subscription else None,
                number_code=subscription.code if subscription else None,
                dedup_key=f"{kind}:{subscription.pk if subscription else '-'}",
                context=context,
            )
        AuditEvent.objects.create(
            tenant=tenant,
            actor=None,
            actor_label="system",
            action="subscription.activate",
            object_type="subscription",
            object_code=str(trial.code),
            object_repr=str(trial),
            after={"trial": True, "accepted_at": now.isoformat()},
        )
        TestCall.objects.create(
            tenant=tenant,
            subscription=number,
            caller="+819012345678",
            status=TestCall.Status.DONE,
            transcript={
                "caller": "+819012345678",
                "recipient": number.e164,
                "outcome": "transferred",
                "transferred_to": "+81312345678",
                "steps": [
                    {"kind": "request", "detail": "GET", "ok": True},
                    {"kind": "answer", "detail": "transfer +81312345678", "ok": True},
                    {"kind": "transfer", "detail": "to external number", "ok": True},
                ],
                "billed_seconds": 60,
            },
            text="Incoming call from +819012345678",
            requested_by=personas.owner_a,
        )
        Invitation.objects.create(
            tenant=tenant,
            email="uketsuke@example.com",
            role=Role.STAFF,
            token_hash="0" * 64,
            invited_by=personas.owner_a,
            expires_at=now + datetime.timedelta(days=7),
        )
    with tenant_scope(tenant):
        ApiKey.objects.create(
            tenant=tenant,
            name="会計システム",
            role="viewer",
            prefix="0123456789",
            secret_hash="0" * 64,
            created_by=personas.owner_a,
        )
        endpoint = WebhookEndpoint.objects.create(
            tenant=tenant,
            url="https://hooks.example.jp/din",
            secret="whsec_test",
            events=["call.answered"],
        )
        WebhookDelivery.objects.create(
            tenant=tenant,
            endpoint=endpoint,
            event="call.answered",
            body="{}",
            attempts=1,
            last_status_code=500,
        )
    call_days_catch_up(settle_seconds=0)  # the calls counted, as the worker's task does
    upload = make_audio_upload(tenant, label="留守番の挨拶", user=personas.owner_a)
    objects = {
        "alert": _first_open_alert(tenant),
        "apikey": _first(tenant, ApiKey),
        "webhookendpoint": endpoint,
        "audiofile": audio,
        "callerlist": vip,
        "subscription": number,
        "closeddate": _first(tenant, ClosedDate),
        "membership": _membership(tenant, personas.staff_a),
        "invitation": _first(tenant, Invitation),
        "outboundcall": _first(tenant, OutboundCall),
        "tenant": tenant,
        "ttsscript": script,
    }
    with tenant_scope(tenant):
        objects["notificationsetting"], _created = NotificationSetting.objects.get_or_create(
            tenant=tenant
        )
    every_audit_action(tenant, objects, personas.owner_a)
    every_alert_kind(tenant, number)
    extra_urls = every_failure_reason(tenant, personas, number)
    return {
        "extra_urls": extra_urls,
        "audioupload": upload,
        "apikey": _first(tenant, ApiKey),
        "webhookendpoint": endpoint,
        "subscription": number,
        "trial": trial,
        "audiofile": audio,
        "ttsscript": script,
        "callerlist": vip,
        "closeddate": _first(tenant, ClosedDate),
        "flowversion": _first(tenant, FlowVersion),
        "membership": _membership(tenant, personas.staff_a),
        "invitation": _first(tenant, Invitation),
        "alert": _first_open_alert(tenant),
        "outboundcall": _first(tenant, OutboundCall),
        "testcall": _first(tenant, TestCall),
    }


# One event of every action the code records, with the values it records (the calls of
# ``audit_record`` in the services), for the pages that show the audit log.
AUDIT_SAMPLES = {
    "alert.acknowledge": ("alert", None, None),
    "api_key.create": (
        "apikey",
        None,
        {"name": "会計システム", "role": "viewer", "prefix": "0123456789"},
    ),
    "api_key.revoke": ("apikey", None, None),
    "webhook.create": (
        "webhookendpoint",
        None,
        {"url": "https://hooks.example.jp/din", "events": ["call.answered", "trial.released"]},
    ),
    "webhook.enable": ("webhookendpoint", None, None),
    "webhook.disable": ("webhookendpoint", None, None),
    "webhook.delete": ("webhookendpoint", {"url": "https://hooks.example.jp/din"}, None),
    "audio.create": (
        "audiofile",
        None,
        {
            "label": "営業時間の挨拶",
            "file": "ボイスメモ.m4a",
            "size_bytes": 25078,
            "duration_seconds": 6.3,
        },
    ),
    "audio.update": ("audiofile", {"label": "挨拶"}, {"label": "営業時間の挨拶"}),
    "audio.delete": ("audiofile", {"label": "古い挨拶", "file": "old.mp3"}, None),
    "callerlist.create": ("callerlist", None, {"name": "VIP", "numbers": ["+819012345678"]}),
    "callerlist.update": (
        "callerlist",
        {"name": "VIP", "numbers": []},
        {"name": "VIP", "numbers": ["+819012345678"]},
    ),
    "callerlist.delete": ("callerlist", {"name": "迷惑電話", "numbers": ["+815000001111"]}, None),
    "callflow.save": (
        "subscription",
        {"rules": [], "default": {"type": "voicemail"}},
        {"rules": []},
    ),
    "callflow.override": (
        "subscription",
        None,
        {
            "action": {"type": "voicemail", "greeting": {"type": "say", "script": "-"}},
            "until": "2026-12-01T14:00:00+00:00",
        },
    ),
    "callflow.override_end": ("subscription", None, {"action": None, "until": None}),
    "closeddate.create": (
        "closeddate",
        None,
        {"date": "2026-12-29", "end": "2027-01-03", "note": "年末年始"},
    ),
    "closeddate.delete": ("closeddate", {"date": "2026-08-13", "note": "お盆"}, None),
    "invitation.accept": ("membership", None, {"role": "staff"}),
    "invitation.create": ("invitation", None, {"email": "uketsuke@example.com", "role": "staff"}),
    "invitation.revoke": ("invitation", None, None),
    "membership.create": ("membership", None, {"role": "owner"}),
    "membership.remove": ("membership", {"email": "old@example.com", "role": "viewer"}, None),
    "membership.role_change": ("membership", {"role": "staff"}, {"role": "viewer"}),
    "notification_setting.update": (
        "notificationsetting",
        {"notify_staff": False, "language": ""},
        {"notify_staff": True, "language": "ja", "extra_addresses": ["desk@example.jp"]},
    ),
    "outbound_call.request": (
        "outboundcall",
        None,
        {
            "recipient": "+819012345678",
            "caller_id": "+815011112222",
            "local_caller_id": True,
            "message": "script",
        },
    ),
    "outbound_call.fail": ("outboundcall", None, {"reason": "Injected sandbox fault: HTTP 400."}),
    "outbound_call.settle": (
        "outboundcall",
        None,
        {"status": "answered", "callid": "c-0001", "source": "poll"},
    ),
    "outbound_call.unknown": (
        "outboundcall",
        None,
        {"why": "the worker stopped while placing the call"},
    ),
    "subscription.request": ("subscription", None, {"din": "815011112222", "trial": True}),
    "subscription.activate": (
        "subscription",
        None,
        {"trial": True, "accepted_at": "2026-12-01T01:00:00.123456+00:00"},
    ),
    "subscription.fail": (
        "subscription",
        None,
        {"reason": "The DIN is not available for subscription.", "cause": "carrier"},
    ),
    "subscription.unknown": ("subscription", None, {"why": "Read timed out. (read timeout=10)"}),
    "subscription.keep": ("subscription", None, None),
    "subscription.release_request": ("subscription", {"status": "active"}, {"status": "releasing"}),
    "subscription.release": (
        "subscription",
        {"status": "releasing"},
        {"status": "released", "automatic": True},
    ),
    "subscription.rotate_token": ("subscription", None, None),
    "subscription.update": (
        "subscription",
        {"label": "", "description": ""},
        {"label": "受付", "description": "代表番号"},
    ),
    "subscription.test_call": ("subscription", None, {"caller": "+819012345678"}),
    "subscription.carrier_missing": ("subscription", None, None),
    "subscription.recover": (
        "subscription",
        None,
        {"why": "the carrier holds the number this attempt asked for"},
    ),
    "tenant.update": (
        "tenant",
        {"timezone": "Asia/Tokyo", "language": "en", "allow_premium_destinations": False},
        {"timezone": "Asia/Seoul", "language": "ja", "allow_premium_destinations": True},
    ),
    "ttsscript.create": ("ttsscript", None, {"name": "案内", "language": "en", "text": "Hello."}),
    "ttsscript.update": ("ttsscript", {"language": "en"}, {"language": "ja"}),
    "ttsscript.delete": ("ttsscript", {"name": "古い案内", "language": "ja", "text": "…"}, None),
    "subscription.request.retry": (
        "subscription",
        None,
        {"din": "815011112222", "retry": True},
    ),
}


def every_audit_action(tenant, objects: dict, actor) -> int:
    """One audit event of each action of ``AUDIT_SAMPLES``, about ``objects`` of the company."""
    with tenant_scope(tenant):
        for action, (object_type, before, after) in AUDIT_SAMPLES.items():
            subject = objects[object_type]
            AuditEvent.objects.create(
                tenant=tenant,
                actor=actor,
                actor_label=actor.email,
                action=action.removesuffix(".retry"),
                object_type=object_type,
                object_code=str(getattr(subject, "code", "")),
                object_repr=str(subject)[:200],
                before=before,
                after=after,
            )
    return len(AUDIT_SAMPLES)


ALERT_CONTEXTS = {
    AlertKind.TRIAL_REMINDER: {"minutes_before": 60, "hours_before": 1},
    AlertKind.TRIAL_RELEASED: {"number": "+815033334444", "saved": "617.5"},
    AlertKind.SUBSCRIPTION_FAILED: {
        "operation": "subscribe",
        "reason": "The DIN is not available for subscription.",
        "cause": "carrier",
    },
    AlertKind.RELEASE_FAILED: {"reason": "HTTP 500: Internal Server Error"},
    AlertKind.TRIAL_OVERDUE: {},
    AlertKind.ACTION_URL_FALLBACK: {"calls": 2},
    AlertKind.CARRIER_CREDENTIALS: {"operation": "subscribe", "error": "HTTP 401 Unauthorized"},
    AlertKind.WEBHOOK_DISABLED: {"url": "https://hooks.example.jp/din", "failures": 10},
}


def every_alert_kind(tenant, subscription) -> list:
    """One alert of every kind (and a failed subscribe whose cause was the task queue), some
    acknowledged, one closed by itself, one whose e-mail failed."""
    made = []
    with tenant_scope(tenant):
        for index, kind in enumerate(AlertKind):
            number = None if kind == AlertKind.WEBHOOK_DISABLED else subscription
            made.append(
                Alert.objects.create(
                    tenant=tenant,
                    kind=kind,
                    number_id=number.pk if number else None,
                    number_code=number.code if number else None,
                    dedup_key=f"every:{kind}",
                    context=ALERT_CONTEXTS[kind],
                    acknowledged_at=timezone.now() if index % 2 else None,
                )
            )
        made.append(
            Alert.objects.create(
                tenant=tenant,
                kind=AlertKind.SUBSCRIPTION_FAILED,
                number_id=subscription.pk,
                number_code=subscription.code,
                dedup_key="every:queue",
                context={"operation": "subscribe", "reason": "", "cause": "queue"},
                acknowledged_at=timezone.now(),
                resolution="subscribed",
                email_status="failed",
                email_attempts=3,
                email_last_error="SMTPServerDisconnected: Connection unexpectedly closed",
            )
        )
    return made


def every_failure_reason(tenant, personas, number) -> list[str]:
    """A failed subscription, outbound call, test call and recording of every reason the code
    stores, made by the code that stores them where it can run here; the pages to see them."""
    from django.urls import reverse
    from django.utils import translation

    from callflows.models import AudioUpload
    from callflows.outbound import follow
    from callflows.outbound import services as outbound
    from dins.carrier_words import CARRIER_PROBLEMS
    from dins.subscriptions.subscribe import CREDENTIALS_REJECTED, QUEUE_UNREACHABLE

    urls = []
    for reason in (
        QUEUE_UNREACHABLE,
        CREDENTIALS_REJECTED,
        "The DIN is not available for subscription.",
    ):
        failed = SubscriptionFactory(
            tenant=tenant, status=SubscriptionStatus.FAILED, failure_reason=reason
        )
        urls.append(reverse("number_detail", args=[failed.code]))
    releasing = SubscriptionFactory(
        tenant=tenant,
        status=SubscriptionStatus.RELEASING,
        release_error="HTTPSConnectionPool(host='api.xoxzo.com', port=443): Read timed out.",
    )
    urls.append(reverse("number_detail", args=[releasing.code]))

    def queued_call(**extra):
        with tenant_scope(tenant):
            return OutboundCall.objects.create(
                tenant=tenant,
                subscription=number,
                recipient="+819012345678",
                caller_id_used="",
                caller_sent="+10000000000",
                message_kind=OutboundCall.MessageKind.TEXT,
                tts_text="テスト",
                tts_lang="ja",
                status=OutboundCall.Status.QUEUED,
                estimated_minute_cost=Decimal("10"),
                placed_by=personas.owner_a,
                **extra,
            )

    with translation.override(tenant.language), tenant_scope(tenant):
        outbound.place_call_given_up(
            sender=None, task_name=outbound.PLACE_CALL_TASK, kwargs={"call_id": queued_call().pk}
        )
        outbound._worker_failed(queued_call(), RuntimeError("broken template"))
        outbound.outbound_call_give_up(
            call_id=queued_call().pk,
            reason="HTTPSConnectionPool(host='api.xoxzo.com', port=443): Max retries exceeded",
        )
        for trouble in (f"{OutboundCall.TROUBLE_CARRIER}Read timed out.", ""):
            call = queued_call(trouble=trouble)
            outbound.call_fail(call, reason=follow._stale_reason(call), from_statuses=["queued"])
        for trouble in (
            f"{OutboundCall.TROUBLE_WORKER}stopped while placing the call",
            f"{OutboundCall.TROUBLE_CARRIER}Read timed out.",
        ):
            call = queued_call(trouble=trouble)
            outbound.call_fail(call, reason=follow._unknown_reason(call), from_statuses=["queued"])
        for reason in (
            outbound.carrier_failure(
                str(outbound.CARRIER_REFUSED),
                "caller: This number is not one of your subscribed Japanese numbers.",
            ),
            outbound.carrier_failure(
                str(outbound.CARRIER_ERROR), "Injected sandbox fault: HTTP 400."
            ),
            str(outbound.CREDENTIALS_REJECTED),
            str(follow.NOT_AT_THE_CARRIER),
            "caller: an old row, from before reasons were in the company's words",
        ):
            outbound.call_fail(queued_call(), reason=reason, from_statuses=["queued"])
    # Yesterday's: today's calls count against the company's call limits, which other tests
    # that use this company place calls within.
    with tenant_scope(tenant):
        OutboundCall.objects.filter(status=OutboundCall.Status.FAILED).update(
            created_at=timezone.now() - datetime.timedelta(days=1)
        )
    urls.append(reverse("outbound_call_list", args=[number.code]))

    with tenant_scope(tenant):
        for reason in (
            "queue_unreachable",
            "interrupted",
            *CARRIER_PROBLEMS,
            "recipient: This number is not held by this account.",
        ):
            test_call = TestCall.objects.create(
                tenant=tenant,
                subscription=number,
                caller="",
                status=TestCall.Status.FAILED,
                failure_reason=reason,
                requested_by=personas.owner_a,
            )
            urls.append(reverse("flow_test_call_status", args=[number.code, test_call.code]))
        failures = (
            ("empty", {}),
            ("text", {}),
            ("not_audio_kind", {"kind": "PDF"}),
            ("not_audio", {}),
            ("no_sound", {}),
            ("codec", {"codec": "wmav2"}),
            ("silent", {"seconds": 2.5}),
            ("too_long", {"seconds": 731.2}),
            ("too_big_result", {"size": 11_000_000}),
            ("interrupted", {}),
            ("source_missing", {}),
            ("not_stored", {}),
            ("inspector", {"code": "breaks_off", "count": 3, "offset": 313, "rest": 2000}),
        )
        for index, (code, params) in enumerate(failures, start=1):
            upload = AudioUpload.objects.create(
                tenant=tenant,
                label=f"変換できなかった録音{index}",
                original_name="ボイスメモ.m4a",
                source="audio/uploads/missing.source",
                source_bytes=1000,
                status=AudioUpload.Status.FAILED,
                failure_code=code,
                failure_params=params,
            )
            urls.append(reverse("audio_upload_detail", args=[upload.code]))
    return urls


def _first_open_alert(tenant):
    with tenant_scope(tenant):
        return Alert.objects.filter(acknowledged_at__isnull=True).order_by("id").first()


def _first(tenant, model):
    with tenant_scope(tenant):
        return model.objects.first()


def _membership(tenant, user):
    with tenant_scope(tenant):
        return Membership.objects.get(user=user)
