from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DinsConfig(AppConfig):
    name = "dins"
    verbose_name = _("Numbers")

    def ready(self):
        from dins import pages

        pages.connect()
