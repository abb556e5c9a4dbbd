"""Pages of the numbers app: search, subscribe, the number page, keep and release."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from dins import costs, pricing, selectors
from dins.carrier_words import carrier_problem
from dins.forms import NumberEditForm, NumberListForm, ReleaseForm, SearchForm
from dins.models import Subscription, SubscriptionStatus
from dins.subscriptions.release import subscription_release_request
from dins.subscriptions.request import (
    subscription_keep,
    subscription_request,
    subscription_rotate_token,
    subscription_update,
)
from dins.subscriptions.subscribe import CREDENTIALS_REJECTED, QUEUE_UNREACHABLE
from dins.xoxzo import XoxzoError
from portal import phone
from portal.access import get_tenant_object, member_required
from portal.models import Role
from portal.outbox import QUEUED_MESSAGE
from portal.pages import page_context
from portal.paging import BadCursor, keyset_page
from portal.services import ServiceError

SEARCH_PAGE_SIZE = 20
NUMBERS_PAGE_SIZE = 50
COSTS_PAGE_SIZE = 50


@require_GET
@member_required
def number_list(request):
    form = NumberListForm(request.GET or None)
    numbers = selectors.subscription_list(query=form.query())
    bad_cursor = False
    try:
        page = keyset_page(
            numbers,
            field="created_at",
            size=NUMBERS_PAGE_SIZE,
            after=request.GET.get("after", ""),
            before=request.GET.get("before", ""),
        )
    except BadCursor:
        bad_cursor = True
        page = keyset_page(numbers, field="created_at", size=NUMBERS_PAGE_SIZE)
    query = request.GET.copy()
    for name in ("after", "before", "page"):
        query.pop(name, None)
    context = {
        "form": form,
        "page": page,
        "rows": [(s, selectors.next_renewal(s)) for s in page.items],
        "bad_cursor": bad_cursor,
        "query": query.urlencode(),
        "searched": bool(form.query()),
    }
    return render(request, "dins/list.html", context)


@require_GET
@member_required
def number_search(request):
    form = SearchForm(request.GET or None)
    offers, problem = [], None
    if request.GET:
        try:
            offers = selectors.din_search(choice=form.choice(), digits=form.typed_digits())
        except XoxzoError as error:
            problem = carrier_problem(error)
    page = Paginator(offers, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    template = (
        "dins/_search_results.html" if request.headers.get("HX-Request") else "dins/search.html"
    )
    return render(
        request,
        template,
        {
            "form": form,
            "page": page,
            "problem": problem,
            "searched": bool(request.GET),
            "query": query.urlencode(),
            "can_subscribe": request.membership.has_role(Role.ADMIN),
        },
    )


@member_required(role=Role.ADMIN)
def number_subscribe(request):
    """GET: what subscribing costs, to confirm; POST: subscribe."""
    if request.method == "GET":
        return _subscribe_confirmation(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    back = reverse("number_search") + "?" + request.POST.get("query", "")
    try:
        subscription = subscription_request(
            din_uid=request.POST.get("din_uid", ""),
            is_trial=request.POST.get("mode") == "trial",
            by=request.user,
            request=request,
        )
    except ServiceError as error:
        messages.error(request, str(error))
        return redirect(back)
    except XoxzoError as error:
        messages.error(request, carrier_problem(error))
        return redirect(back)
    if selectors.subscription_queued(subscription):
        messages.info(request, str(QUEUED_MESSAGE))
    return redirect("number_detail", subscription_code=subscription.code)


def _subscribe_confirmation(request):
    din_uid = request.GET.get("din_uid", "")
    mode = "trial" if request.GET.get("mode") == "trial" else "keep"
    query = request.GET.get("query", "")
    back = reverse("number_search") + ("?" + query if query else "")
    try:
        offer = selectors.din_offer(din_uid) if din_uid else None
    except XoxzoError as error:
        messages.error(request, carrier_problem(error))
        return redirect(back)
    if offer is None:
        messages.error(request, _("This number is no longer available. Search again."))
        return redirect(back)
    context = {"offer": offer, "price": offer.price, "mode": mode, "query": query, "back": back}
    return render(request, "dins/subscribe_confirm.html", context)


def _number_context(request, subscription, **extra):
    return {
        "subscription": subscription,
        "renewal": selectors.next_renewal(subscription),
        "can_manage": request.membership.has_role(Role.ADMIN),
        "can_edit": request.membership.has_role(Role.STAFF),
        "price": pricing.subscription_price(subscription),
        "saved": subscription.monthly_cost - subscription.trial_price,
        "following": subscription.status
        in (
            SubscriptionStatus.PENDING,
            SubscriptionStatus.SUBSCRIBING,
            SubscriptionStatus.RELEASING,
        ),
        "queued": selectors.subscription_queued(subscription),
        "failed_in_queue": subscription.failure_reason == QUEUE_UNREACHABLE,
        "failed_credentials": subscription.failure_reason == CREDENTIALS_REJECTED,
        # the day/night switch (callflows)
        **page_context("number", request=request, subscription=subscription),
        **extra,
    }


@require_GET
@member_required
def number_detail(request, subscription_code):
    subscription = get_tenant_object(Subscription, subscription_code)
    if request.headers.get("HX-Request"):
        response = render(request, "dins/_status.html", _number_context(request, subscription))
        if request.GET.get("was", subscription.status) != subscription.status:
            # The state moved on (e.g. pending → active): reload so every control fits it.
            response["HX-Refresh"] = "true"
        return response
    form = NumberEditForm(
        initial={"label": subscription.label, "description": subscription.description}
    )
    context = _number_context(
        request,
        subscription,
        form=form,
        # recent calls (callflows)
        **page_context("number_detail", request=request, subscription=subscription),
    )
    return render(request, "dins/detail.html", context)


@require_GET
@member_required
def number_costs(request):
    """What the company's numbers and calls cost this month: totals, numbers one page at a
    time."""
    bad_cursor = False
    try:
        page = keyset_page(
            costs.number_costs_list(),
            field="din",
            descending=False,
            size=COSTS_PAGE_SIZE,
            after=request.GET.get("after", ""),
            before=request.GET.get("before", ""),
        )
    except BadCursor:
        bad_cursor = True
        page = keyset_page(
            costs.number_costs_list(), field="din", descending=False, size=COSTS_PAGE_SIZE
        )
    context = {
        "costs": costs.tenant_costs(request.tenant),
        "page": page,
        "numbers": [costs.number_cost(s) for s in page.items],
        "bad_cursor": bad_cursor,
        "query": "",
        "oldest_first": True,
    }
    return render(request, "dins/costs.html", context)


@require_POST
@member_required(role=Role.STAFF)
def number_edit(request, subscription_code):
    subscription = get_tenant_object(Subscription, subscription_code)
    form = NumberEditForm(request.POST)
    if not form.is_valid():
        context = _number_context(request, subscription, form=form)
        return render(request, "dins/detail.html", context, status=400)
    subscription_update(subscription=subscription, request=request, **form.cleaned_data)
    messages.success(request, _("Saved."))
    return redirect("number_detail", subscription_code=subscription.code)


@member_required(role=Role.ADMIN)
def number_keep(request, subscription_code):
    """GET: what keeping the number costs, to confirm; POST: keep it."""
    subscription = get_tenant_object(Subscription, subscription_code)
    if request.method == "GET":
        return render(request, "dins/keep_confirm.html", _number_context(request, subscription))
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        subscription_keep(subscription=subscription, request=request)
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("You keep %(number)s. It is no longer a trial.")
            % {"number": phone.display(subscription.e164)},
        )
    return redirect("number_detail", subscription_code=subscription.code)


@require_POST
@member_required(role=Role.ADMIN)
def number_rotate_token(request, subscription_code):
    subscription = get_tenant_object(Subscription, subscription_code)
    subscription_rotate_token(subscription=subscription, request=request)
    messages.success(request, _("A new action URL was issued and is being sent to the carrier."))
    return redirect("number_detail", subscription_code=subscription.code)


@member_required(role=Role.ADMIN)
def number_release(request, subscription_code):
    subscription = get_tenant_object(Subscription, subscription_code)
    form = ReleaseForm(request.POST or None, subscription=subscription)
    if request.method == "POST" and form.is_valid():
        try:
            subscription_release_request(
                subscription=subscription,
                typed_number=form.cleaned_data["typed_number"],
                request=request,
            )
        except ServiceError as error:
            form.add_error("typed_number", str(error))
        else:
            if selectors.subscription_queued(subscription):
                messages.info(request, str(QUEUED_MESSAGE))
            else:
                messages.success(
                    request,
                    _("Releasing %(number)s.") % {"number": phone.display(subscription.e164)},
                )
            return redirect("number_detail", subscription_code=subscription.code)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "dins/release.html",
        _number_context(
            request,
            subscription,
            form=form,
            impact={
                **selectors.release_impact(subscription),
                # calls in the last 30 days, the flow that goes with the number (callflows)
                **page_context("number_release", request=request, subscription=subscription),
            },
        ),
        status=status,
    )
