"""WSGI entry point of the edge: what the carrier calls in real time, in processes of its own.

The edge serves only the carrier's paths, so a live call never queues behind a portal page,
an upload, an export or a carrier round trip (docs/deploy.md):

- ``/a/<token>/`` (the action URL, on every incoming call) goes to ``callflows.edge.action_app``,
  a bare WSGI app that answers from published flows held in memory;
- ``/media/audio/<id>.mp3`` (the MP3s the carrier plays), ``/c/<token>/`` (outbound-call
  callbacks) and ``/healthz`` go to a Django handler with no middleware at all (no session,
  auth, CSRF or locale: the carrier needs none of them) and their own URLconf,
  ``config.urls.edge``;
- anything else is a 404 with an empty body: portal pages are served by ``config.wsgi.portal``.

Every answer names the process that gave it (``X-Edge-Process``, random per process): what
an operator needs to tell edge processes apart, nothing about the host.

With ``BENCH_VIEWS_ENABLED`` (benchmarks only, never in production) ``/bench/…`` takes the same
Django path with ``bench.urls`` as its URLconf (bench/action_url.py).
"""

import os
import uuid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402
from django.core.handlers.exception import convert_exception_to_response  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402

from callflows.edge import action_app as action_wsgi  # noqa: E402
from callflows.edge import call_log  # noqa: E402
from portal.database import limit_connections  # noqa: E402
from portal.headers import CARRIER_RESPONSE_HEADERS  # noqa: E402

# The edge never waits on the database beyond its budget: its connections give up early too.
limit_connections(
    connect_timeout=settings.EDGE_DATABASE_CONNECT_TIMEOUT,
    statement_timeout_ms=settings.EDGE_DATABASE_STATEMENT_TIMEOUT_MS,
)

PROCESS_ID = uuid.uuid4().hex[:12]
_PROCESS_HEADER = ("X-Edge-Process", PROCESS_ID)
_DJANGO_PREFIXES = ("/media/audio/", "/c/", "/healthz") + (
    ("/bench/",) if settings.BENCH_VIEWS_ENABLED else ()
)


class EdgeHandler(WSGIHandler):
    """Django without middleware, for the few carrier paths that need a view."""

    urlconf = "bench.urls" if settings.BENCH_VIEWS_ENABLED else "config.urls.edge"

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(
            self._get_response  # type: ignore[attr-defined]  # Django's private view runner
        )

    def get_response(self, request):
        request.urlconf = self.urlconf
        return super().get_response(request)


django_application = EdgeHandler()


def _not_found(environ, start_response):
    headers = [("Content-Type", "text/plain"), ("Content-Length", "0"), *CARRIER_RESPONSE_HEADERS]
    start_response("404 Not Found", headers)
    return []


def application(environ, start_response):
    def with_process(status, headers, exc_info=None):
        headers.append(_PROCESS_HEADER)
        return start_response(status, headers, exc_info)

    path = environ.get("PATH_INFO", "")
    if path.startswith("/a/"):
        return action_wsgi.application(environ, with_process)
    if path.startswith(_DJANGO_PREFIXES):
        return django_application(environ, with_process)
    return _not_found(environ, with_process)


# The call-log writer flushes what it holds when the server stops this worker (SIGTERM).
call_log.call_log_buffer.flush_at_exit()
