"""Outbound calls: the call form, a number's call history and a call's page; the carrier's
callback."""

import logging
import re

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from callflows.outbound import follow
from callflows.outbound import services as outbound
from callflows.outbound.forms import OutboundCallForm
from callflows.outbound.models import OutboundCall
from dins import pricing
from dins.models import Subscription, SubscriptionStatus
from portal import phone
from portal.access import get_tenant_object, member_required
from portal.forms import form_refused
from portal.models import Role
from portal.outbox import QUEUED_MESSAGE
from portal.services import ServiceError

logger = logging.getLogger(__name__)

HISTORY_PAGE_SIZE = 50
# new_callback_token() makes 32 URL-safe characters; anything else is refused before a query.
CALLBACK_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _costs() -> dict:
    rates = pricing.outbound_rates()
    return {"normal_rate": rates.normal, "local_rate": rates.local_caller_id}


@member_required(role=Role.STAFF)
def outbound_call_new(request, subscription_code):
    subscription = get_tenant_object(Subscription, subscription_code)
    form = OutboundCallForm(request.POST or None, subscription=subscription)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                call = outbound.outbound_call_request(
                    subscription=subscription, order=form.order(), by=request.user, request=request
                )
            except outbound.OutboundLimitReached as error:
                form.add_error(None, str(error))
                status = 429
            except ServiceError as error:
                form_refused(form, error)
            else:
                if outbound.outbound_call_queued(call):
                    messages.info(request, str(QUEUED_MESSAGE))
                else:
                    messages.success(
                        request,
                        _("Calling %(number)s…") % {"number": phone.display(call.recipient)},
                    )
                return redirect("outbound_call_list", subscription_code=subscription.code)
    context = {
        "subscription": subscription,
        "form": form,
        "is_active": subscription.status == SubscriptionStatus.ACTIVE,
        "is_japanese": outbound.is_japanese(subscription),
        **_costs(),
    }
    return render(request, "callflows/outbound/new.html", context, status=status)


@require_GET
@member_required
def outbound_call_list(request, subscription_code):
    subscription = get_tenant_object(Subscription, subscription_code)
    calls = OutboundCall.objects.filter(subscription=subscription).select_related("placed_by")
    page = Paginator(calls, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "subscription": subscription,
        "page": page,
        "can_call": request.membership.has_role(Role.STAFF)
        and subscription.status == SubscriptionStatus.ACTIVE,
    }
    return render(request, "callflows/outbound/list.html", context)


@require_GET
@member_required
def outbound_call_detail(request, outboundcall_code):
    call = get_tenant_object(
        OutboundCall,
        outboundcall_code,
        queryset=OutboundCall.objects.select_related("subscription", "placed_by"),
    )
    if request.headers.get("HX-Request") and request.GET.get("row"):
        # The history polls each open row here until its call ends.
        return render(request, "callflows/outbound/_row.html", {"call": call})
    return render(request, "callflows/outbound/detail.html", {"call": call})


@csrf_exempt
@require_POST
def outbound_call_callback(request, token):
    """``POST /c/<token>/`` from the carrier with a call's final status (form-encoded).

    No sign-in: the token is the call's single-purpose secret. 404 for an unknown token (the
    same whether it ever existed or not), 400 for a body that does not fit the call, 200
    otherwise, also for a repeat. Never a 5xx: polling settles whatever fails here.
    """
    if not CALLBACK_TOKEN.fullmatch(token):
        return HttpResponse(b"", status=404, content_type="text/plain")
    try:
        follow.outbound_call_callback(token=token, data=request.POST.dict())
    except OutboundCall.DoesNotExist:
        return HttpResponse(b"", status=404, content_type="text/plain")
    except outbound.CallbackRejected as error:
        logger.warning("outbound callback refused: %s", error)
        return HttpResponse(b"", status=400, content_type="text/plain")
    except Exception:
        logger.exception("outbound callback failed; polling will settle the call")
        return HttpResponse(b"", status=202, content_type="text/plain")
    return HttpResponse(b"", status=200, content_type="text/plain")
