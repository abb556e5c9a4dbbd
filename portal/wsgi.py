"""WSGI entry point of the portal's pages (people in a browser, Django admin).

The carrier's paths (action URL, public MP3s, call callbacks) are not served here: they belong
to the edge, ``callflows.edge.wsgi``, which runs in processes of its own so that a live call never
waits for a page. The sandbox carrier, when enabled, is ``sandbox.wsgi``, a third server.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()
