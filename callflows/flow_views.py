"""A number's call flow: the editor, its history, the override, previews and test calls."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from callflows import compiler, flow_selectors, services
from callflows.flow_forms import (
    MAX_NOTE_LENGTH,
    ActionForm,
    OverrideForm,
    PreviewForm,
    RuleForm,
    RuleFormSet,
    TestCallForm,
)
from callflows.models import FlowVersion
from dins import sandbox_calls
from dins.models import Subscription, TestCall
from dins.views import CARRIER_PROBLEMS
from portal.access import ensure_role, get_tenant_object, member_required
from portal.models import Role
from portal.services import ServiceError


def _editor_forms(subscription, data=None):
    flow = flow_selectors.flow_for_number(subscription)
    document = flow.document if flow else compiler.DEFAULT_DOCUMENT
    # A bound formset must not get the stored rules as initial data: the browser's posted
    # forms are the whole truth (a blank extra form then counts as "unchanged" and is skipped).
    rules = RuleFormSet(
        data,
        prefix="rules",
        subscription=subscription,
        initial=None if data else [RuleForm.initial_from(rule) for rule in document["rules"]],
    )
    default = ActionForm(
        data,
        prefix="default",
        subscription=subscription,
        initial=ActionForm.initial_from(document["default"]),
    )
    return flow, rules, default


def _page(request, subscription, *, rules=None, default=None, status=200, **extra):
    flow, initial_rules, initial_default = _editor_forms(subscription)
    now = timezone.localtime()
    context = {
        "subscription": subscription,
        "flow": flow,
        "rules": rules or initial_rules,
        "default": default or initial_default,
        "description": flow_selectors.flow_describe(
            flow.document if flow else compiler.DEFAULT_DOCUMENT
        ),
        "in_effect": flow_selectors.flow_preview(subscription, at=now, caller="+819000000000"),
        "override_form": OverrideForm(
            prefix="override",
            subscription=subscription,
            initial={"until": (now + timezone.timedelta(days=1)).replace(hour=9, minute=0)},
        ),
        "preview_form": extra.pop("preview_form", None)
        or PreviewForm(initial={"at": now.strftime("%Y-%m-%dT%H:%M")}),
        "test_call_form": TestCallForm(initial={"caller": "+819012345678"}),
        "can_edit": request.membership.has_role(Role.STAFF),
        "max_note_length": MAX_NOTE_LENGTH,
        **extra,
    }
    return render(request, "callflows/flow.html", context, status=status)


@member_required
def flow_edit(request, subscription_code):
    subscription = get_tenant_object(Subscription, subscription_code)
    if request.method != "POST":
        return _page(request, subscription)
    ensure_role(request, Role.STAFF)
    _flow, rules, default = _editor_forms(subscription, request.POST)
    note = request.POST.get("note", "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        # Refused, not cut: the editor shows the rules as posted, so nothing typed is lost.
        messages.error(
            request,
            _("The note has %(count)d characters; at most %(limit)d are allowed.")
            % {"count": len(note), "limit": MAX_NOTE_LENGTH},
        )
    elif rules.is_valid() and default.is_valid():
        document = {"rules": rules.rules_document(), "default": default.action_document()}
        try:
            services.flow_save(
                subscription=subscription,
                document=document,
                by=request.user,
                request=request,
                note=note,
            )
        except ServiceError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Call flow saved. Calls follow it within seconds."))
            return redirect("flow_edit", subscription_code=subscription.code)
    return _page(request, subscription, rules=rules, default=default, status=400, note=note[:1000])


@require_GET
@member_required
def flow_history(request, subscription_code):
    subscription = get_tenant_object(Subscription, subscription_code)
    flow = flow_selectors.flow_for_number(subscription)
    page, history = (
        flow_selectors.flow_history(flow, page_number=request.GET.get("page"))
        if flow
        else (None, [])
    )
    return render(
        request,
        "callflows/flow_history.html",
        {
            "subscription": subscription,
            "history": history,
            "page": page,
            "can_edit": request.membership.has_role(Role.STAFF),
        },
    )


@require_POST
@member_required(role=Role.STAFF)
def flow_restore(request, subscription_code, flowversion_code):
    subscription = get_tenant_object(Subscription, subscription_code)
    version = get_tenant_object(
        FlowVersion,
        flowversion_code,
        queryset=FlowVersion.objects.filter(flow__subscription=subscription),
    )
    try:
        services.flow_save(
            subscription=subscription,
            document=version.document,
            by=request.user,
            request=request,
            note=_("restored version %(number)s") % {"number": version.number},
        )
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Version %(number)s restored.") % {"number": version.number})
    return redirect("flow_edit", subscription_code=subscription.code)


@require_POST
@member_required(role=Role.STAFF)
def flow_override(request, subscription_code):
    subscription = get_tenant_object(Subscription, subscription_code)
    if request.POST.get("end"):
        services.flow_set_override(
            subscription=subscription, action=None, until=None, request=request
        )
        messages.success(request, _("Override ended: the rules answer again."))
        return redirect("flow_edit", subscription_code=subscription.code)
    form = OverrideForm(request.POST, prefix="override", subscription=subscription)
    if form.is_valid():
        try:
            services.flow_set_override(
                subscription=subscription,
                action=form.action_document(),
                until=form.cleaned_data["until"],
                request=request,
            )
        except ServiceError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                _("Override on until %(until)s.")
                % {
                    "until": timezone.localtime(form.cleaned_data["until"]).strftime(
                        "%Y-%m-%d %H:%M"
                    )
                },
            )
            return redirect("flow_edit", subscription_code=subscription.code)
    else:
        messages.error(
            request,
            _("The override was not set: %(why)s")
            % {"why": "; ".join(" ".join(errors) for errors in form.errors.values())},
        )
    return redirect("flow_edit", subscription_code=subscription.code)


@require_GET
@member_required
def flow_preview(request, subscription_code):
    subscription = get_tenant_object(Subscription, subscription_code)
    form = PreviewForm(request.GET or None)
    preview = None
    if form.is_valid():
        preview = flow_selectors.flow_preview(
            subscription, at=form.cleaned_data["at"], caller=form.cleaned_data["caller"]
        )
    media = flow_selectors.preview_media(preview) if preview else {}
    return _page(request, subscription, preview_form=form, preview=preview, media=media)


@require_POST
@member_required(role=Role.STAFF)
def flow_test_call(request, subscription_code):
    """Queue a test call; the flow page then follows it (``flow_test_call_status``)."""
    subscription = get_tenant_object(Subscription, subscription_code)
    form = TestCallForm(request.POST)
    form.is_valid()
    try:
        test_call = sandbox_calls.test_call_request(
            subscription=subscription,
            caller=form.cleaned_data.get("caller", ""),
            by=request.user,
        )
    except ServiceError as error:
        messages.error(request, str(error))
        return redirect("flow_edit", subscription_code=subscription.code)
    return redirect("flow_test_call_status", subscription.code, test_call.code)


@require_GET
@member_required
def flow_test_call_status(request, subscription_code, testcall_code):
    """A test call as it goes: the fragment for the page's live update, else the flow page."""
    subscription = get_tenant_object(Subscription, subscription_code)
    test_call = get_tenant_object(
        TestCall, testcall_code, queryset=TestCall.objects.filter(subscription=subscription)
    )
    context = {"test_call_problem": _test_call_problem(test_call)}
    if request.headers.get("HX-Request"):
        context.update(subscription=subscription, test_call=test_call)
        return render(request, "callflows/_test_call.html", context)
    return _page(request, subscription, test_call=test_call, **context)


def _test_call_problem(test_call: TestCall) -> str:
    if test_call.status != TestCall.Status.FAILED:
        return ""
    reason = test_call.failure_reason
    if reason == "interrupted":
        return _("The test call was interrupted (the worker stopped). Try again.")
    if reason in CARRIER_PROBLEMS:
        return str(CARRIER_PROBLEMS[reason])
    return _("The carrier refused the test call: %(why)s") % {"why": reason}
