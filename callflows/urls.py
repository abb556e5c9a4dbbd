"""Pages of the call-flow app for signed-in staff (the carrier's: config/urls/edge.py)."""

from django.urls import include, path

urlpatterns = [
    path("", include("callflows.assets.urls")),
    path("", include("callflows.calllog.urls")),
    path("", include("callflows.flows.urls")),
    path("numbers/", include("callflows.outbound.urls")),
]
