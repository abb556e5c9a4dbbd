"""Settings for DIN Portal, read from the environment (django-environ), one module a topic.

With no environment at all the portal runs in its *embedded default*: SQLite, a file-system
Celery broker and the local media folder, all under ``var/``, and the sandbox carrier. A real
deployment sets ``DEPLOYMENT=production`` and the variables listed in README.md ("Configuration");
production refuses to start while a required one is missing or an unsafe one is set.

Importing the settings writes nothing: ``var/`` and its secrets are made by the start-up step
(``config/var.py:var_prepare``, run by ``manage.py`` before any command, so by ``make run``).

A topic imports by name what it reads from another, and no name is set in two topics
(``portal/tests/test_settings.py`` checks it), so the order of the lines below is only
alphabetical.
"""

from config.settings.accounts import *  # noqa: F403
from config.settings.api import *  # noqa: F403
from config.settings.applications import *  # noqa: F403
from config.settings.benchmarks import *  # noqa: F403
from config.settings.call_flows import *  # noqa: F403
from config.settings.carrier import *  # noqa: F403
from config.settings.data import *  # noqa: F403
from config.settings.deployment import *  # noqa: F403
from config.settings.i18n import *  # noqa: F403
from config.settings.limits import *  # noqa: F403
from config.settings.logs import *  # noqa: F403
from config.settings.mail import *  # noqa: F403
from config.settings.operators import *  # noqa: F403
from config.settings.outbound import *  # noqa: F403
from config.settings.production import *  # noqa: F403
from config.settings.security import *  # noqa: F403
from config.settings.storage import *  # noqa: F403
from config.settings.subscriptions import *  # noqa: F403
from config.settings.tasks import *  # noqa: F403
