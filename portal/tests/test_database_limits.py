"""Serving processes give up on a database that hangs: each entry point sets its limits."""

import json
import os
import subprocess
import sys

import pytest
from django.db import connection

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="connection limits are PostgreSQL's (CI runs it)"
)

PROBE = """
import json, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
import django
django.setup()
import importlib
importlib.import_module(sys.argv[1])
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SHOW statement_timeout")
    statement = cursor.fetchone()[0]
connect = connection.settings_dict["OPTIONS"].get("connect_timeout")
print(json.dumps({"statement": statement, "connect": connect}))
"""


def _limits(entry_point: str, db) -> dict:
    settings_dict = connection.settings_dict
    url = (
        f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD']}@"
        f"{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 5432}/"
        f"{settings_dict['NAME']}"
    )
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PROBE, entry_point],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_edge_gives_up_sooner_than_the_pages(db):
    assert _limits("config.wsgi.edge", db) == {"statement": "3s", "connect": 2}
    assert _limits("config.wsgi.portal", db) == {"statement": "30s", "connect": 5}
