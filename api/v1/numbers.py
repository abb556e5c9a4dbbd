"""Numbers: the company's numbers, keep and release."""

from __future__ import annotations

from uuid import UUID

from ninja import Router

from api import schemas
from api.auth import require_role
from api.v1.common import ERRORS, invalid_form
from dins import selectors
from dins.forms import ReleaseForm
from dins.models import Subscription
from dins.subscriptions.release import subscription_release_request
from dins.subscriptions.request import subscription_keep
from portal.access import get_tenant_object
from portal.models import Role

router = Router(tags=["numbers"])


def number_out(subscription: Subscription) -> dict:
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


@router.get("", response={200: schemas.NumberList, **ERRORS}, url_name="api_number_list")
def number_list(request):
    """The company's numbers, newest first (failed attempts older than a week left out)."""
    return {"items": [number_out(s) for s in selectors.subscription_list()]}


@router.get(
    "/{uuid:subscription_code}",
    response={200: schemas.Number, **ERRORS},
    url_name="api_number_detail",
)
def number_detail(request, subscription_code: UUID):
    return number_out(get_tenant_object(Subscription, subscription_code))


@router.post(
    "/{uuid:subscription_code}/keep",
    response={200: schemas.Number, **ERRORS},
    url_name="api_number_keep",
)
def number_keep(request, subscription_code: UUID):
    """Keep a running trial: it becomes a normal subscription (admin keys)."""
    require_role(request, Role.ADMIN)
    subscription = get_tenant_object(Subscription, subscription_code)
    subscription_keep(subscription=subscription, request=request)
    return number_out(subscription)


@router.post(
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
        raise invalid_form(form)
    subscription_release_request(
        subscription=subscription, typed_number=form.cleaned_data["typed_number"], request=request
    )
    return 202, number_out(subscription)
