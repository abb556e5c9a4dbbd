"""Start the whole portal (pages, edge, sandbox carrier, worker, scheduler); stop it in order.

`make run` uses this after migrating, seeding and publishing. Each process is one that a
production deployment runs on its own (docs/deploy.md), with the same server program:

- ``portal``: the pages people use (granian, threads for blocking I/O) on ``--port``;
- ``edge``: what the carrier calls in real time (action URL, public MP3s, call callbacks) on
  ``EDGE_PORT``, its own workers: a call never waits behind a page;
- ``sandbox``: the embedded carrier on ``SANDBOX_PORT``, a separate system like Xoxzo is, so
  no request ever re-enters the pool that is serving it;
- ``worker`` and ``scheduler``: Celery.

Every child runs in a process group of its own and dies with the launcher; the launcher
relays Ctrl-C and SIGTERM in order: first what brings new work (sandbox, scheduler, pages),
then the worker, the edge last, so that calls in flight are answered and their call-log rows
written. Output is prefixed with the process's name.
"""

import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.demo import DEMO_PASSWORD, DEMO_TENANTS, OPERATOR_EMAIL

START_TIMEOUT_SECONDS = 60
EDGE_THREADS = 4
# Pages, tasks and the sandbox share this machine's CPUs with the edge: at this niceness a call
# never waits for a CPU behind them (docs/deploy.md: Nice=10 in their units).
BACKGROUND_NICENESS = 10
# Stop in stages, all within 30 s: what brings work, then the worker, then the edge.
STOP_STAGES = (("sandbox", "scheduler", "portal"), ("worker",), ("edge",))
STOP_GRACE_SECONDS = {"sandbox": 8, "scheduler": 8, "portal": 8, "worker": 12, "edge": 8}


def _bin(name: str) -> str:
    beside_python = Path(sys.executable).with_name(name)
    return str(beside_python) if beside_python.exists() else (shutil.which(name) or name)


def _die_with_parent() -> None:
    """In the child, before exec: receive SIGTERM when the launcher dies (Linux)."""
    if _libc is not None:
        _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _background() -> None:
    """In the child, before exec: everything but the edge yields the CPU to calls."""
    _die_with_parent()
    os.nice(BACKGROUND_NICENESS)


_libc = (
    ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if sys.platform == "linux" else None
)


def granian(app: str, *, host: str, port: int, workers: int, threads: int) -> list[str]:
    return [
        _bin("granian"),
        "--interface",
        "wsgi",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        # A worker that dies (a crash, SIGKILL) is started again; the others keep serving.
        "--respawn-failed-workers",
        "--respawn-interval",
        "1",
        "--no-ws",
        "--log-level",
        "warning",
        app,
    ]


@dataclass
class Child:
    name: str
    command: list[str]
    health_url: str | None = None
    process: subprocess.Popen[bytes] | None = None
    readers: list[threading.Thread] = field(default_factory=list)

    @property
    def started(self) -> subprocess.Popen[bytes]:
        """The running process (``Command._start`` starts every child before any is read)."""
        if self.process is None:
            raise RuntimeError(f"{self.name} was not started")
        return self.process


def celery(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "config", *arguments, "--loglevel", "INFO"]


def processes(
    *, host: str, ports: tuple[int, int, int], portal: tuple[int, int], edge_workers: int
) -> list[Child]:
    """The children in the order they start: pages, edge, sandbox (when enabled), worker,
    scheduler."""
    port, edge_port, sandbox_port = ports
    workers, threads = portal
    children = [
        Child(
            "portal",
            granian(
                "config.wsgi.portal:application",
                host=host,
                port=port,
                workers=workers,
                threads=threads,
            ),
            f"http://{host}:{port}/healthz",
        ),
        Child(
            "edge",
            # An MP3 its process does not hold waits up to the edge's budget on its thread: the
            # calls beside it have threads of their own.
            granian(
                "config.wsgi.edge:application",
                host=host,
                port=edge_port,
                workers=edge_workers,
                threads=EDGE_THREADS,
            ),
            f"http://{host}:{edge_port}/healthz",
        ),
        Child(
            "worker",
            celery("worker", "--concurrency", "2", "--without-gossip", "--without-mingle"),
        ),
        Child("scheduler", celery("beat", "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME)),
    ]
    if settings.SANDBOX_ENABLED:
        sandbox = granian(
            "config.wsgi.sandbox:application", host=host, port=sandbox_port, workers=1, threads=8
        )
        children.insert(
            2, Child("sandbox", sandbox, f"http://{host}:{sandbox_port}/sandbox/healthz")
        )
    return children


class Command(BaseCommand):
    help = "Run the portal's pages, the edge, the sandbox carrier, a worker and the scheduler."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--portal-workers", type=int, default=2)
        parser.add_argument("--portal-threads", type=int, default=4)
        parser.add_argument("--edge-workers", type=int, default=2)

    def handle(self, *args, host, port, portal_workers, portal_threads, edge_workers, **options):
        edge_port = settings.EDGE_PORT if port == settings.PORT else port + 1
        sandbox_port = settings.SANDBOX_PORT if port == settings.PORT else port + 2
        env = {
            **os.environ,
            "PORT": str(port),
            "EDGE_PORT": str(edge_port),
            "SANDBOX_PORT": str(sandbox_port),
            "PYTHONUNBUFFERED": "1",
        }
        children = processes(
            host=host,
            ports=(port, edge_port, sandbox_port),
            portal=(portal_workers, portal_threads),
            edge_workers=edge_workers,
        )
        stopping = threading.Event()
        signal.signal(signal.SIGINT, lambda signum, frame: stopping.set())
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
        try:
            self._start(children, env)
            self._wait_until_up(children, stopping)
            if not stopping.is_set():
                self._banner(host, port, edge_port, sandbox_port)
            self._watch(children, stopping)
        finally:
            self._stop(children)
        self.stdout.write("DIN Portal stopped.")

    def _watch(self, children: list[Child], stopping: threading.Event) -> None:
        """Until asked to stop: a child that exits stops everything, saying which."""
        while not stopping.wait(0.5):
            for child in children:
                if child.started.poll() is not None:
                    raise CommandError(
                        f"{child.name} stopped unexpectedly (exit {child.started.returncode})."
                    )

    def _start(self, children: list[Child], env: dict) -> None:
        for child in children:
            child.process = subprocess.Popen(  # noqa: S603 (our own programs, fixed arguments)
                child.command,
                cwd=settings.BASE_DIR,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                process_group=0,  # signals come from the launcher, in order
                # prctl and nice only: safe before exec
                preexec_fn=_die_with_parent if child.name == "edge" else _background,
            )
        width = max(len(child.name) for child in children)
        for child in children:
            reader = threading.Thread(
                target=self._relay, args=(child, width), name=f"log-{child.name}", daemon=True
            )
            reader.start()
            child.readers.append(reader)

    def _relay(self, child: Child, width: int) -> None:
        prefix = f"{child.name:<{width}} | ".encode()
        out = sys.stdout.buffer
        stream = child.started.stdout
        assert stream is not None  # started with stdout=PIPE
        for line in iter(stream.readline, b""):
            out.write(prefix + line)
            out.flush()

    def _wait_until_up(self, children: list[Child], stopping: threading.Event) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        waiting = {child.health_url: child for child in children if child.health_url}
        while waiting and time.monotonic() < deadline and not stopping.is_set():
            for url, child in list(waiting.items()):
                if child.started.poll() is not None:
                    raise CommandError(f"{child.name} did not start (is its port free?).")
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                        if response.status == 200:
                            del waiting[url]
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
            if waiting:
                time.sleep(0.3)
        if waiting and not stopping.is_set():
            names = ", ".join(waiting)
            raise CommandError(f"No answer from {names} within {START_TIMEOUT_SECONDS}s.")

    def _banner(self, host: str, port: int, edge_port: int, sandbox_port: int) -> None:
        lines = [
            "",
            "DIN Portal is running.",
            f"  Sign in:      http://{host}:{port}/account/login/",
            f"  Django admin: http://{host}:{port}/admin/",
            f"  Password for every demo login: {DEMO_PASSWORD}",
        ]
        for (tenant_name, _language), people in DEMO_TENANTS.items():
            for person in people:
                lines.append(f"    {person.email:<28} {person.role:<7} {tenant_name}")
        lines.append(f"    {OPERATOR_EMAIL:<28} operator (Django admin)")
        lines.append(
            f"  Calls from the carrier (action URLs, MP3s): {settings.PUBLIC_BASE_URL} (the edge)"
        )
        if settings.SANDBOX_ENABLED:
            lines += [
                f"  Sandbox carrier API: {settings.XOXZO_API_URL}",
                f"  Sandbox account: {settings.XOXZO_SID} {settings.XOXZO_AUTH_TOKEN}",
                f"  Sandbox console: http://{host}:{sandbox_port}/sandbox/account/ (operator)",
            ]
        lines.append("Press Ctrl-C to stop everything.")
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))

    def _stop(self, children: list[Child]) -> None:
        running = {child.name: child for child in children if child.process is not None}
        for stage in STOP_STAGES:
            group = [running[name] for name in stage if name in running]
            for child in group:
                if child.started.poll() is None:
                    child.started.send_signal(signal.SIGTERM)
            for child in group:
                try:
                    child.started.wait(timeout=STOP_GRACE_SECONDS[child.name])
                except subprocess.TimeoutExpired:
                    self.stderr.write(f"{child.name} did not stop in time; killing it.")
                    child.started.kill()
                    child.started.wait()
        for child in running.values():
            for reader in child.readers:
                reader.join(timeout=2)
