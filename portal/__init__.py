"""DIN Portal's lowest app: tenants, members, the dashboard, the audit log, alerts and the outbox.

The project around the apps (settings, URLconfs, WSGI entry points, the Celery app) is
``config/``.
"""
