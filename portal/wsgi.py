"""WSGI entry point. The carrier's action URL takes a minimal path through Django.

``/a/…`` is handled by a Django handler with no middleware at all (no session, auth, CSRF,
locale or security headers: the carrier needs none of them and every call pays for them), and
its own small URLconf. Everything else goes through the full stack.
"""

import os

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
portal_application = get_wsgi_application()


class ActionURLHandler(WSGIHandler):
    urlconf = "callflows.action_urls"

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
    if environ.get("PATH_INFO", "").startswith("/a/"):
        return action_url_application(environ, start_response)
    return portal_application(environ, start_response)
