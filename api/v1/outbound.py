"""Outbound calls: placed from a number (with an ``Idempotency-Key``) and followed."""

from __future__ import annotations

from uuid import UUID

from ninja import Header, Router

from api import schemas
from api.auth import require_role
from api.errors import ApiError
from api.idempotency import IdempotencyKeyReused, idempotent_write
from api.v1.common import ERRORS, invalid_form
from callflows.models import OutboundCall
from callflows.outbound import services as outbound
from callflows.outbound.forms import OutboundCallForm
from dins.models import Subscription
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
    data = {
        name: "" if value is None else str(value) if name in ("audio", "script") else value
        for name, value in payload.model_dump().items()
    }

    def place() -> str:
        # Checked only when the key is new: a replay answers the call placed, even if its MP3
        # was deleted since.
        form = OutboundCallForm(data, subscription=subscription)
        if not form.is_valid():
            raise invalid_form(form)
        call = outbound.outbound_call_request(
            subscription=subscription, order=form.order(), by=request.user, request=request
        )
        return str(call.code)

    try:
        placed, code = idempotent_write(
            tenant=request.tenant,
            api_key=request.api_key,
            key=idempotency_key,
            operation="outbound_call.create",
            body=payload.model_dump_json(),
            write=place,
        )
    except IdempotencyKeyReused as error:
        raise ApiError(422, "idempotency_key_reused", str(error)) from None
    except outbound.OutboundLimitReached as error:
        raise ApiError(429, "call_limit", str(error)) from None
    call = OutboundCall.objects.select_related("subscription").get(code=code)
    return (201 if placed else 200), _outbound_call(call)


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
