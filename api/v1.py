"""The REST API, version 1: numbers, call flows, the call log, alerts, assets, outbound calls.

Thin like the pages: every endpoint parses its input (the pages' own forms where they exist,
so the same rules refuse the same input), calls the service or selector the page calls, and
renders. Objects are found through ``portal.access.get_tenant_object`` inside the key's
tenant scope (``api.auth.key_scope``): another company's object is 404, as on the pages.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from ninja import Header, NinjaAPI, Query, Router
from ninja.errors import AuthenticationError
from ninja.errors import ValidationError as NinjaValidationError

from api import schemas
from api.auth import ApiKeyAuth, key_scope, require_role
from api.errors import ApiError, error_response, form_errors
from api.models import IdempotentRequest
from callflows.assets import selectors as asset_selectors
from callflows.calllog.selectors import SOURCE_LABELS, call_log_list
from callflows.flows import selectors as flow_selectors
from callflows.flows import services as flow_services
from callflows.flows import switch
from callflows.flows.compiler import DEFAULT_DOCUMENT
from callflows.flows.forms import PreviewForm
from callflows.outbound import services as outbound
from callflows.outbound.forms import OutboundCallForm
from dins import selectors
from dins.forms import ReleaseForm
from dins.models import OutboundCall, Subscription
from dins.subscriptions.release import subscription_release_request
from dins.subscriptions.request import subscription_keep
from portal import alerts
from portal.access import get_tenant_object
from portal.models import Alert, Role
from portal.services import ServiceError

api = NinjaAPI(
    title="DIN Portal API",
    version="1",
    description="A company's numbers, call flows, calls and alerts. Authenticate with "
    "`Authorization: Bearer <key>` (Settings → API). Errors: `{detail, code, errors?}`.",
    auth=ApiKeyAuth(),
    urls_namespace="api-v1",
)
api.add_decorator(key_scope, mode="view")  # around auth and validation too

ERRORS = {
    400: schemas.Error,
    401: schemas.Error,
    403: schemas.Error,
    404: schemas.Error,
    409: schemas.Error,
    422: schemas.Error,
    429: schemas.Error,
}


# --- Errors -----------------------------------------------------------------------------------


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return error_response(exc.status, exc.code, exc.detail, errors=exc.errors)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return error_response(404, "not_found", _("Not found."))


@api.exception_handler(PermissionDenied)
def _forbidden(request, exc):
    return error_response(403, "permission_denied", str(exc) or _("Not allowed."))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return error_response(401, "not_authenticated", _("Send an API key."))


@api.exception_handler(ServiceError)
def _service_error(request, exc):
    return error_response(409, "conflict", str(exc))


@api.exception_handler(NinjaValidationError)
def _invalid(request, exc: NinjaValidationError):
    errors = []
    for error in exc.errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "payload")]
        errors.append({"field": ".".join(location) or None, "message": error.get("msg", "")})
    return error_response(422, "invalid", _("Some input is not valid."), errors=errors)


def _invalid_form(form) -> ApiError:
    return ApiError(422, "invalid", _("Some input is not valid."), errors=form_errors(form))


# --- Numbers ----------------------------------------------------------------------------------

numbers = Router(tags=["numbers"])


def _number(subscription: Subscription) -> dict:
    return {
        "code": subscription.code,
        "number": subscription.e164,
        "label": subscription.label,
        "description": subscription.description,
        "status": subscription.status,
        "is_trial": subscription.is_trial,
        "trial_deadline": subscription.trial_deadline,
        "release_at": subscription.release_at,
        "monthly_cost": str(subscription.monthly_cost),
        "minute_cost": str(subscription.minute_cost),
        "trial_price": str(subscription.trial_price),
        "next_renewal": selectors.next_renewal(subscription),
        "created_at": subscription.created_at,
    }


@numbers.get("", response={200: schemas.NumberList, **ERRORS}, url_name="api_number_list")
def number_list(request):
    """The company's numbers, newest first (failed attempts older than a week left out)."""
    return {"items": [_number(s) for s in selectors.subscription_list()]}


@numbers.get(
    "/{uuid:subscription_code}",
    response={200: schemas.Number, **ERRORS},
    url_name="api_number_detail",
)
def number_detail(request, subscription_code: UUID):
    return _number(get_tenant_object(Subscription, subscription_code))


@numbers.post(
    "/{uuid:subscription_code}/keep",
    response={200: schemas.Number, **ERRORS},
    url_name="api_number_keep",
)
def number_keep(request, subscription_code: UUID):
    """Keep a running trial: it becomes a normal subscription (admin keys)."""
    require_role(request, Role.ADMIN)
    subscription = get_tenant_object(Subscription, subscription_code)
    subscription_keep(subscription=subscription, request=request)
    return _number(subscription)


@numbers.post(
    "/{uuid:subscription_code}/release",
    response={202: schemas.Number, **ERRORS},
    url_name="api_number_release",
)
def number_release(request, subscription_code: UUID, payload: schemas.Release):
    """Release the number; ``typed_number`` must repeat it, as on the page (admin keys)."""
    require_role(request, Role.ADMIN)
    subscription = get_tenant_object(Subscription, subscription_code)
    form = ReleaseForm({"typed_number": payload.typed_number}, subscription=subscription)
    if not form.is_valid():
        raise _invalid_form(form)
    subscription_release_request(
        subscription=subscription, typed_number=form.cleaned_data["typed_number"], request=request
    )
    return 202, _number(subscription)


# --- Call flows -------------------------------------------------------------------------------


def _override_state(subscription: Subscription) -> dict:
    state = switch.override_switch(subscription)
    if state["override"]:
        return {
            "active": True,
            "until": state["override"]["until"],
            "words": state["override"]["words"],
            "closed_until": None,
        }
    return {
        "active": False,
        "until": None,
        "words": None,
        "closed_until": state.get("closed_until"),
    }


@numbers.get(
    "/{uuid:subscription_code}/flow",
    response={200: schemas.Flow, **ERRORS},
    url_name="api_flow_detail",
)
def flow_detail(request, subscription_code: UUID):
    """The number's saved call flow, in words too, and its day/night switch."""
    subscription = get_tenant_object(Subscription, subscription_code)
    flow = flow_selectors.flow_for_number(subscription)
    document = flow.document if flow else DEFAULT_DOCUMENT
    return {
        "number": subscription.code,
        "version": flow.version if flow else 0,
        "document": document,
        "description": flow_selectors.flow_describe(document),
        "override": _override_state(subscription),
    }


@numbers.get(
    "/{uuid:subscription_code}/flow/preview",
    response={200: schemas.Preview, **ERRORS},
    url_name="api_flow_preview",
)
def flow_preview(
    request,
    subscription_code: UUID,
    at: str = Query(..., description="Local date and time, 2026-12-07T12:30"),
    caller: str = Query("", description="The caller as dialled; empty for a withheld number"),
):
    """What a caller hears at a date and time: evaluated like a real call."""
    subscription = get_tenant_object(Subscription, subscription_code)
    form = PreviewForm({"at": at, "caller": caller})
    if not form.is_valid():
        raise _invalid_form(form)
    when, who = form.cleaned_data["at"], form.cleaned_data["caller"]
    answer = flow_selectors.answer_in_words(
        flow_selectors.flow_preview(subscription, at=when, caller=who)
    )
    return {
        "at": when,
        "caller": who,
        "rule": answer.rule,
        "words": answer.words,
        "command": answer.command,
        "source": answer.source,
    }


@numbers.put(
    "/{uuid:subscription_code}/override",
    response={200: schemas.OverrideState, **ERRORS},
    url_name="api_override",
)
def override_set(request, subscription_code: UUID, payload: schemas.OverrideIn):
    """Answer something else until a time, whatever the rules say (staff keys).

    With an empty body this is the one-tap day/night switch: the flow's default (outside hours)
    until the flow next opens.
    """
    require_role(request, Role.STAFF)
    subscription = get_tenant_object(Subscription, subscription_code)
    if payload.action is not None:
        action = json.loads(payload.action.model_dump_json())
    else:
        flow = flow_selectors.flow_for_number(subscription)
        action = (flow.document if flow else DEFAULT_DOCUMENT)["default"]
    until = payload.until
    if until is None:
        compiled = flow_selectors.flow_compiled(subscription)
        until = switch.next_opening(subscription, compiled, now=timezone.now())
    flow_services.flow_set_override(
        subscription=subscription, action=action, until=until, request=request
    )
    return _override_state(subscription)


@numbers.delete(
    "/{uuid:subscription_code}/override",
    response={200: schemas.OverrideState, **ERRORS},
    url_name="api_override_end",
)
def override_end(request, subscription_code: UUID):
    """End the override: the rules answer again (staff keys)."""
    require_role(request, Role.STAFF)
    subscription = get_tenant_object(Subscription, subscription_code)
    flow_services.flow_set_override(
        subscription=subscription, action=None, until=None, request=request
    )
    return _override_state(subscription)


# --- Outbound calls ---------------------------------------------------------------------------


def _outbound_call(call: OutboundCall) -> dict:
    return {
        "code": call.code,
        "number": call.subscription.code,
        "recipient": call.recipient,
        "caller_id": call.caller_id_used,
        "message_kind": call.message_kind,
        "status": call.status,
        "duration": call.duration,
        "cost": None if call.cost is None else str(call.cost),
        "failure_reason": call.failure_reason,
        "created_at": call.created_at,
        "ended_at": call.ended_at,
    }


@numbers.post(
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
        raise _invalid_form(form)
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


outbound_calls = Router(tags=["outbound calls"])


@outbound_calls.get(
    "/{uuid:outboundcall_code}",
    response={200: schemas.OutboundCall, **ERRORS},
    url_name="api_outbound_call_detail",
)
def outbound_call_detail(request, outboundcall_code: UUID):
    """An outbound call and its status (queued → … → answered / no_answer / failed)."""
    queryset = OutboundCall.objects.select_related("subscription")
    return _outbound_call(get_tenant_object(OutboundCall, outboundcall_code, queryset=queryset))


# --- Call log ---------------------------------------------------------------------------------

calls = Router(tags=["call log"])
MAX_PAGE = 200


def _cursor_encode(call) -> str:
    raw = f"{call.at.isoformat()}|{call.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_decode(cursor: str) -> tuple[datetime.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_text, pk_text = raw.split("|")
        at = parse_datetime(at_text)
        if at is None or timezone.is_naive(at):
            raise ValueError(at_text)
        return at, int(pk_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            422,
            "invalid",
            _("Some input is not valid."),
            errors=[{"field": "cursor", "message": _("Not a cursor this API gave.")}],
        ) from None


@calls.get("", response={200: schemas.CallPage, **ERRORS}, url_name="api_call_list")
def call_list(
    request,
    number: UUID | None = Query(None, description="Only this number's calls"),
    since: datetime.date | None = Query(None, description="From this day (company's zone)"),
    until: datetime.date | None = Query(None, description="To this day, included"),
    caller: str = Query("", max_length=30, description="Digits the caller's number contains"),
    anonymous: bool = False,
    rule: str = Query("", max_length=100),
    source: str = Query("", description="flow, override, stale or fallback"),
    cursor: str = Query("", max_length=200, description="next_cursor of the previous page"),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
):
    """Answered calls, newest first, filtered as on the call log page; pages by cursor."""
    if source and source not in SOURCE_LABELS:
        raise ApiError(
            422,
            "invalid",
            _("Some input is not valid."),
            errors=[{"field": "source", "message": _("Unknown source.")}],
        )
    subscription = get_tenant_object(Subscription, number) if number else None
    digits = "".join(ch for ch in caller if ch.isdigit())
    rows = call_log_list(
        subscription=subscription,
        since=since,
        until=until,
        caller=digits,
        anonymous=anonymous,
        rule=rule,
        source=source,
    )
    if cursor:
        at, pk = _cursor_decode(cursor)
        rows = rows.filter(at__lte=at).exclude(at=at, pk__gte=pk)
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "items": [
            {
                "code": call.code,
                "number": call.subscription.code,
                "at": call.at,
                "caller": call.caller,
                "recipient": call.recipient,
                "rule": call.rule,
                "command": call.command,
                "source": call.source,
                "latency_ms": call.latency_ms,
            }
            for call in page
        ],
        "next_cursor": _cursor_encode(page[-1]) if more else None,
    }


# --- Alerts -----------------------------------------------------------------------------------

alert_routes = Router(tags=["alerts"])


def _alert(alert: Alert) -> dict:
    return {
        "code": alert.code,
        "kind": alert.kind,
        "title": alerts.alert_title(alert),
        "number": alert.subscription.code if alert.subscription else None,
        "context": alert.context,
        "created_at": alert.created_at,
        "acknowledged_at": alert.acknowledged_at,
    }


@alert_routes.get("", response={200: schemas.AlertList, **ERRORS}, url_name="api_alert_list")
def alert_list(request, open: bool = Query(True, description="Only alerts not acknowledged")):
    """Open alerts (``open=false``: the last 30 days', as on the alerts page)."""
    found = alerts.alert_open_list() if open else alerts.alert_recent_list()[:200]
    return {"items": [_alert(alert) for alert in found.select_related("subscription", "tenant")]}


@alert_routes.post(
    "/{uuid:alert_code}/acknowledge",
    response={200: schemas.Acknowledged, **ERRORS},
    url_name="api_alert_acknowledge",
)
def alert_acknowledge(request, alert_code: UUID):
    """Take the alert off the open list (staff keys); ``changed`` is false the second time."""
    require_role(request, Role.STAFF)
    alert = get_tenant_object(Alert, alert_code)
    changed = alerts.alert_acknowledge(alert=alert, request=request)
    alert.refresh_from_db(fields=["acknowledged_at"])
    return {"code": alert.code, "acknowledged_at": alert.acknowledged_at, "changed": changed}


# --- Assets -----------------------------------------------------------------------------------

assets = Router(tags=["assets"])


@assets.get("", response={200: schemas.Assets, **ERRORS}, url_name="api_asset_list")
def asset_list(request):
    """The library: MP3s, TTS scripts and caller lists, with the live numbers using each."""

    def users(row) -> list:
        return [s.code for s in row.used_by]

    return {
        "audio": [
            {
                "code": row.asset.code,
                "label": row.asset.label,
                "duration_seconds": row.asset.duration_seconds,
                "size_bytes": row.asset.size_bytes,
                "used_by": users(row),
            }
            for row in asset_selectors.audio_list()
        ],
        "scripts": [
            {
                "code": row.asset.code,
                "name": row.asset.name,
                "language": row.asset.language,
                "text": row.asset.text,
                "used_by": users(row),
            }
            for row in asset_selectors.script_list()
        ],
        "caller_lists": [
            {
                "code": row.asset.code,
                "name": row.asset.name,
                "count": len(row.asset.numbers),
                "used_by": users(row),
            }
            for row in asset_selectors.caller_list_list()
        ],
    }


api.add_router("/numbers", numbers)
api.add_router("/outbound-calls", outbound_calls)
api.add_router("/calls", calls)
api.add_router("/alerts", alert_routes)
api.add_router("/assets", assets)
