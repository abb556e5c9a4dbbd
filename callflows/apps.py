from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallflowsConfig(AppConfig):
    name = "callflows"
    verbose_name = _("Call flows")

    def ready(self):
        from callflows import pages, receivers

        receivers.connect()
        pages.connect()
