"""Root URLconf of the sandbox carrier's own server (``config.wsgi.sandbox``).

The sandbox plays another company's system, so it runs as a server of its own: the portal
calls it over HTTP and it calls the portal's edge back, and no request ever re-enters the pool
that is serving it. Its REST API and operators' console live under ``/sandbox/``.
"""

from django.urls import include, path

urlpatterns = [path("sandbox/", include("sandbox.urls"))]

# Its own error pages: the portal's link to the portal's pages, which this server does not have.
handler400 = "sandbox.views.error_bad_request"
handler403 = "sandbox.views.error_forbidden"
handler404 = "sandbox.views.error_not_found"
handler500 = "sandbox.views.error_server"
