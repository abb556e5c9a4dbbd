"""Numbers: the company's numbers, keep and release."""

from __future__ import annotations

from uuid import UUID

from django.utils.translation import gettext as _
from ninja import Query, Router

from api import schemas
from api.auth import require_role
from api.errors import ApiError
from api.v1.common import ERRORS, invalid_field, invalid_form
from dins import selectors
from dins.carrier_words import carrier_problem
from dins.forms import ReleaseForm, SearchForm
from dins.models import Subscription
from dins.subscriptions.release import subscription_release_request
from dins.subscriptions.request import subscription_keep, subscription_request
from dins.xoxzo import XoxzoError, XoxzoValidationError, error_kind
from portal.access import get_tenant_object
from portal.formats import money_out, phone_out, time_out
from portal.models import Role
from portal.paging import BadCursor, keyset_page

router = Router(tags=["numbers"])
# The routes that ask the carrier while the program waits (XOXZO_PAGE_BUDGET_SECONDS at most,
# as a page): a carrier that fails or does not answer is a 503 with a code, never a 500.
CARRIER_ERRORS = {**ERRORS, 503: schemas.Error}
MAX_OFFERS = 200
MAX_NUMBERS = 200


def carrier_error(error: XoxzoError) -> ApiError:
    """503 ``carrier_<kind>`` (credentials, rate_limited, unavailable, unexpected, refused)."""
    kind = "refused" if isinstance(error, XoxzoValidationError) else error_kind(error)
    return ApiError(503, f"carrier_{kind}", carrier_problem(error))


def number_out(subscription: Subscription) -> dict:
    zone = subscription.tenant.zone
    return {
        "code": subscription.code,
        "e164": phone_out(subscription.e164),
        "label": subscription.label,
        "description": subscription.description,
        "status": subscription.status,
        "is_trial": subscription.is_trial,
        "trial_deadline": time_out(subscription.trial_deadline, zone),
        "release_at": time_out(subscription.release_at, zone),
        "monthly_cost": money_out(subscription.monthly_cost),
        "minute_cost": money_out(subscription.minute_cost),
        "trial_price": money_out(subscription.trial_price),
        "next_renewal": time_out(selectors.next_renewal(subscription), zone),
        "created_at": time_out(subscription.created_at, zone),
    }


@router.get("", response={200: schemas.NumberList, **ERRORS}, url_name="api_number_list")
def number_list(
    request,
    cursor: str = Query("", max_length=200, description="next_cursor of the previous page"),
    limit: int = Query(50, ge=1, le=MAX_NUMBERS),
):
    """The company's numbers, newest first (failed attempts older than a week left out); pages
    by cursor."""
    try:
        page = keyset_page(
            selectors.subscription_list().select_related("tenant"),  # each time in its zone
            field="created_at",
            size=limit,
            after=cursor,
        )
    except BadCursor:
        raise invalid_field("cursor", _("Not a cursor this API gave.")) from None
    return {"items": [number_out(s) for s in page.items], "next_cursor": page.next_cursor}


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


@router.get(
    "/offers", response={200: schemas.OfferList, **CARRIER_ERRORS}, url_name="api_offer_list"
)
def offer_list(
    request,
    kind: str = Query("", max_length=20, description="jp-050, jp-0120 or jp-0800"),
    digits: str = Query("", max_length=30, description="An area code (03), a start, or digits"),
    limit: int = Query(50, ge=1, le=MAX_OFFERS),
):
    """Numbers free to subscribe to, searched as on the number search page."""
    form = SearchForm({"kind": kind, "digits": digits})
    if not form.is_valid():
        raise invalid_form(form)
    try:
        offers = selectors.din_search(choice=form.choice(), digits=form.typed_digits())
    except XoxzoError as error:
        raise carrier_error(error) from None
    return {
        "items": [
            {
                "din_uid": offer.din.din_uid,
                "e164": phone_out(offer.e164),
                "country_code": offer.din.country_code,
                "prefix": offer.din.prefix,
                "monthly_cost": money_out(offer.din.monthly_cost),
                "minute_cost": money_out(offer.din.minute_cost),
                "trial_price": money_out(offer.trial_price),
            }
            for offer in offers[:limit]
        ],
        "count": len(offers),
    }


@router.post("", response={202: schemas.Number, **CARRIER_ERRORS}, url_name="api_number_subscribe")
def number_subscribe(request, payload: schemas.SubscribeIn):
    """Subscribe to an offer (admin keys): 202 with the pending number, bought by a task.

    Follow it with GET /numbers/{code} (pending → active, or failed with the carrier's
    reason). Asking again for a number the company is already getting answers the same row.
    """
    require_role(request, Role.ADMIN)
    try:
        subscription = subscription_request(
            din_uid=payload.din_uid,
            is_trial=payload.mode == "trial",
            by=request.user,
            request=request,
        )
    except XoxzoError as error:
        raise carrier_error(error) from None
    return 202, number_out(subscription)
