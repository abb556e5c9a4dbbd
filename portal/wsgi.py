"""WSGI entry point. What the carrier fetches takes the shortest path.

``/a/…`` (the action URL, on every call) goes to ``callflows.wsgi_action``: a bare WSGI app
with the same answers as the Django view, minus Django's request/response machinery.
``/media/audio/…`` (public MP3s) goes to a Django handler with no middleware at all (no
session, auth, CSRF, locale or security headers: the carrier needs none of them) and its own
small URLconf. Everything else goes through the full stack.

With ``BENCH_VIEWS_ENABLED`` (benchmarks only, never in production) ``/bench/…`` takes the same
minimal path, with ``bench.urls`` as its URLconf: the action URL plus reference views to measure
it against (bench/action_url.py).
"""

import os

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
portal_application = get_wsgi_application()

from callflows import wsgi_action as action_wsgi  # noqa: E402 (needs the settings above)

# The carrier's public MP3s need range requests and caching headers, not sessions or CSRF.
MINIMAL_PREFIXES = ("/media/audio/", "/bench/") if settings.BENCH_VIEWS_ENABLED else "/media/audio/"


class ActionURLHandler(WSGIHandler):
    urlconf = "bench.urls" if settings.BENCH_VIEWS_ENABLED else "callflows.action_urls"

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response)

    def get_response(self, request):
        request.urlconf = self.urlconf
        return super().get_response(request)


action_url_application = ActionURLHandler()


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/a/"):
        return action_wsgi.application(environ, start_response)
    if path.startswith(MINIMAL_PREFIXES):
        return action_url_application(environ, start_response)
    return portal_application(environ, start_response)
