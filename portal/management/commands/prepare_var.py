"""``manage.py prepare_var``: make ``var/`` and its secrets, and nothing else.

``manage.py`` prepares ``var/`` before every command (``config/var.py``), so this command only
names the step for a machine that runs servers without another command first: an extra edge
machine, the sandbox carrier's own folder.
"""

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Make var/ (VAR_DIR) and, on an embedded installation, its secrets."

    def handle(self, *args, **options):
        self.stdout.write(f"prepared {settings.VAR_DIR}")
