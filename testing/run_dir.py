"""The test run's own folder: media, the file broker's queue, the call log's journal and the
SQLite test database, kept away from ``var/`` and from any other run.

The test settings only name it (importing them writes nothing); ``make_run_dir`` makes it, from
the root ``conftest.py`` as pytest starts, and ``remove_run_dir`` removes it at the end. A
process the run starts with the test settings (a worker drill) shares it through
``DINPORTAL_TEST_RUN_DIR``.
"""

import os
import shutil
import tempfile
from pathlib import Path

ENVIRONMENT_NAME = "DINPORTAL_TEST_RUN_DIR"
RUN_DIR = Path(
    os.environ.get(ENVIRONMENT_NAME)
    or Path(tempfile.gettempdir()) / f"dinportal-tests-{os.getpid()}"
)
MEDIA_DIR = RUN_DIR / "media"
BROKER_DIR = RUN_DIR / "broker"
CALL_LOG_DIR = RUN_DIR / "call-log"
DATABASE_DIR = RUN_DIR / "db"


def make_run_dir() -> bool:
    """Make the folders; True when this process made them (and so removes them at the end)."""
    made = not RUN_DIR.exists()
    for folder in (MEDIA_DIR, BROKER_DIR / "control", CALL_LOG_DIR, DATABASE_DIR):
        folder.mkdir(parents=True, exist_ok=True)
    os.environ[ENVIRONMENT_NAME] = str(RUN_DIR)
    return made


def remove_run_dir() -> None:
    shutil.rmtree(RUN_DIR, ignore_errors=True)
