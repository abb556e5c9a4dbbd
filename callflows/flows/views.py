"""A number's call flow: the editor, its week view, history, the override, previews, test calls.

The editor is one form. Its buttons either save (the default button) or change the page
without saving: add, remove or move a rule, load a starting point, or check the draft (week
view and preview of what is on screen, before saving). The week view and the preview of a draft
also refresh in place through htmx (``flow_draft``).
"""

import datetime

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from callflows.flows import compiler, services, starting_points, switch, week_view
from callflows.flows import selectors as flow_selectors
from callflows.flows.documents import FlowDocument
from callflows.flows.forms import (
    ActionForm,
    BaseRuleFormSet,
    OverrideForm,
    PreviewForm,
    RuleForm,
    RuleFormSet,
    TestCallForm,
    action_state,
    editor_state,
)
from callflows.flows.transcript_words import transcript_in_words
from callflows.models import CallFlow, FlowVersion
from dins import sandbox_calls
from dins.carrier_words import CARRIER_PROBLEMS
from dins.models import Subscription, TestCall
from portal import phone
from portal.access import ensure_role, get_tenant_object, member_required
from portal.audit_words import CARRIER_PREFIX
from portal.models import Role
from portal.services import ServiceError

EDITOR_MOVES = ("add", "remove", "up", "down", "start", "above")


def _saved_document(subscription: Subscription) -> tuple[CallFlow | None, FlowDocument]:
    flow = flow_selectors.flow_for_number(subscription)
    return flow, (flow.document if flow else compiler.DEFAULT_DOCUMENT)


def _unbound_editor(subscription, rules_initial: list[dict], default_initial: dict):
    rules = RuleFormSet(prefix="rules", subscription=subscription, initial=rules_initial)
    default = ActionForm(
        prefix="default", subscription=subscription, initial=default_initial, library=rules.library
    )
    return rules, default


def _saved_editor(subscription: Subscription, document: FlowDocument):
    return _unbound_editor(
        subscription,
        [RuleForm.initial_from_rule(rule) for rule in document["rules"]],
        ActionForm.initial_from(document["default"]),
    )


def _too_many_rules(request):
    """A 400 page for a post that claims more rules than a flow holds (``rules-TOTAL_FORMS``),
    before any form is built: the editor never sends more, so it was made by hand, and
    answering it with the editor drew every rule form (hundreds of KB)."""
    try:
        claimed = int(request.POST.get("rules-TOTAL_FORMS", 0))
    except (TypeError, ValueError):
        return None  # the formset says the management form is broken, in the editor
    if claimed <= RuleFormSet.absolute_max:
        return None
    reason = _(
        "A call flow holds at most %(limit)d rules; this request had %(count)d. Open the "
        "editor again and save from there."
    ) % {"limit": RuleFormSet.absolute_max, "count": claimed}
    return render(request, "400.html", {"reason": reason}, status=400)


def _bound_editor(subscription, data):
    # The browser's posted forms are the whole truth: no stored rules as initial data.
    rules = RuleFormSet(data, prefix="rules", subscription=subscription)
    default = ActionForm(data, prefix="default", subscription=subscription, library=rules.library)
    return rules, default


def _draft_document(rules: BaseRuleFormSet, default: ActionForm) -> FlowDocument | None:
    if rules.is_valid() and default.is_valid():
        return {"rules": rules.rules_document(), "default": default.action_document()}
    return None


def _now_in(subscription):
    return timezone.localtime(timezone.now(), subscription.tenant.zone)


def _preview_form(data=None, *, prefix=None, subscription):
    initial = {"at": _now_in(subscription).strftime("%Y-%m-%dT%H:%M")}
    return PreviewForm(data, prefix=prefix, initial=initial)


def _positions(rules) -> list[int]:
    """Which editor row each rule of the draft document is (blank rows are left out)."""
    return [index for index, form in enumerate(rules.forms) if form.has_changed()]


def _insight(
    subscription: Subscription,
    document: FlowDocument,
    preview_form: PreviewForm | None = None,
    positions: list[int] | None = None,
) -> dict[str, object]:
    """Week view and preview of ``document`` (saved or draft); a reason when it cannot compile.

    With it, the rules that a rule above keeps from answering (``positions``: the editor rows
    of the document's rules, for the warning's "move above" button).
    """
    try:
        compiled = flow_selectors.flow_compiled(subscription, document)
    except ValueError as error:
        return {"draft_problem": str(error)}
    today = timezone.localdate(timezone=subscription.tenant.zone)
    context: dict[str, object] = {
        "week": week_view.week_context(subscription, compiled, document=document),
        "shadows": week_view.shadow_warnings(compiled, today=today, positions=positions),
    }
    if preview_form is not None and preview_form.is_bound and preview_form.is_valid():
        answer = flow_selectors.flow_preview(
            subscription,
            at=preview_form.cleaned_data["at"],
            caller=preview_form.cleaned_data["caller"],
            document=document,
        )
        context["preview"] = flow_selectors.answer_in_words(answer)
        context["media"] = flow_selectors.preview_media(answer)
    return context


def _page(request, subscription, *, rules=None, default=None, status=200, **extra):
    flow, document = _saved_document(subscription)
    if rules is None:
        rules, default = _saved_editor(subscription, document)
    now = timezone.now()
    # Released, releasing or failed: the flow is shown to read, with why, and nothing else.
    not_answering = flow_selectors.not_answering_reason(subscription)
    can_edit = request.membership.has_role(Role.STAFF) and not not_answering
    in_effect = (
        None
        if not_answering
        else flow_selectors.answer_in_words(
            flow_selectors.flow_preview(subscription, at=now, caller="+819000000000")
        )
    )
    context = {
        "subscription": subscription,
        "flow": flow,
        "rules": rules,
        "default": default,
        "description": flow_selectors.flow_describe(document),
        "not_answering": not_answering,
        "in_effect": in_effect,
        "switch": switch.override_switch(subscription),
        "override_form": OverrideForm(
            prefix="override",
            subscription=subscription,
            library=rules.library,
            initial={
                "until": (timezone.localtime(now) + datetime.timedelta(days=1)).replace(
                    hour=9, minute=0
                ),
                "action": document["default"]["type"],
            },
        ),
        "starting_points": starting_points.STARTING_POINTS,
        "test_call_form": TestCallForm(),
        "can_edit": can_edit,
        "max_rules": RuleFormSet.max_num,
        "max_note_length": services.MAX_NOTE_LENGTH,
        **extra,
    }
    context.setdefault(
        "preview_form",
        _preview_form(prefix="preview" if can_edit else None, subscription=subscription),
    )
    if not_answering:
        for answered_nothing in ("week", "preview", "media", "draft_problem"):
            context.pop(answered_nothing, None)
    elif not ({"week", "draft_problem", "draft_incomplete"} & context.keys()):
        context.update(_insight(subscription, document))
    return render(request, "callflows/flow.html", context, status=status)


def _editor_move(request, subscription):
    """Redraw the editor after add/remove/move/starting point, keeping everything typed."""
    rules = editor_state(request.POST)
    default = action_state(request.POST, prefix="default")
    verb, _sep, argument = request.POST.get("edit", "").partition(":")
    if verb == "add" and len(rules) < RuleFormSet.max_num:
        rules.append({})
    elif verb == "start":
        rules, default = starting_points.apply_starting_point(argument, rules, default)
        rules = rules[: RuleFormSet.max_num]
        messages.info(
            request, _("Starting point added to the editor. Review it, then save the call flow.")
        )
    elif argument.isdigit() and int(argument) < len(rules):
        index = int(argument)
        if verb == "remove":
            rules.pop(index)
        elif verb == "up" and index > 0:
            rules[index - 1], rules[index] = rules[index], rules[index - 1]
        elif verb == "down" and index + 1 < len(rules):
            rules[index + 1], rules[index] = rules[index], rules[index + 1]
    elif verb == "above":  # "above:4-1": rule 4 goes above rule 1 (a shadowed rule's fix)
        moved, _dash, target = argument.partition("-")
        if moved.isdigit() and target.isdigit() and int(target) < int(moved) < len(rules):
            rules.insert(int(target), rules.pop(int(moved)))
    editor_rules, editor_default = _unbound_editor(subscription, rules, default)
    preview_form = _preview_form(request.POST, prefix="preview", subscription=subscription)
    return _page(
        request,
        subscription,
        rules=editor_rules,
        default=editor_default,
        preview_form=preview_form,
        note=request.POST.get("note", ""),
    )


@member_required
def flow_edit(request, subscription_code):
    subscription = get_tenant_object(Subscription, subscription_code)
    if request.method != "POST":
        return _page(request, subscription)
    ensure_role(request, Role.STAFF)
    not_answering = flow_selectors.not_answering_reason(subscription)
    if not_answering:
        messages.error(request, not_answering)
        return _page(request, subscription, status=409)
    refused = _too_many_rules(request)
    if refused is not None:
        return refused
    if request.POST.get("edit", "").partition(":")[0] in EDITOR_MOVES:
        return _editor_move(request, subscription)
    rules, default = _bound_editor(subscription, request.POST)
    preview_form = _preview_form(request.POST, prefix="preview", subscription=subscription)
    document = _draft_document(rules, default)
    if request.POST.get("edit") == "check":
        extra = (
            _insight(subscription, document, preview_form, positions=_positions(rules))
            if document
            else {"draft_incomplete": True}
        )
        return _page(
            request,
            subscription,
            rules=rules,
            default=default,
            preview_form=preview_form,
            note=request.POST.get("note", ""),
            status=200 if document else 400,
            **extra,
        )
    note = request.POST.get("note", "")
    if document is not None:
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
    return _page(
        request,
        subscription,
        rules=rules,
        default=default,
        preview_form=preview_form,
        note=note[:1000],
        status=400,
        draft_incomplete=document is None,
    )


@require_POST
@member_required(role=Role.STAFF)
def flow_draft(request, subscription_code):
    """The week view and preview of the editor's draft, refreshed in place as it changes."""
    subscription = get_tenant_object(Subscription, subscription_code)
    not_answering = flow_selectors.not_answering_reason(subscription)
    if not_answering:
        return render(
            request,
            "callflows/_insight.html",
            {"subscription": subscription, "draft_problem": not_answering},
            status=409,
        )
    refused = _too_many_rules(request)
    if refused is not None:
        return refused
    rules, default = _bound_editor(subscription, request.POST)
    preview_form = _preview_form(request.POST, prefix="preview", subscription=subscription)
    document = _draft_document(rules, default)
    context: dict[str, object]
    if document is None:
        context = {"draft_incomplete": True}
    else:
        context = _insight(subscription, document, preview_form, positions=_positions(rules))
    context.update(subscription=subscription, preview_form=preview_form, can_edit=True)
    return render(request, "callflows/_insight.html", context)


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
            "can_edit": request.membership.has_role(Role.STAFF) and not subscription.is_closed,
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


def _back(request, subscription):
    """Back to the page the switch was pressed on (a path of this site), else the flow page."""
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    ):
        return HttpResponseRedirect(target)
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
        return _back(request, subscription)
    if request.POST.get("quick"):
        # The one-tap switch: answer as outside hours (the flow's default) until it next opens.
        _flow, document = _saved_document(subscription)
        compiled = flow_selectors.flow_compiled(subscription)
        until = switch.next_opening(subscription, compiled, now=timezone.now())
        action, form = document["default"], None
    else:
        form = OverrideForm(request.POST, prefix="override", subscription=subscription)
        if not form.is_valid():
            messages.error(
                request,
                _("The override was not set: %(why)s")
                % {"why": "; ".join(" ".join(map(str, errors)) for errors in form.errors.values())},
            )
            return _back(request, subscription)
        action, until = form.action_document(), form.cleaned_data["until"]
    try:
        services.flow_set_override(
            subscription=subscription, action=action, until=until, request=request
        )
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        local = timezone.localtime(until, subscription.tenant.zone)
        messages.success(
            request,
            _("Override on until %(until)s.") % {"until": local.strftime("%Y-%m-%d %H:%M")},
        )
    return _back(request, subscription)


@require_GET
@member_required
def flow_preview(request, subscription_code):
    """The saved flow's answer for a date, time and caller (a shareable link)."""
    subscription = get_tenant_object(Subscription, subscription_code)
    data = None
    if request.GET:
        data = {"at": request.GET.get("at", ""), "caller": request.GET.get("caller", "")}
    prefix = "preview" if request.membership.has_role(Role.STAFF) else None
    if data is not None and prefix:
        # Editors' preview fields live in the editor form, under its prefix.
        data = {f"{prefix}-{key}": value for key, value in data.items()}
    form = PreviewForm(data, prefix=prefix)
    extra = {}
    if form.is_valid() and not subscription.is_closed:
        answer = flow_selectors.flow_preview(
            subscription, at=form.cleaned_data["at"], caller=form.cleaned_data["caller"]
        )
        extra = {
            "preview": flow_selectors.answer_in_words(answer),
            "media": flow_selectors.preview_media(answer),
        }
    status = 400 if form.is_bound and not form.is_valid() else 200
    return _page(request, subscription, preview_form=form, status=status, **extra)


@require_POST
@member_required(role=Role.STAFF)
def flow_test_call(request, subscription_code):
    """Queue a test call; the flow page then follows it (``flow_test_call_status``)."""
    subscription = get_tenant_object(Subscription, subscription_code)
    form = TestCallForm(request.POST)
    if not form.is_valid():
        return _page(request, subscription, test_call_form=form, status=400)
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
    context = {
        "test_call_problem": _test_call_problem(test_call),
        "test_call_words": transcript_in_words(test_call.transcript)
        if test_call.transcript
        else None,
    }
    if request.headers.get("HX-Request"):
        context.update(subscription=subscription, test_call=test_call)
        return render(request, "callflows/_test_call.html", context)
    initial = {"caller": phone.display(test_call.caller)} if test_call.caller else None
    return _page(
        request,
        subscription,
        test_call=test_call,
        test_call_form=TestCallForm(initial=initial),
        **context,
    )


def _test_call_problem(test_call: TestCall) -> str:
    if test_call.status != TestCall.Status.FAILED:
        return ""
    reason = test_call.failure_reason
    if reason == "interrupted":
        return _("The test call was interrupted (the worker stopped). Try again.")
    if reason == "queue_unreachable":
        return _(
            "The test call was not placed: the task queue could not be reached for two "
            "minutes. Try again when it is back."
        )
    if reason in CARRIER_PROBLEMS:
        return str(CARRIER_PROBLEMS[reason])
    # The carrier's own words (English) follow, behind a toggle (templates/_reason.html).
    refused = _("The carrier refused the test call.")
    return f"{refused}\n{CARRIER_PREFIX}{reason}"
