"""Start web, Celery worker and Celery beat together; stop them all on Ctrl-C or SIGTERM.

`make run` uses this after migrating and seeding. Each process is the one a production
deployment runs separately (see README.md): granian for WSGI, ``celery worker``, ``celery beat``.
"""

import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.demo import DEMO_PASSWORD, DEMO_TENANTS, OPERATOR_EMAIL

STOP_GRACE_SECONDS = 15
START_TIMEOUT_SECONDS = 60


def _bin(name: str) -> str:
    beside_python = Path(sys.executable).with_name(name)
    return str(beside_python) if beside_python.exists() else (shutil.which(name) or name)


class Command(BaseCommand):
    help = "Run the web server, a Celery worker and Celery beat until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--web-workers", type=int, default=2)

    def handle(self, *args, host, port, web_workers, **options):
        commands = {
            "web": [
                _bin("granian"),
                "--interface",
                "wsgi",
                "--host",
                host,
                "--port",
                str(port),
                "--workers",
                str(web_workers),
                "--blocking-threads",
                "1",
                "--no-ws",
                "portal.wsgi:application",
            ],
            "worker": [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "--without-gossip",
                "--without-mingle",
            ],
            "scheduler": [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
        }
        processes: dict[str, subprocess.Popen] = {}
        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        try:
            for name, command in commands.items():
                processes[name] = subprocess.Popen(command, cwd=settings.BASE_DIR)  # noqa: S603
            self._wait_until_up(host, port, processes, lambda: stopping)
            if not stopping:
                self._banner(host, port)
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        raise CommandError(
                            f"{name} stopped unexpectedly (exit {process.returncode})."
                        )
                time.sleep(0.5)
        finally:
            self._stop_all(processes)
        self.stdout.write("DIN Portal stopped.")

    def _wait_until_up(self, host, port, processes, is_stopping):
        url = f"http://{host}:{port}/healthz"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline and not is_stopping():
            if processes["web"].poll() is not None:
                raise CommandError("The web server did not start (is the port free?).")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        if not is_stopping():
            raise CommandError(
                f"The web server did not answer {url} within {START_TIMEOUT_SECONDS}s."
            )

    def _banner(self, host, port):
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
        lines.append("Press Ctrl-C to stop web, worker and scheduler.")
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))

    def _stop_all(self, processes):
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
