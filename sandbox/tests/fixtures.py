"""Fixtures shared by the sandbox and dins tests (imported by both conftest.py files).

Integration tests talk real HTTP to the sandbox served by pytest-django's live server; the
portal's settings point the Xoxzo client at it.
"""

import gc
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest

from dins.xoxzo import XoxzoClient, close_client

SANDBOX_SID = "SANDBOXTESTSID000000000000000001"
SANDBOX_TOKEN = "sandbox-test-token-7f3Kq9"


@pytest.fixture(autouse=True)
def enqueued_completions(monkeypatch, task_queue) -> list[dict]:
    """Sandbox call completions the code enqueued (by name), kept apart from other tasks.

    Tests run the task as a function with the captured arguments.
    """
    from celery import Celery

    captured: list[dict] = []
    other_tasks = Celery.send_task  # the task queue's recorder (or the broker, real_broker)

    def send_task(app, name, args=None, kwargs=None, **options):
        if name != "sandbox.complete_call":
            return other_tasks(app, name, args=args, kwargs=kwargs, **options)
        captured.append({"kwargs": kwargs, "countdown": options.get("countdown")})
        return None

    monkeypatch.setattr(Celery, "send_task", send_task)
    return captured


@pytest.fixture(scope="session")
def live_sandbox_server(sandbox_live_server):
    """The sandbox carrier's own live server, with client sockets collected before it stops.

    A test that keeps an exception (``pytest.raises``) keeps its frame, and with it a
    kept-alive client socket, in a reference cycle. Closed only at interpreter exit, such a
    socket would end its live-server thread after the server stopped sharing the SQLite test
    connection ("DatabaseWrapper objects created in a thread..."). Collect them and let those
    threads finish while the connection is still shared.
    """
    yield sandbox_live_server
    close_client()
    gc.collect()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and any(
        "process_request_thread" in thread.name for thread in threading.enumerate()
    ):
        time.sleep(0.01)


@pytest.fixture
def sandbox_url(live_sandbox_server, edge_server, settings):
    """The live sandbox's base URL, with the portal's Xoxzo settings pointing at it.

    The sandbox calls back the portal's edge (``edge_server``: action URLs, MP3s, callbacks).
    """
    url = live_sandbox_server.url + "/sandbox"
    settings.XOXZO_API_URL = url
    settings.XOXZO_SID = SANDBOX_SID
    settings.XOXZO_AUTH_TOKEN = SANDBOX_TOKEN
    settings.SANDBOX_INITIAL_BALANCE = 50_000
    settings.SANDBOX_TRIAL_PRICE_RATIO = 0.05
    yield url
    # The portal's process-wide client keeps its connection to this test's server open;
    # closed here, the server thread (and, on PostgreSQL, its database session) ends now.
    close_client()


@pytest.fixture
def xoxzo(sandbox_url):
    """The portal's client, reading its settings (so pointing at the live sandbox).

    Closed after the test: a kept-alive connection left open would end its live-server
    thread later, after the server stopped sharing the test database connection.
    """
    with XoxzoClient(sleep=lambda seconds: None) as client:
        yield client


@pytest.fixture
def callback_server(settings):
    """A real HTTP server on a free port that records the form bodies POSTed to it.

    It stands in for the portal: ``PUBLIC_BASE_URL`` points at it, since the sandbox calls
    back nothing else.
    """
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            received.append(
                {
                    "path": self.path,
                    "content_type": self.headers.get("Content-Type", ""),
                    "form": {key: values[-1] for key, values in parse_qs(body).items()},
                }
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.PUBLIC_BASE_URL = f"http://127.0.0.1:{server.server_port}"
    yield SimpleNamespace(
        url=f"http://127.0.0.1:{server.server_port}/calls/done", received=received
    )
    server.shutdown()
    server.server_close()
