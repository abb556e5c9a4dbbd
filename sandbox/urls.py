"""The Xoxzo REST API as the sandbox serves it under /sandbox/.

Paths are Xoxzo's. The trailing slash is optional everywhere because the official Python
client asks for ``/voice/calls/<callid>`` without one and every other path with one; a
redirect would not do (a POST must not be redirected).
"""

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
    path("account/", views.account_overview, name="account"),
]
