"""Pages of the portal app: dashboard, members, invitations, audit log, tenant settings."""

import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import (
    HttpResponse,
    HttpResponseForbidden,
    HttpResponsePermanentRedirect,
    HttpResponseRedirect,
)
from django.shortcuts import redirect, render
from django.template.loader import select_template
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST, require_safe

from portal import selectors, services
from portal.access import ensure_role, get_tenant_object, member_required
from portal.alerts import alerts_for_dashboard
from portal.forms import (
    AcceptInvitationForm,
    AuditFilterForm,
    InvitationForm,
    RoleForm,
    TenantSettingsForm,
    role_choices_for,
)
from portal.middleware import SESSION_TENANT_KEY
from portal.models import Invitation, Language, Membership, Role, User
from portal.pages import page_context
from portal.paging import BadCursor, keyset_page

AUDIT_PAGE_SIZE = 50


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse(fallback)


def _set_language_cookie(response, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=365 * 24 * 60 * 60,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


# --- Accounts and preferences -----------------------------------------------------------------


class LoginView(auth_views.LoginView):
    """Sign in, then show the portal in the language the user chose last time."""

    def form_valid(self, form):
        response = super().form_valid(form)
        translation.activate(form.get_user().language)
        _set_language_cookie(response, form.get_user().language)
        return response


@require_POST
def language_switch(request):
    language = request.POST.get("language", "")
    response = HttpResponseRedirect(_safe_next(request, "dashboard"))
    if language not in Language.values:
        return response
    _set_language_cookie(response, language)
    if request.user.is_authenticated and request.user.language != language:
        # Kept on the account too: e-mails to this person use it.
        request.user.language = language
        request.user.save(update_fields=["language"])
    return response


@require_POST
@member_required
def tenant_switch(request):
    code = request.POST.get("tenant", "")
    if any(str(m.tenant.code) == code for m in request.memberships):
        request.session[SESSION_TENANT_KEY] = code
    return redirect("dashboard")


def no_tenant(request):
    if not request.user.is_authenticated:
        return redirect("login")
    if request.membership is not None:
        return redirect("dashboard")
    if request.user.is_superuser:
        # A platform operator without a company of their own lands on the operators' page.
        return redirect("operator_home")
    return render(request, "portal/no_tenant.html")


@require_GET
@require_safe
def favicon(request):
    return HttpResponsePermanentRedirect(static("favicon.ico"))


def healthz(request):
    """Liveness for load balancers and the smoke test: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


def edge_healthz(request):
    """Liveness of an edge process, for the proxy and the launcher: no I/O at all.

    The edge answers calls from memory when the database and Redis are down, so neither is
    part of its health; a process that answers this answers calls.
    """
    return HttpResponse("ok", content_type="text/plain")


# --- Dashboard and tenant settings ------------------------------------------------------------


@require_GET
@member_required
def dashboard(request):
    context = {
        "figures": selectors.dashboard_figures(),
        "alerts": alerts_for_dashboard(),
        "can_acknowledge": request.membership.has_role(Role.STAFF),
        # numbers (dins), calls today and the day/night switches (callflows)
        **page_context("dashboard", request=request),
    }
    return render(request, "portal/dashboard.html", context)


@member_required
def tenant_settings(request):
    form = TenantSettingsForm.for_tenant(request.tenant, request.POST or None)
    if request.method == "POST":
        ensure_role(request, Role.ADMIN)
        if form.is_valid():
            services.tenant_update(tenant=request.tenant, request=request, **form.cleaned_data)
            messages.success(request, _("Settings saved."))
            return redirect("tenant_settings")
    return render(request, "portal/tenant_settings.html", {"form": form})


# --- Members and invitations ------------------------------------------------------------------


def _members_page(request, *, invite_form=None, status=200):
    can_manage = request.membership.has_role(Role.ADMIN)
    if invite_form is None and can_manage:
        invite_form = InvitationForm(membership=request.membership)
    context = {
        "members": selectors.membership_list(),
        "invitations": selectors.invitation_open_list(),
        "invite_form": invite_form,
        "role_choices": role_choices_for(request.membership),
        "can_manage": can_manage,
    }
    return render(request, "portal/members.html", context, status=status)


@require_GET
@member_required
def members(request):
    return _members_page(request)


@require_POST
@member_required(role=Role.ADMIN)
def member_invite(request):
    form = InvitationForm(request.POST, membership=request.membership)
    if form.is_valid():
        try:
            services.invitation_create(
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                by=request.membership,
                request=request,
            )
        except services.ServiceError as error:
            form.add_error("email", str(error))
        else:
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]}
            )
            return redirect("members")
    return _members_page(request, invite_form=form, status=400)


@require_POST
@member_required(role=Role.ADMIN)
def member_role(request, membership_code):
    membership = get_tenant_object(Membership, membership_code)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the listed roles."))
        return redirect("members")
    try:
        services.membership_change_role(
            membership=membership,
            role=form.cleaned_data["role"],
            by=request.membership,
            request=request,
        )
    except services.ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Role of %(user)s changed.") % {"user": membership.user})
    return redirect("members")


@member_required(role=Role.ADMIN)
def member_remove(request, membership_code):
    membership = get_tenant_object(Membership, membership_code)
    if request.method == "POST":
        try:
            services.membership_remove(
                membership=membership, by=request.membership, request=request
            )
        except services.ServiceError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("%(user)s was removed.") % {"user": membership.user})
            if membership.pk == request.membership.pk:
                request.session.pop(SESSION_TENANT_KEY, None)
                return redirect("no_tenant")
        return redirect("members")
    return render(request, "portal/member_remove.html", {"target": membership})


@require_POST
@member_required(role=Role.ADMIN)
def invitation_revoke(request, invitation_code):
    invitation = get_tenant_object(Invitation, invitation_code)
    try:
        services.invitation_revoke(invitation=invitation, by=request.membership, request=request)
    except services.ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, _("Invitation to %(email)s revoked.") % {"email": invitation.email}
        )
    return redirect("members")


def invitation_accept(request, token):
    """The link from the invitation e-mail: join, creating the account if needed."""
    invitation = services.invitation_by_token(token)
    if invitation is None:
        return render(request, "portal/invitation_invalid.html", status=404)
    existing = User.objects.filter(email__iexact=invitation.email).first()
    signed_in = request.user if request.user.is_authenticated else None
    if signed_in and signed_in.email.lower() != invitation.email:
        return render(
            request,
            "portal/invitation_accept.html",
            {"invitation": invitation, "wrong_user": True},
            status=403,
        )
    if existing and not signed_in:
        messages.info(request, _("Sign in as %(email)s to accept.") % {"email": invitation.email})
        return redirect(f"{reverse('login')}?next={request.path}")

    form = None if existing else AcceptInvitationForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and (form is None or form.is_valid()):
        try:
            membership = services.invitation_accept(
                invitation=invitation,
                user=existing,
                password=form.cleaned_data["password1"] if form else "",
                name=form.cleaned_data["name"] if form else "",
                request=request,
            )
        except services.ServiceError as error:
            messages.error(request, str(error))
            return redirect("login")
        if not existing:
            login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        request.session[SESSION_TENANT_KEY] = str(membership.tenant.code)
        messages.success(request, _("Welcome to %(tenant)s.") % {"tenant": membership.tenant})
        return redirect("dashboard")
    return render(
        request, "portal/invitation_accept.html", {"invitation": invitation, "form": form}
    )


# --- Audit log --------------------------------------------------------------------------------


def _day_start(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_current_timezone())


@require_GET
@member_required
def audit_log(request):
    members = list(selectors.membership_list())
    form = AuditFilterForm(
        request.GET or None, facets=selectors.audit_event_facets(), members=members
    )
    filters = form.cleaned_data if form.is_valid() else {}
    actor = next((m.user for m in members if str(m.code) == filters.get("actor")), None)
    events = selectors.audit_event_list(
        action=filters.get("action", ""),
        object_type=filters.get("object_type", ""),
        actor=actor,
        since=_day_start(filters["since"]) if filters.get("since") else None,
        until=_day_start(filters["until"] + datetime.timedelta(days=1))
        if filters.get("until")
        else None,
        query=filters.get("query", ""),
    )
    bad_cursor = False
    try:
        page = keyset_page(
            events,
            field="created_at",
            size=AUDIT_PAGE_SIZE,
            after=request.GET.get("after", ""),
            before=request.GET.get("before", ""),
        )
    except BadCursor:
        bad_cursor = True
        page = keyset_page(events, field="created_at", size=AUDIT_PAGE_SIZE)
    query = request.GET.copy()
    for name in ("after", "before", "page"):
        query.pop(name, None)
    template = (
        "portal/_audit_rows.html" if request.headers.get("HX-Request") else "portal/audit_log.html"
    )
    context = {"form": form, "page": page, "bad_cursor": bad_cursor, "query": query.urlencode()}
    return render(request, template, context)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW for every server on these settings: a server with a URLconf of its own
    (the sandbox carrier, ``config.urls.sandbox``) shows its own page, ``<server>/403_csrf.html``,
    since the portal's page links to portal pages that server does not have."""
    urlconf = getattr(request, "urlconf", None)
    names = ["403_csrf.html"]
    if isinstance(urlconf, str) and urlconf != settings.ROOT_URLCONF:
        names.insert(0, f"{urlconf.rsplit('.', 1)[-1]}/403_csrf.html")
    return HttpResponseForbidden(select_template(names).render({}, request))
