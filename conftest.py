"""Personas for every app's tests: two companies, every role in A, an owner in B."""

from dataclasses import dataclass

import pytest

from callflows.edge import call_log, media, published
from portal.models import Membership, Role, Tenant, User
from portal.scoping import scopes_disabled, tenant_scope
from testing.run_dir import make_run_dir, remove_run_dir
from testing.scaffolding import MembershipFactory, TenantFactory, UserFactory

_RUN_DIR_MADE_HERE = False


def pytest_configure(config):
    """The run's own folder (media, broker queue, journal, SQLite test database), named by the
    test settings, made before the test database and any test."""
    global _RUN_DIR_MADE_HERE
    _RUN_DIR_MADE_HERE = make_run_dir()


def pytest_unconfigure(config):
    if _RUN_DIR_MADE_HERE:
        remove_run_dir()


@dataclass
class Personas:
    tenant_a: Tenant
    tenant_b: Tenant
    owner_a: User
    admin_a: User
    staff_a: User
    viewer_a: User
    owner_b: User
    both: User  # staff in A and in B: for switching between tenants

    def membership(self, user: User, tenant: Tenant) -> Membership:
        with scopes_disabled():
            return Membership.objects.get(user=user, tenant=tenant)


@pytest.fixture
def personas(db) -> Personas:
    tenant_a = TenantFactory(name="Alpha Clinic")
    tenant_b = TenantFactory(name="Beta Trading")
    people = {}
    for key, tenant, role in [
        ("owner_a", tenant_a, Role.OWNER),
        ("admin_a", tenant_a, Role.ADMIN),
        ("staff_a", tenant_a, Role.STAFF),
        ("viewer_a", tenant_a, Role.VIEWER),
        ("owner_b", tenant_b, Role.OWNER),
    ]:
        people[key] = UserFactory(email=f"{key.replace('_', '.')}@example.com")
        MembershipFactory(tenant=tenant, user=people[key], role=role)
    both = UserFactory(email="both@example.com")
    MembershipFactory(tenant=tenant_a, user=both, role=Role.STAFF)
    MembershipFactory(tenant=tenant_b, user=both, role=Role.STAFF)
    return Personas(tenant_a=tenant_a, tenant_b=tenant_b, both=both, **people)


def _start_server(request, application=None):
    """A threaded live server on a free loopback port; ``application`` replaces Django's
    handler (the edge and the sandbox are WSGI apps of their own)."""
    import os

    from pytest_django.live_server_helper import LiveServer

    address = os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    server = LiveServer(address, start=False)
    if application is not None:
        server.thread.static_handler = lambda _django_handler: application
    server.start()
    return server


@pytest.fixture(scope="session")
def live_server(request):
    """The portal's pages as ``config.wsgi.portal`` serves them (``ROOT_URLCONF``, static files).

    The edge and the sandbox carrier are other servers: ``edge_server``, ``live_sandbox_server``.
    """
    server = _start_server(request)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def edge_live_server(request, live_server):
    """The edge, ``config.wsgi.edge.application``, on a server of its own."""
    from config.wsgi.edge import application

    server = _start_server(request, application)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sandbox_live_server(request, live_server):
    """The sandbox carrier, ``config.wsgi.sandbox.application``, on a server of its own."""
    from config.wsgi.sandbox import application

    server = _start_server(request, application)
    yield server
    server.stop()


@pytest.fixture
def edge_server(edge_live_server, settings):
    """The edge's live server, with ``PUBLIC_BASE_URL`` (where the carrier reaches us) on it."""
    settings.PUBLIC_BASE_URL = edge_live_server.url
    return edge_live_server


@pytest.fixture
def edge_client():
    """A test client that goes through the edge's WSGI app (``config.wsgi.edge``)."""
    from testing.scaffolding import EdgeClient

    return EdgeClient()


@pytest.fixture
def sandbox_client():
    """A test client that goes through the sandbox carrier's server (``config.wsgi.sandbox``)."""
    from testing.scaffolding import SandboxClient

    return SandboxClient()


@pytest.fixture(autouse=True)
def english_outside_requests():
    """Code called outside a request speaks English in tests, whatever a request before it
    activated (Django leaves a request's language active in its thread)."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture
def client(client, settings):
    """Test clients read the English UI unless a test switches (the default is Japanese)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def in_tenant_a(personas):
    """Run the test body inside tenant A's scope (for calling services directly)."""
    with tenant_scope(personas.tenant_a):
        yield personas.tenant_a


class TaskQueue:
    """Tasks enqueued during a test, kept instead of sent to a broker; run them as functions."""

    def __init__(self):
        self.sent: list[tuple] = []

    def names(self) -> list[str]:
        return [task.name for task, _args, _kwargs in self.sent]

    def run_all_named(self, name: str) -> int:
        """Run only the tasks called ``name``; the others stay queued."""
        mine = [entry for entry in self.sent if entry[0].name == name]
        self.sent = [entry for entry in self.sent if entry[0].name != name]
        for task, args, kwargs in mine:
            task(*args, **kwargs)
        return len(mine)

    def run_all(self) -> int:
        ran = 0
        while self.sent:
            task, args, kwargs = self.sent.pop(0)
            task(*args, **kwargs)
            ran += 1
        return ran


@pytest.fixture(autouse=True)
def fresh_action_url_state():
    """Each test starts with no compiled flows in memory and an empty call-log buffer."""

    published.forget_memory()
    media.memory.forget()
    published.watcher.last_success = None
    call_log.call_log_buffer.clear()
    yield
    published.forget_memory()
    media.memory.forget()
    call_log.call_log_buffer.clear()


@pytest.fixture(autouse=True)
def task_queue(monkeypatch, request):
    """No test publishes to a real broker by accident; tests that need one say `real_broker`."""
    from portal import outbox

    outbox._broker_away_until = 0.0  # a broker seen away by an earlier test is not this one's
    queue = TaskQueue()
    if "real_broker" in request.keywords:
        yield queue
        return
    from celery import Celery
    from celery.app.task import Task

    def record(self, args=None, kwargs=None, **options):
        queue.sent.append((self, tuple(args or ()), dict(kwargs or {})))

    def record_by_name(app, name, args=None, kwargs=None, **options):
        # The outbox hands tasks over by name (portal.outbox): keep the task itself.
        if name not in app.tasks:
            app.loader.import_default_modules()
        queue.sent.append((app.tasks[name], tuple(args or ()), dict(kwargs or {})))

    monkeypatch.setattr(Task, "apply_async", record)
    monkeypatch.setattr(Celery, "send_task", record_by_name)
    yield queue


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium driven by Playwright (browser downloads do not work here)."""
    import os
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing but REQUIRE_BROWSER is set (CI installs it).")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; Django's ORM is still safe
    # here because the test and the live server never share a connection concurrently.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(base_url=live_server.url, locale="en-US")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def sign_in(page):
    from testing.scaffolding import PASSWORD

    def sign_in_as(email: str):
        page.goto("/account/login/")
        page.fill("input[name=username]", email)
        page.fill("input[name=password]", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url("**/")

    return sign_in_as


def pytest_terminal_summary(terminalreporter):
    """The hostile-input suite's totals and the API fuzzer's count, when they ran
    (portal/tests/test_hostile_input.py, api/tests/test_fuzz.py)."""
    import sys

    fuzzer = sys.modules.get("api.tests.test_fuzz")
    if fuzzer is not None and fuzzer.RESULT:
        terminalreporter.write_line(
            f"API fuzzer: {fuzzer.RESULT['cases']} ({fuzzer.RESULT['operations']} operations)"
        )
    module = sys.modules.get("portal.tests.test_hostile_input")
    if module is None or not module.TOTALS["inputs"]:
        return
    totals = module.TOTALS
    terminalreporter.write_line(
        f"hostile input: {totals['inputs']} requests, {totals['5xx']} answered 5xx, "
        f"{totals['too much work']} over {module.MAX_QUERIES} queries or {module.MAX_BODY} bytes, "
        f"{totals['wrongly saved']} wrongly saved or changed by a refused request; slowest "
        f"{module.SLOWEST[0]:.2f} s: {module.SLOWEST[1][:100]}"
    )
