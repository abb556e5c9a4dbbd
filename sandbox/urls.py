"""The Xoxzo REST API as the sandbox serves it under /sandbox/.

Paths are Xoxzo's. The trailing slash is optional everywhere because the official Python
client asks for ``/voice/calls/<callid>`` without one and every other path with one; a
redirect would not do (a POST must not be redirected).
"""

from django.contrib.auth.views import LoginView, LogoutView
from django.urls import path, re_path

from sandbox import views

app_name = "sandbox"

urlpatterns = [
    re_path(r"^voice/dins/?$", views.din_search, name="din_search"),
    re_path(r"^voice/dins/subscriptions/?$", views.subscriptions, name="subscriptions"),
    re_path(
        r"^voice/dins/subscriptions/(?P<din_uid>[A-Za-z0-9_-]+)/?$",
        views.subscription_detail,
        name="subscription_detail",
    ),
    re_path(r"^voice/simple/playbacks/?$", views.playback_create, name="playback_create"),
    re_path(r"^voice/calls/(?P<callid>[^/]+)/?$", views.call_detail, name="call_detail"),
    # Not Xoxzo's: the portal's "Test call" button (Basic auth like the API).
    re_path(r"^internal/test-call/?$", views.internal_test_call, name="internal_test_call"),
    path("healthz", views.healthz, name="healthz"),
    # The console's own sign-in: the sandbox is another company's system, on its own server.
    path(
        "login/",
        LoginView.as_view(template_name="sandbox/login.html", next_page="sandbox:account"),
        name="login",
    ),
    path("logout/", LogoutView.as_view(next_page="sandbox:login"), name="logout"),
    path("account/", views.account_overview, name="account"),
    path("account/faults/", views.account_fault_add, name="account_fault_add"),
    path("account/faults/clear/", views.account_faults_clear, name="account_faults_clear"),
    path(
        "account/voicemail/<uuid:code>.wav",
        views.account_voicemail_audio,
        name="account_voicemail_audio",
    ),
]
