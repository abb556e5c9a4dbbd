"""Outbound calls: placed from a number (with an ``Idempotency-Key``) and followed."""

from __future__ import annotations

import hashlib
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from ninja import Header, Router

from api import schemas
from api.auth import require_role
from api.errors import ApiError
from api.models import IdempotentRequest
from api.v1.common import ERRORS, invalid_form
from callflows.outbound import services as outbound
from callflows.outbound.forms import OutboundCallForm
from dins.models import OutboundCall, Subscription
from portal.access import get_tenant_object
from portal.formats import money_out, phone_out, time_out
from portal.models import Role

number_calls = Router(tags=["numbers"])


def _outbound_call(call: OutboundCall) -> dict:
    zone = call.tenant.zone
    return {
        "code": call.code,
        "number": call.subscription.code,
        "recipient": phone_out(call.recipient),
        "caller_id": phone_out(call.caller_id_used),
        "message_kind": call.message_kind,
        "status": call.status,
        "duration": call.duration,
        "cost": money_out(call.cost),
        "failure_reason": call.failure_reason,
        "created_at": time_out(call.created_at, zone),
        "ended_at": time_out(call.ended_at, zone),
    }


@number_calls.post(
    "/{uuid:subscription_code}/calls",
    response={201: schemas.OutboundCall, 200: schemas.OutboundCall, **ERRORS},
    url_name="api_outbound_call_create",
)
def outbound_call_create(
    request,
    subscription_code: UUID,
    payload: schemas.OutboundCallIn,
    idempotency_key: str = Header(..., alias="Idempotency-Key", max_length=100),
):
    """Place a call from the number (staff keys). ``Idempotency-Key`` is required: the same
    key answers the same call again (200) and never places a second one."""
    require_role(request, Role.STAFF)
    subscription = get_tenant_object(Subscription, subscription_code)
    body_hash = hashlib.sha256(payload.model_dump_json().encode()).hexdigest()
    earlier = IdempotentRequest.objects.filter(api_key=request.api_key, key=idempotency_key).first()
    if earlier is not None:
        return 200, _replayed(earlier, body_hash)
    data = payload.model_dump()
    data = {
        k: ("" if v is None else str(v) if k in ("audio", "script") else v) for k, v in data.items()
    }
    form = OutboundCallForm(data, subscription=subscription)
    if not form.is_valid():
        raise invalid_form(form)
    cleaned = form.cleaned_data
    try:
        with transaction.atomic():
            claim = IdempotentRequest.objects.create(
                tenant=request.tenant,
                api_key=request.api_key,
                key=idempotency_key,
                operation="outbound_call.create",
                request_hash=body_hash,
            )
            call = outbound.outbound_call_request(
                subscription=subscription,
                recipient=cleaned["recipient"],
                message_kind=cleaned["message_kind"],
                audio=cleaned.get("audio"),
                script=cleaned.get("script"),
                text=cleaned.get("text", ""),
                tts_lang=cleaned.get("tts_lang", ""),
                local_caller_id=cleaned.get("local_caller_id", False),
                by=request.user,
                request=request,
            )
            claim.object_code = str(call.code)
            claim.save(update_fields=["object_code", "updated_at"])
    except IntegrityError:
        # The same key, sent concurrently: the other request placed the call.
        earlier = IdempotentRequest.objects.get(api_key=request.api_key, key=idempotency_key)
        return 200, _replayed(earlier, body_hash)
    except outbound.OutboundLimitReached as error:
        raise ApiError(429, "call_limit", str(error)) from None
    return 201, _outbound_call(call)


def _replayed(earlier: IdempotentRequest, body_hash: str) -> dict:
    if earlier.request_hash != body_hash:
        raise ApiError(
            422,
            "idempotency_key_reused",
            _("This Idempotency-Key was used for a different request."),
        )
    call = OutboundCall.objects.select_related("subscription").get(code=earlier.object_code)
    return _outbound_call(call)


router = Router(tags=["outbound calls"])


@router.get(
    "/{uuid:outboundcall_code}",
    response={200: schemas.OutboundCall, **ERRORS},
    url_name="api_outbound_call_detail",
)
def outbound_call_detail(request, outboundcall_code: UUID):
    """An outbound call and its status (queued → … → answered / no_answer / failed)."""
    queryset = OutboundCall.objects.select_related("subscription")
    return _outbound_call(get_tenant_object(OutboundCall, outboundcall_code, queryset=queryset))
