"""Test URLconf: the portal's pages, the edge's Django paths and the sandbox carrier in one.

The test client and pytest's live server reach all three through it; the action URL is served
by the edge's bare WSGI app there too (``portal.testing.installation_app``). What runs as
separate servers in `make run` and production is tested that way by ``e2e/``.
"""

from callflows.edge.urls import urlpatterns as edge_urlpatterns
from portal.urls import urlpatterns as portal_urlpatterns
from sandbox.site_urls import urlpatterns as sandbox_urlpatterns

urlpatterns = [*portal_urlpatterns, *edge_urlpatterns, *sandbox_urlpatterns]
