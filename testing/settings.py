"""Test settings: the real settings, made faster and kept away from var/, in the run's own
folder (``testing/run_dir.py``: named here, made by the root conftest.py as pytest starts).

A run that starts before anything prepared ``var/`` (``pytest`` straight after a clone; ``make
test`` prepares it) gets fixed test-only secrets instead of var's, the same in every process.
"""

from config.settings import *  # noqa: F403
from testing.run_dir import BROKER_DIR, CALL_LOG_DIR, DATABASE_DIR, MEDIA_DIR

SECRET_KEY = SECRET_KEY or "tests-only-" + "not-a-secret-" * 4  # noqa: F405
if SANDBOX_ENABLED and not (XOXZO_SID and XOXZO_AUTH_TOKEN):  # noqa: F405
    XOXZO_SID, XOXZO_AUTH_TOKEN = "SB" + "7E575" * 6, "tests-only-sandbox-token"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = MEDIA_DIR
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
AXES_ENABLED = True
LOGGING["root"]["level"] = "WARNING"  # noqa: F405

if CELERY_BROKER_URL.startswith("filesystem://"):  # noqa: F405
    # Tests that use the real broker must not share a queue with a running `make run`.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }

CALL_LOG_BACKGROUND_FLUSH = False
# The test process imports every server's entry point: none narrows the test's own connections
# (portal/tests/test_database_limits.py checks the limits in processes of their own).
DATABASE_LIMITS_ENABLED = False
CALL_LOG_JOURNAL_DIR = str(CALL_LOG_DIR)
# The edge's threads stay off: tests read published flows inline, inside their transaction,
# and call the watcher's poll by hand. e2e/ runs the edge with its threads.
EDGE_WATCHER_ENABLED = False
EDGE_LOADER_THREADS = 0

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not memory: tests that cut the database connection must not destroy it.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(DATABASE_DIR / "test.sqlite3")
    }
