"""URLs the edge serves through Django (``config.wsgi.edge``); the action URL is served bare.

Xoxzo plays MP3s only from paths of [A-Za-z0-9_/-] ending in .mp3 (documented); the view checks
the id's shape before any query. Nothing else under media/ is routed.
"""

from django.urls import path

from callflows.edge import views as edge_views
from callflows.outbound import views as outbound_views
from portal import views

urlpatterns = [
    path("media/audio/<str:public_id>.mp3", edge_views.audio_public, name="audio_public"),
    path("c/<str:token>/", outbound_views.outbound_call_callback, name="outbound_call_callback"),
    path("healthz", views.edge_healthz, name="edge_healthz"),
]

# Served without middleware or the portal's templates (config/wsgi/edge.py): errors answer
# empty, with the same security headers as the MP3s.
handler400 = "callflows.edge.views.carrier_bad_request"
handler404 = "callflows.edge.views.carrier_not_found"
handler500 = "callflows.edge.views.carrier_server_error"
