"""WSGI entry point of the sandbox carrier's server (``make run`` starts it on SANDBOX_PORT)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup(set_prefix=False)

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402


class SandboxHandler(WSGIHandler):
    def get_response(self, request):
        request.urlconf = "config.urls.sandbox"
        return super().get_response(request)


application = SandboxHandler()
