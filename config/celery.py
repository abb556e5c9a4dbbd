"""The Celery application shared by the web process, the worker and the scheduler."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The app of every thread: code that sends by ``celery.current_app`` (the sandbox, which
# imports none of the portal) finds it in a server's request threads too, not Celery's own
# default app (which knows no task and no broker).
app.set_default()
