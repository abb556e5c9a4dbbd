from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Portal")

    def ready(self):
        from celery.signals import beat_embedded_init, beat_init, worker_init
        from django.conf import settings
        from django.contrib.auth.signals import user_logged_in

        from portal.database import limit_connections
        from portal.platform import scheduler_started
        from portal.second_factor import second_factor_remember_at_sign_in
        from portal.text import install_storage_guard

        # No string the database cannot hold as text is written, by any route (portal.text).
        install_storage_guard()
        user_logged_in.connect(
            second_factor_remember_at_sign_in, dispatch_uid="portal.second_factor.sign_in"
        )

        # A worker's connections give up on a database that hangs (portal/database.py).
        worker_init.connect(
            lambda sender=None, **_kwargs: limit_connections(
                connect_timeout=settings.DATABASE_CONNECT_TIMEOUT,
                statement_timeout_ms=settings.DATABASE_STATEMENT_TIMEOUT_MS,
            ),
            weak=False,
            dispatch_uid="portal.worker_database_limits",
        )

        # Scheduled work is judged late from the scheduler's start (portal.platform).
        for started in (beat_init, beat_embedded_init):
            started.connect(
                lambda sender=None, **_kwargs: scheduler_started(),
                weak=False,
                dispatch_uid=f"portal.scheduler_started.{started.name}",
            )
