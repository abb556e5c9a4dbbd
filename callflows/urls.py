"""Pages of the call-flow app for signed-in staff (the carrier's URLs: portal/edge_urls.py)."""

from django.urls import include, path

urlpatterns = [
    path("", include("callflows.asset_urls")),
    path("", include("callflows.calllog_urls")),
    path("", include("callflows.flow_urls")),
]
