"""The edge's Django URLconf when ``BENCH_VIEWS_ENABLED``: the carrier's paths unchanged, plus
the benchmark's reference views (``bench/views.py``). The action URL itself is served bare."""

from django.urls import path

from bench import views
from config.urls.edge import urlpatterns as edge_urlpatterns

urlpatterns = [
    *edge_urlpatterns,
    path("bench/constant/<str:token>/", views.constant, name="bench_constant"),
    path("bench/lookup/<str:token>/", views.lookup, name="bench_lookup"),
]
