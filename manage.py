#!/usr/bin/env python
"""Django's command-line utility for DIN Portal.

Before any command it prepares ``var/`` (``config/var.py``: folders, and on an embedded
installation the secret key and the sandbox account made on first start), so everything
``make run`` starts finds them; importing the settings writes nothing.
"""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config.var import var_prepare

    var_prepare()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
