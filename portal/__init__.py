"""DIN Portal: settings, Celery app, tenants, members, dashboard and audit log."""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
