"""WSGI entry point of the portal's pages (people in a browser, Django admin).

The carrier's paths (action URL, public MP3s, call callbacks) are not served here: they belong
to the edge, ``config.wsgi.edge``, which runs in processes of its own so that a live call never
waits for a page. The sandbox carrier, when enabled, is ``config.wsgi.sandbox``, a third server.
"""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from portal.database import limit_connections  # noqa: E402 (needs the settings loaded)

limit_connections(
    connect_timeout=settings.DATABASE_CONNECT_TIMEOUT,
    statement_timeout_ms=settings.DATABASE_STATEMENT_TIMEOUT_MS,
)
