"""The sandbox carrier's interfaces: Xoxzo's REST API (JSON) and the operators' account page.

REST views parse the form or query, call one service or selector and render JSON in Xoxzo's
shapes (sandbox.serializers); ``sandbox.auth.xoxzo_api`` does authentication and error answers.
"""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import render

from sandbox import selectors, services
from sandbox.auth import xoxzo_api
from sandbox.serializers import call_data, din_data, subscription_data

SEARCH_PARAMETERS = ("country", "prefix")


@xoxzo_api("GET")
def din_search(request):
    unknown = sorted(set(request.GET) - set(SEARCH_PARAMETERS))
    if unknown:
        return JsonResponse({name: ["Unknown query parameter."] for name in unknown}, status=400)
    country = request.GET.get("country", "").strip()
    prefix = request.GET.get("prefix", "").strip()
    errors = {}
    if country and not (len(country) == 2 and country.isascii() and country.isalpha()):
        errors["country"] = ["Enter a two-letter ISO country code, e.g. JP."]
    if prefix and not (prefix.isascii() and prefix.isdigit()):
        errors["prefix"] = ["Enter digits only, including the country code, e.g. 8150."]
    if errors:
        return JsonResponse(errors, status=400)
    numbers = selectors.sandbox_din_search(country=country, prefix=prefix)
    return JsonResponse([din_data(din) for din in numbers], safe=False)


@xoxzo_api("GET", "POST")
def subscriptions(request):
    account = request.sandbox_account
    if request.method == "POST":
        subscription = services.sandbox_subscription_create(
            account=account, din_uid=request.POST.get("din_uid", "").strip()
        )
        return JsonResponse(subscription_data(subscription), status=201)
    items = selectors.sandbox_subscription_list(account=account)
    return JsonResponse([subscription_data(item) for item in items], safe=False)


@xoxzo_api("POST", "DELETE")
def subscription_detail(request, din_uid: str):
    account = request.sandbox_account
    if request.method == "DELETE":
        subscription = services.sandbox_subscription_release(account=account, din_uid=din_uid)
        return JsonResponse(subscription_data(subscription), status=200)
    subscription = services.sandbox_subscription_set_action_url(
        account=account, din_uid=din_uid, action_url=request.POST.get("action_url")
    )
    return JsonResponse(subscription_data(subscription), status=200)


@xoxzo_api("POST")
def playback_create(request):
    call = services.sandbox_call_start(account=request.sandbox_account, params=request.POST)
    return JsonResponse([{"callid": str(call.callid)}], safe=False, status=201)


@xoxzo_api("GET")
def call_detail(request, callid: str):
    call = selectors.sandbox_call_get(account=request.sandbox_account, callid=callid)
    if call is None:
        return JsonResponse({"detail": "Not found."}, status=404)
    return JsonResponse(call_data(call))


def account_overview(request):
    """Operators only: the sandbox account the portal uses, its money, numbers and calls."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not request.user.is_superuser:
        raise PermissionDenied
    account = services.sandbox_account_get_or_create(sid=settings.XOXZO_SID)
    context = {
        "account": account,
        "ledger": selectors.sandbox_ledger_list(account=account),
        "subscriptions": selectors.sandbox_subscription_list(
            account=account, include_released=True
        ),
        "calls": selectors.sandbox_call_list(account=account),
        # Filled by the incoming-call simulator (sandbox.incoming) once it records voicemail.
        "voicemail_records": [],
    }
    return render(request, "sandbox/account.html", context)
