"""A number's call flow: read, preview, and the override (the day/night switch)."""

from __future__ import annotations

import json
from typing import Any, cast
from uuid import UUID

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router

from api import schemas
from api.auth import require_role
from api.errors import ApiError
from api.v1.common import ERRORS, invalid_form
from callflows.flows import selectors as flow_selectors
from callflows.flows import services as flow_services
from callflows.flows import switch
from callflows.flows.compiler import DEFAULT_DOCUMENT
from callflows.flows.documents import Action, FlowDocument, Problem
from callflows.flows.forms import PreviewForm
from dins.models import Subscription
from portal.access import get_tenant_object
from portal.formats import phone_out, time_out
from portal.models import Role

router = Router(tags=["numbers"])


def _override_state(subscription: Subscription) -> dict:
    state = switch.override_switch(subscription)
    zone = subscription.tenant.zone
    if state["override"]:
        return {
            "active": True,
            "until": time_out(state["override"]["until"], zone),
            "words": state["override"]["words"],
            "closed_until": None,
        }
    return {
        "active": False,
        "until": None,
        "words": None,
        "closed_until": time_out(state.get("closed_until"), zone),
    }


def _flow(subscription: Subscription) -> dict:
    flow = flow_selectors.flow_for_number(subscription)
    document = flow.document if flow else DEFAULT_DOCUMENT
    not_answering = flow_selectors.not_answering_reason(subscription)
    return {
        "number": subscription.code,
        "version": flow.version if flow else 0,
        "document": document,
        "description": flow_selectors.flow_describe(document),
        "override": _override_state(subscription),
        "answers_calls": not not_answering,
        "not_answering": not_answering or None,
    }


def _ensure_answering(subscription: Subscription) -> None:
    """Released, releasing or failed: nothing about its calls can be asked or changed."""
    not_answering = flow_selectors.not_answering_reason(subscription)
    if not_answering:
        raise ApiError(409, "not_answering", not_answering)


def _posted(document: dict[str, Any]) -> FlowDocument:
    """A document as posted, handed to the services as a flow document: they check its shape
    before reading it (``flow_check`` reports on anything, ``flow_save`` refuses)."""
    return cast(FlowDocument, document)


def _problems(subscription: Subscription, document: dict[str, Any]) -> list[Problem]:
    """What keeps the document from being saved: the compiler's own check, run to the end."""
    return flow_services.flow_check(subscription=subscription, document=_posted(document))


@router.get(
    "/{uuid:subscription_code}/flow",
    response={200: schemas.Flow, **ERRORS},
    url_name="api_flow_detail",
)
def flow_detail(request, subscription_code: UUID):
    """The number's saved call flow, in words too, and its day/night switch."""
    return _flow(get_tenant_object(Subscription, subscription_code))


@router.get(
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
    _ensure_answering(subscription)
    form = PreviewForm({"at": at, "caller": caller})
    if not form.is_valid():
        raise invalid_form(form)
    when, who = form.cleaned_data["at"], form.cleaned_data["caller"]
    answer = flow_selectors.answer_in_words(
        flow_selectors.flow_preview(subscription, at=when, caller=who)
    )
    return {
        "at": time_out(when, subscription.tenant.zone),
        "caller": phone_out(who),
        "rule": answer.rule,
        "words": answer.words,
        "command": answer.command,
        "source": answer.source,
    }


@router.put(
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
    _ensure_answering(subscription)
    if payload.action is not None:
        action: Action = json.loads(payload.action.model_dump_json())
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


@router.delete(
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


@router.put(
    "/{uuid:subscription_code}/flow",
    response={200: schemas.Flow, **ERRORS},
    url_name="api_flow_replace",
)
def flow_replace(request, subscription_code: UUID, payload: schemas.FlowIn):
    """Replace the flow with ``document`` (staff keys): checked as the editor's save checks
    it, stored as a new version in the history, answered by calls within seconds."""
    require_role(request, Role.STAFF)
    subscription = get_tenant_object(Subscription, subscription_code)
    _ensure_answering(subscription)
    problems = _problems(subscription, payload.document)
    if problems:
        raise ApiError(
            422,
            "invalid",
            _("The flow cannot be saved."),
            errors=[{"field": f"document.{p['where']}", "message": p["why"]} for p in problems],
        )
    flow_services.flow_save(
        subscription=subscription,
        document=_posted(payload.document),
        by=request.user,
        request=request,
        note=payload.note,
    )
    return _flow(subscription)


@router.post(
    "/{uuid:subscription_code}/flow/validate",
    response={200: schemas.FlowCheck, **ERRORS},
    url_name="api_flow_validate",
)
def flow_validate(request, subscription_code: UUID, payload: schemas.FlowCheckIn):
    """Check a document as saving would, without saving anything (staff keys, as the
    editor's check): every problem, with where it is."""
    require_role(request, Role.STAFF)
    subscription = get_tenant_object(Subscription, subscription_code)
    problems = _problems(subscription, payload.document)
    return {"valid": not problems, "problems": problems}
