"""Settings → API: the company's API keys and webhooks (owners and admins manage them)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_POST

from api import keys, webhooks
from api.forms import ApiKeyForm, WebhookForm
from api.models import ApiKey, WebhookEndpoint
from portal.access import get_tenant_object, member_required
from portal.models import Role
from portal.services import ServiceError


def _key_form(request, data=None) -> ApiKeyForm:
    holders = keys.api_key_holders(by=request.membership) if request.membership else []
    return ApiKeyForm(data, holders=holders)


def _page(request, *, key_form=None, webhook_form=None, new_token=None, status=200):
    return render(
        request,
        "api/settings.html",
        {
            "api_keys": keys.api_key_list(),
            "webhooks": webhooks.webhook_list(),
            "key_form": key_form or _key_form(request),
            "webhook_form": webhook_form or WebhookForm(),
            "new_token": new_token,
            "can_manage": request.membership.has_role(Role.ADMIN),
        },
        status=status,
    )


# A key just created waits in the session for the page the creation redirects to, which
# shows it once (POST/redirect/GET: reloading that page creates nothing and shows nothing).
NEW_KEY_SESSION = "api_new_key"


@require_GET
@member_required
def api_settings(request):
    return _page(request, new_token=request.session.pop(NEW_KEY_SESSION, None))


@require_POST
@member_required(role=Role.ADMIN)
def api_key_create(request):
    form = _key_form(request, request.POST)
    if not form.is_valid():
        return _page(request, key_form=form, status=400)
    try:
        created = keys.api_key_create(
            name=form.cleaned_data["name"],
            role=form.cleaned_data["role"],
            expires_at=form.cleaned_data["expires_at"],
            by=request.membership,
            holder=form.cleaned_data["holder"],
            request=request,
        )
    except ServiceError as error:
        form.add_error(None, str(error))
        return _page(request, key_form=form, status=400)
    # Shown on the next page only: the key is not stored and cannot be shown again.
    request.session[NEW_KEY_SESSION] = created.token
    return redirect("api_settings")


@require_POST
@member_required(role=Role.ADMIN)
def api_key_revoke(request, apikey_code):
    key = get_tenant_object(ApiKey, apikey_code)
    if keys.api_key_revoke(key=key, by=request.membership, request=request):
        messages.success(request, _("The key “%(name)s” was revoked.") % {"name": key.name})
    return redirect("api_settings")


@require_POST
@member_required(role=Role.ADMIN)
def webhook_create(request):
    form = WebhookForm(request.POST)
    if not form.is_valid():
        return _page(request, webhook_form=form, status=400)
    try:
        endpoint = webhooks.webhook_create(
            url=form.cleaned_data["url"],
            events=form.cleaned_data["events"],
            by=request.membership,
            request=request,
        )
    except ServiceError as error:
        form.add_error("url", str(error))
        return _page(request, webhook_form=form, status=400)
    messages.success(request, pgettext("webhook", "Webhook added."))
    return redirect("webhook_detail", webhookendpoint_code=endpoint.code)


@require_GET
@member_required
def webhook_detail(request, webhookendpoint_code):
    endpoint = get_tenant_object(WebhookEndpoint, webhookendpoint_code)
    return render(
        request,
        "api/webhook.html",
        {
            "endpoint": endpoint,
            "deliveries": webhooks.webhook_recent_deliveries(endpoint),
            "can_manage": request.membership.has_role(Role.ADMIN),
        },
    )


@require_POST
@member_required(role=Role.ADMIN)
def webhook_toggle(request, webhookendpoint_code):
    endpoint = get_tenant_object(WebhookEndpoint, webhookendpoint_code)
    webhooks.webhook_set_active(
        endpoint=endpoint, active=not endpoint.is_active, by=request.membership, request=request
    )
    return redirect("webhook_detail", webhookendpoint_code=endpoint.code)


@require_POST
@member_required(role=Role.ADMIN)
def webhook_delete(request, webhookendpoint_code):
    endpoint = get_tenant_object(WebhookEndpoint, webhookendpoint_code)
    webhooks.webhook_delete(endpoint=endpoint, by=request.membership, request=request)
    messages.success(request, pgettext("webhook", "Webhook removed."))
    return redirect("api_settings")
