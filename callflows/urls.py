"""Pages of the call-flow app (signed-in staff). The carrier's URLs are in action_urls.py."""

from django.urls import include, path

urlpatterns = [
    path("", include("callflows.asset_urls")),
    path("", include("callflows.calllog_urls")),
    path("", include("callflows.flow_urls")),
]
