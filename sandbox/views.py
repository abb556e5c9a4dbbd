"""The sandbox carrier's interfaces: Xoxzo's REST API (JSON) and the operators' account page.

REST views parse the form or query, call one service or selector and render JSON in Xoxzo's
shapes (sandbox.serializers); ``sandbox.auth.xoxzo_api`` does authentication and error answers.
"""

import logging
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from sandbox import accounts, calls, errors, faults, incoming_calls, selectors
from sandbox import subscriptions as carrier_numbers
from sandbox.auth import xoxzo_api
from sandbox.forms import FaultForm, SimulatedCallForm
from sandbox.serializers import call_data, din_data, subscription_data

logger = logging.getLogger(__name__)

SEARCH_PARAMETERS = ("country", "prefix")
# Not Xoxzo's: the portal's test-call mark, added to the action URL's query.
TEST_CALL_PARAM = "din_test"


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
        subscription = carrier_numbers.sandbox_subscription_create(
            account=account, din_uid=request.POST.get("din_uid", "").strip()
        )
        return JsonResponse(subscription_data(subscription), status=201)
    items = selectors.sandbox_subscription_list(account=account)
    return JsonResponse([subscription_data(item) for item in items], safe=False)


@xoxzo_api("POST", "DELETE")
def subscription_detail(request, din_uid: str):
    account = request.sandbox_account
    if request.method == "DELETE":
        subscription = carrier_numbers.sandbox_subscription_release(
            account=account, din_uid=din_uid
        )
        return JsonResponse(subscription_data(subscription), status=200)
    subscription = carrier_numbers.sandbox_subscription_set_action_url(
        account=account, din_uid=din_uid, action_url=request.POST.get("action_url")
    )
    return JsonResponse(subscription_data(subscription), status=200)


@xoxzo_api("POST")
def playback_create(request):
    call = calls.sandbox_call_start(account=request.sandbox_account, params=request.POST)
    return JsonResponse([{"callid": str(call.callid)}], safe=False, status=201)


@xoxzo_api("GET")
def call_detail(request, callid: str):
    call = selectors.sandbox_call_get(account=request.sandbox_account, callid=callid)
    if call is None:
        return JsonResponse({"detail": "Not found."}, status=404)
    return JsonResponse(call_data(call))


@xoxzo_api("POST")
def internal_test_call(request):
    """Not Xoxzo's: ring one of the account's numbers now, for the portal's "Test call" button.

    Answers 200 with the transcript for every call, failed ones included, and never 500: an
    error of the sandbox itself becomes a failed transcript (``call_id`` null when even
    recording the call failed).
    """
    form = SimulatedCallForm(request.POST)
    if not form.is_valid():
        return JsonResponse(
            {field: list(errors) for field, errors in form.errors.items()}, status=400
        )
    to, caller = form.cleaned_data["to"], form.cleaned_data["from"]
    mark = form.cleaned_data.get("mark")
    try:
        call, transcript = incoming_calls.sandbox_incoming_call(
            to=to,
            caller=caller,
            account=request.sandbox_account,
            extra_params={TEST_CALL_PARAM: mark} if mark else None,
        )
        call_id = str(call.call_id)
    except Exception as error:
        logger.exception("sandbox test call to %s could not be recorded", to)
        transcript = incoming_calls.failed_transcript(
            to=to, caller=caller, reason=f"sandbox error: {type(error).__name__}"
        )
        call_id = None
    return JsonResponse(
        {"call_id": call_id, "transcript": transcript.as_dict(), "text": transcript.format_text()}
    )


# --- The operators' page ------------------------------------------------------------------------


@require_GET
def healthz(request):
    """Liveness of the sandbox's server (the launcher waits for it): its tables answer."""
    carrier_numbers.sandbox_inventory_ensure()
    return HttpResponse("ok", content_type="text/plain")


def operator_required(view):
    """Platform operators (superusers) only; anonymous visitors are sent to sign in."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url=reverse("sandbox:login"))
        if not request.user.is_superuser:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _account_page(request, *, fault_form: FaultForm | None = None, status: int = 200):
    account = accounts.sandbox_account_get_or_create(sid=settings.XOXZO_SID)
    context = {
        "account": account,
        "ledger": selectors.sandbox_ledger_list(account=account),
        "subscriptions": selectors.sandbox_subscription_list(
            account=account, include_released=True
        ),
        "calls": selectors.sandbox_call_list(account=account),
        "incoming_calls": selectors.sandbox_incoming_call_list(account=account),
        "voicemail_records": selectors.sandbox_voicemail_list(account=account),
        "faults": selectors.sandbox_fault_list(),
        "fault_form": fault_form or FaultForm(),
    }
    return render(request, "sandbox/account.html", context, status=status)


@require_GET
@operator_required
def account_overview(request):
    """The sandbox account the portal uses: money, numbers, calls, voicemail and faults."""
    return _account_page(request)


@require_POST
@operator_required
def account_fault_add(request):
    form = FaultForm(request.POST)
    if form.is_valid():
        try:
            faults.sandbox_fault_add(**form.cleaned_data)
        except errors.SandboxValidationError as error:
            for field, field_errors in error.errors.items():
                for message in field_errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            messages.success(request, _("Fault added."))
            return redirect("sandbox:account")
    return _account_page(request, fault_form=form, status=400)


@require_POST
@operator_required
def account_faults_clear(request):
    cleared = faults.sandbox_faults_clear()
    message = ngettext("%(count)d fault cleared.", "%(count)d faults cleared.", cleared)
    messages.success(request, message % {"count": cleared})
    return redirect("sandbox:account")


@require_GET
@operator_required
def account_voicemail_audio(request, code):
    voicemail = selectors.sandbox_voicemail_get(code=code)
    if voicemail is None:
        raise Http404
    response = HttpResponse(bytes(voicemail.recording), content_type=voicemail.content_type)
    response["Content-Disposition"] = f'inline; filename="voicemail-{voicemail.code}.wav"'
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- Error pages: the sandbox's own (its server has no portal pages to link to) ---------------


def _error_page(request, status: int, title: str, text: str):
    return render(request, "sandbox/error.html", {"title": title, "text": text}, status=status)


def error_bad_request(request, exception=None):
    return _error_page(request, 400, _("Bad request"), _("The request could not be understood."))


def error_forbidden(request, exception=None):
    return _error_page(
        request, 403, _("Not allowed"), _("This page is for the sandbox's operators only.")
    )


def error_not_found(request, exception=None):
    return _error_page(request, 404, _("Page not found"), _("There is nothing here."))


def error_server(request):
    return _error_page(
        request, 500, _("Server error"), _("The sandbox carrier failed to answer this request.")
    )
