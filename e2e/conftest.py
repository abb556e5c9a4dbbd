"""End-to-end: the shipped processes, started as `make run` and docs/deploy.md start them.

These tests talk HTTP only. `make test` runs them wherever the processes can start; the
production layout needs nginx, PostgreSQL and Redis and is required in CI
(``REQUIRE_PRODUCTION_LAYOUT=1``).
"""

import os
import shutil

import pytest

from e2e import harness


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    if shutil.which("make") is None:
        pytest.skip("make is not installed (the launcher is `make run`)")
    layout = harness.Launcher(tmp_path_factory.mktemp("make-run"))
    try:
        layout.start()
        yield layout
    finally:
        layout.stop()


@pytest.fixture(scope="module")
def demo_numbers(launched):
    """The demo companies' numbers, once the worker has subscribed all six at the carrier."""
    carrier = harness.Carrier(launched)
    return harness.wait_for(
        lambda: (numbers := carrier.numbers()) and len(numbers) == 6 and numbers,
        timeout=90,
        what="six demo numbers with action URLs",
    )


def production_services() -> dict | None:
    """Where the production layout finds PostgreSQL and Redis, or None (with the reason)."""
    database = os.environ.get("DATABASE_URL", "")
    if not database.startswith("postgres"):
        return None
    return {
        # beside the test database: two suites on one machine (other DATABASE_URL names) do
        # not share it
        "database_url": database + "_e2e",
        "redis_url": os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/7"),
        "broker_url": os.environ.get("E2E_BROKER_URL", "redis://127.0.0.1:6379/8"),
    }


def production_layout(workdir, *, extra_env: dict | None = None) -> harness.ProductionLayout:
    """docs/deploy.md's layout, not started; skips (or fails in CI) without its services."""
    services = production_services()
    missing = []
    if services is None:
        missing.append("PostgreSQL (DATABASE_URL=postgres://…)")
    if not harness.nginx_available():
        missing.append("nginx (apt-get install nginx-light)")
    if missing:
        reason = "the production layout needs " + " and ".join(missing)
        if os.environ.get("REQUIRE_PRODUCTION_LAYOUT"):
            pytest.fail(reason + ", and REQUIRE_PRODUCTION_LAYOUT is set (CI provides them)")
        pytest.skip(reason)
    return harness.production_with_drills(workdir, services=services, extra_env=extra_env)


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    layout = production_layout(tmp_path_factory.mktemp("production"))
    try:
        layout.start()
        yield layout
    finally:
        layout.stop()
        harness.close_drills(layout)
