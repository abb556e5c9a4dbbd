"""URLs the carrier calls for outbound calls: one secret, single-purpose path per call."""

from django.urls import path

from dins import outbound_views

urlpatterns = [
    path("c/<str:token>/", outbound_views.outbound_call_callback, name="outbound_call_callback"),
]
