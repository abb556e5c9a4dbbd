"""The minimal path's URLconf when ``BENCH_VIEWS_ENABLED``: the action URL first, unchanged,
then the benchmark's reference views (``bench/views.py``)."""

from django.urls import path

from bench import views
from callflows.action_urls import urlpatterns as action_urlpatterns

urlpatterns = [
    *action_urlpatterns,
    path("bench/constant/<str:token>/", views.constant, name="bench_constant"),
    path("bench/lookup/<str:token>/", views.lookup, name="bench_lookup"),
]
