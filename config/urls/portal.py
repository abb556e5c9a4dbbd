"""Root URL configuration.

Tenant objects appear in URLs as ``<uuid:<model>_code>`` (e.g. ``membership_code``): the
tenant-isolation test finds every such pattern by that name and proves another tenant's
member gets 404 for it.
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from portal import alert_views, monitoring_views, second_factor_views, views
from portal.forms import PasswordResetRequestForm

account_patterns = [
    path("login/", views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "password/reset/",
        auth_views.PasswordResetView.as_view(form_class=PasswordResetRequestForm),
        name="password_reset",
    ),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("language/", views.language_switch, name="language_switch"),
    path("second-factor/", second_factor_views.second_factor_manage, name="second_factor"),
    path(
        "second-factor/code/",
        second_factor_views.second_factor_verify,
        name="second_factor_verify",
    ),
    path(
        "second-factor/setup/", second_factor_views.second_factor_setup, name="second_factor_setup"
    ),
    path(
        "second-factor/recovery-codes/",
        second_factor_views.recovery_codes_renew,
        name="recovery_codes_renew",
    ),
    path(
        "second-factor/off/",
        second_factor_views.second_factor_turn_off,
        name="second_factor_turn_off",
    ),
    path("invite/<str:token>/", views.invitation_accept, name="invitation_accept"),
]

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for it at the root whatever the page says: the static file, for good.
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz/platform", monitoring_views.platform_health, name="platform_health"),
    path("metrics", monitoring_views.metrics, name="metrics"),
    path("account/", include(account_patterns)),
    path("tenant/switch/", views.tenant_switch, name="tenant_switch"),
    path("tenant/none/", views.no_tenant, name="no_tenant"),
    path("settings/", views.tenant_settings, name="tenant_settings"),
    path("members/", views.members, name="members"),
    path("members/invite/", views.member_invite, name="member_invite"),
    path("members/<uuid:membership_code>/role/", views.member_role, name="member_role"),
    path("members/<uuid:membership_code>/remove/", views.member_remove, name="member_remove"),
    path(
        "invitations/<uuid:invitation_code>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("audit/", views.audit_log, name="audit_log"),
    path("alerts/", alert_views.alert_list, name="alert_list"),
    path(
        "alerts/<uuid:alert_code>/acknowledge/",
        alert_views.alert_acknowledge,
        name="alert_acknowledge",
    ),
    path(
        "settings/notifications/",
        alert_views.notification_settings,
        name="notification_settings",
    ),
    # Platform operators (superusers), across companies: not tenant pages.
    path("operator/", include("dins.operators.urls")),
    path("numbers/", include("dins.urls")),
    path("", include("callflows.urls")),
    # The API and its settings pages (the highest layer: named by string, never imported).
    path("", include("api.urls")),
    path("admin/", admin.site.urls),
]
