"""URLs the carrier calls, served on the minimal path of ``portal.wsgi`` (no middleware)."""

from django.urls import path

from callflows import asset_views, views

urlpatterns = [
    path("a/<str:token>/", views.action_url, name="action_url"),
    # Xoxzo plays MP3s only from paths of [A-Za-z0-9_/-] ending in .mp3 (documented); the view
    # checks the id's shape before any query. Nothing else under media/ is routed.
    path("media/audio/<str:public_id>.mp3", asset_views.audio_public, name="audio_public"),
]

# Served without middleware or the portal's templates (portal/wsgi.py): errors answer empty,
# with the same security headers as the MP3s. Only read when this is the request's URLconf.
handler400 = "callflows.asset_views.carrier_bad_request"
handler404 = "callflows.asset_views.carrier_not_found"
handler500 = "callflows.asset_views.carrier_server_error"
