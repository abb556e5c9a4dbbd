"""A company whose own data is Japanese, with something on every page (for page-wide tests)."""

import datetime
from decimal import Decimal

from django.utils import timezone

from api.models import ApiKey, WebhookDelivery, WebhookEndpoint
from callflows.calllog.rollup import call_days_catch_up
from callflows.flows.services import flow_save
from callflows.models import CallerList, CallFlow, CallLog, ClosedDate, FlowVersion, TtsScript
from callflows.tests.factories import make_audio
from dins.models import OutboundCall, SubscriptionStatus, TestCall
from dins.tests.factories import SubscriptionFactory
from portal.models import Alert, AlertKind, AuditEvent, Invitation, Membership, Role
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
                subscription=subscription,
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
    return {
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
        "alert": _first(tenant, Alert),
        "outboundcall": _first(tenant, OutboundCall),
        "testcall": _first(tenant, TestCall),
    }


def _first(tenant, model):
    with tenant_scope(tenant):
        return model.objects.first()


def _membership(tenant, user):
    with tenant_scope(tenant):
        return Membership.objects.get(user=user)
