"""The project around DIN Portal's apps: settings (one module a topic), a URLconf and a WSGI
entry point per server (portal pages, the edge, the sandbox carrier), the Celery app, and the
start-up step that prepares ``var/`` (``config/var.py``). No app imports from here; the apps
name these modules only as strings (``ROOT_URLCONF``, a server's command line).
"""

from config.celery import app as celery_app

__all__ = ["celery_app"]
