"""Limits on the database connections of a serving process: none waits on PostgreSQL for good.

The portal's pages, the edge and the workers call ``limit_connections`` when they start
(their WSGI entry points, the worker's start signal), before any connection is opened: a
connection attempt gives up after ``connect_timeout`` seconds, a statement after
``statement_timeout`` (PostgreSQL cancels it). Management commands (``migrate`` building an
index on a large table) run without them. SQLite, the embedded default, is one local file:
nothing to limit.
"""

from __future__ import annotations

from django.conf import settings


def limit_connections(*, connect_timeout: float, statement_timeout_ms: int) -> None:
    """Every connection this process opens from now on has these limits (PostgreSQL)."""
    database = settings.DATABASES["default"]
    if not settings.DATABASE_LIMITS_ENABLED or not database["ENGINE"].endswith("postgresql"):
        return
    options = database.setdefault("OPTIONS", {})
    options["connect_timeout"] = max(1, round(connect_timeout))
    options["options"] = f"-c statement_timeout={int(statement_timeout_ms)}"
