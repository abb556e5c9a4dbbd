"""The shipped process layouts, started for real and driven over HTTP (e2e tests, benchmarks).

- ``Launcher``: `make run` exactly as a newcomer runs it (embedded default: SQLite, file
  broker, sandbox carrier), in a private ``VAR_DIR`` and on free ports.
- ``ProductionLayout``: the layout of docs/deploy.md: nginx in front, the portal's pages and
  two edge instances as separate granian servers, a Celery worker and beat, PostgreSQL and
  Redis; the sandbox carrier plays Xoxzo from a server of its own.

``PortalClient`` signs in and uses the pages as a person would; ``Carrier`` rings numbers the
way Xoxzo does (``GET <action URL>?caller=…&recipient=…``), one call at a time.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import html.parser
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(sys.executable).parent
DEMO_PASSWORD = "din-demo-2026"  # noqa: S105 (printed by make run for everybody)
OWNER_SAKURA = "owner@sakura.example.com"
OWNER_HARBOR = "owner@harbor.example.com"
# The variables that select real services; the embedded default runs without them.
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DEPLOYMENT")


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count >= 65535:
            continue
        sockets = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no consecutive free ports")


_libc = ctypes.CDLL(ctypes.util.find_library("c")) if sys.platform == "linux" else None


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the test process dies, however it dies."""
    if _libc is not None:
        _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def wait_for(predicate, *, timeout: float, interval: float = 0.25, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception as error:  # the thing is still coming up
            last_error = error
            value = None
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout:g}s (last error: {last_error})")


def clean_env(**overrides) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # pytest's test settings are not what ships
    env.update({k: str(v) for k, v in overrides.items()})
    return env


# --- Layouts ---------------------------------------------------------------------------------


class Layout:
    """Processes started for one test session; ``stop`` ends them all."""

    edge_processes: int  # how many edge worker processes answer calls
    portal_url: str
    edge_urls: list[str]
    public_url: str
    sandbox_url: str
    env: dict

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, subprocess.Popen] = {}

    def spawn(self, name: str, command: list[str], *, env: dict | None = None) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(  # noqa: S603 (our own programs)
            command,
            cwd=ROOT,
            env=env or self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # A process group of its own (to stop it with everything it started), but the
            # same session: with the kernel's autogroup scheduling, niceness only ranks
            # processes of one session, as systemd's CPUWeight= ranks services.
            process_group=0,
            preexec_fn=_die_with_parent,  # a single prctl call, safe before exec
        )
        self.processes[name] = process
        return process

    def manage(self, *args: str, timeout: float = 300, env: dict | None = None) -> str:
        result = subprocess.run(  # noqa: S603
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode:
            raise RuntimeError(
                f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
            )
        return result.stdout

    def count_call_log(self) -> int:
        code = "from callflows.models import CallLog; from portal.scoping import scopes_disabled\n"
        code += "with scopes_disabled(): print(CallLog.objects.count())"
        return int(self.manage("shell", "-c", code).strip().splitlines()[-1])

    def write_call_log_journal(self) -> int:
        """Rows left in this machine's call-log journal, written as the next edge process to
        start here would write them (the servers are stopped); returns how many were new."""
        code = "from callflows.edge.call_log import call_log_buffer\n"
        code += "print(call_log_buffer.drain())"
        return int(self.manage("shell", "-c", code).strip().splitlines()[-1])

    def log_text(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def carrier_credentials(self) -> tuple[str, str]:
        return self.env.get("XOXZO_SID", ""), self.env.get("XOXZO_AUTH_TOKEN", "")


class Launcher(Layout):
    """`make run` on the embedded default, as shipped (``extra_env``: variables a person could
    set before `make run`, e.g. an SMTP server)."""

    BANNER = "DIN Portal is running."

    def __init__(self, workdir: Path, *, extra_env: dict | None = None):
        super().__init__(workdir)
        self.port = free_ports(3)
        self.env = clean_env(VAR_DIR=workdir / "var", PORT=self.port, **(extra_env or {}))
        self.portal_url = f"http://127.0.0.1:{self.port}"
        self.edge_processes = 2  # runportal's --edge-workers
        self.edge_urls = [f"http://127.0.0.1:{self.port + 1}"]
        self.public_url = self.edge_urls[0]
        self.sandbox_url = f"http://127.0.0.1:{self.port + 2}/sandbox"

    def start(self) -> Launcher:
        make = shutil.which("make") or "make"
        self.spawn("make-run", [make, "run", f"PORT={self.port}"])
        wait_for(
            lambda: (
                self.BANNER in self.log_text("make-run")
                or self.processes["make-run"].poll() is not None
            ),
            timeout=180,
            what="make run's banner",
        )
        if self.BANNER not in self.log_text("make-run"):
            raise RuntimeError("make run stopped:\n" + self.log_text("make-run")[-3000:])
        return self

    def banner_value(self, label: str) -> str:
        match = re.search(rf"{re.escape(label)}\s*(\S+)", self.log_text("make-run"))
        return match[1] if match else ""

    def carrier_credentials(self) -> tuple[str, str]:
        sid, token = re.search(r"Sandbox account: (\S+) (\S+)", self.log_text("make-run")).groups()
        return sid, token

    def launcher_pid(self) -> int:
        """The ``runportal`` process under make (it orchestrates the stop)."""
        out = subprocess.run(  # noqa: S603
            ["pgrep", "-f", f"manage.py runportal --port {self.port}"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        return int(out[0])

    def children_alive(self) -> list[str]:
        """Command lines of any server of this launcher still running."""
        out = subprocess.run(  # noqa: S603
            ["pgrep", "-af", f"--port {self.port}|--port {self.port + 1}|--port {self.port + 2}"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return [line for line in out.splitlines() if "pgrep" not in line]

    def terminate_and_time(self) -> float:
        """SIGTERM to the launcher, as a service manager sends it; seconds until all is gone."""
        pid = self.launcher_pid()
        started = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        wait_for(
            lambda: not Path(f"/proc/{pid}").exists() and not self.children_alive(),
            timeout=60,
            interval=0.1,
            what="everything stopped",
        )
        return time.monotonic() - started


def serve(app: str, port: int, workers: int, threads: int) -> list[str]:
    """A granian command line as docs/deploy.md gives it."""
    return [
        str(BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--blocking-threads", str(threads),
        "--respawn-failed-workers", "--respawn-interval", "1",
        "--no-ws", "--log-level", "warning", app,
    ]  # fmt: skip


# docs/deploy.md: on a machine shared with the edge, pages and tasks run at a lower CPU
# priority (systemd: Nice=10), so that a call never waits for a CPU behind them.
BACKGROUND_NICENESS = 10


@dataclass
class Server:
    name: str
    command: list[str]
    health: str

    @property
    def nice_command(self) -> list[str]:
        if self.name.startswith("edge"):
            return self.command
        return ["nice", "-n", str(BACKGROUND_NICENESS), *self.command]


class ProductionLayout(Layout):
    """docs/deploy.md's layout on one machine: nginx → portal pages and two edge instances."""

    def __init__(
        self,
        workdir: Path,
        *,
        database_url: str,
        redis_url: str,
        broker_url: str,
        edge_database_url: str | None = None,
        extra_env: dict | None = None,
        media_env: dict | None = None,
    ):
        super().__init__(workdir)
        base = free_ports(6)
        self.nginx_port, self.portal_port, self.sandbox_port = base, base + 1, base + 2
        self.edge_ports = [base + 3, base + 4]
        self.edge_processes = 2 * len(self.edge_ports)  # two workers an instance
        self.portal_url = f"http://127.0.0.1:{self.nginx_port}"
        self.public_url = self.portal_url
        self.edge_urls = [f"http://127.0.0.1:{port}" for port in self.edge_ports]
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}/sandbox"
        sid, token = "E2E" + secrets.token_hex(14).upper(), secrets.token_urlsafe(24)
        # Each machine its own disk (VAR_DIR: the call log's journal, MEDIA_ROOT); they share
        # PostgreSQL, Redis and, with ``media_env`` (MEDIA_BUCKET…), the media bucket.
        common = {
            "VAR_DIR": workdir / "portal",
            "MEDIA_ROOT": workdir / "portal" / "media",
            "DATABASE_URL": database_url,
            "XOXZO_SID": sid,
            "XOXZO_AUTH_TOKEN": token,
            **(media_env or {}),
        }
        self.env = clean_env(
            **common,
            DEPLOYMENT="production",
            SECRET_KEY=secrets.token_urlsafe(50),
            REDIS_URL=redis_url,
            CELERY_BROKER_URL=broker_url,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            PUBLIC_BASE_URL=self.public_url,
            PORTAL_BASE_URL=self.portal_url,
            EMAIL_URL="consolemail://",
            DEFAULT_FROM_EMAIL="DIN Portal <noreply@example.com>",
            XOXZO_API_URL=self.sandbox_url,
            SANDBOX_ENABLED="false",
            SECURE_COOKIES="false",
            CSRF_TRUSTED_ORIGINS=self.portal_url,
            BEHIND_TLS_PROXY="false",
            TRUSTED_PROXIES="127.0.0.1/32",  # nginx connects from here; clients from others
        )
        self.env.update({k: str(v) for k, v in (extra_env or {}).items()})
        # The edge may reach the database another way (a relay a drill can hang).
        self.edge_env = {**self.env, "DATABASE_URL": edge_database_url or database_url}
        self.uses_bucket = bool((media_env or {}).get("MEDIA_BUCKET"))
        # The carrier: a separate system with its own settings (the sandbox is not production).
        # It calls back only the portal's public address (the proxy), as Xoxzo does, and runs
        # its own worker for what it does later (outbound calls ending, their callbacks).
        carrier = {k: v for k, v in common.items() if not k.startswith("MEDIA_")}
        self.carrier_env = clean_env(
            **{**carrier, "VAR_DIR": workdir / "carrier", "MEDIA_ROOT": workdir / "carrier" / "m"},
            SANDBOX_ENABLED="true",
            PORT=self.sandbox_port - 2,
            PUBLIC_BASE_URL=self.public_url,
        )

    def servers(self) -> list[Server]:
        servers = [
            Server(
                "portal",
                serve("config.wsgi.portal:application", self.portal_port, 2, 4),
                f"http://127.0.0.1:{self.portal_port}/healthz",
            ),
        ]
        for index, port in enumerate(self.edge_ports):
            servers.append(
                Server(
                    f"edge-{index}",
                    serve("config.wsgi.edge:application", port, 2, 4),
                    f"http://127.0.0.1:{port}/healthz",
                )
            )
        return servers

    def start(self) -> ProductionLayout:
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")
        self.manage("seed_demo")
        self.manage("publish_flows")
        self.manage("prepare_var", env=self.carrier_env)  # the carrier's own machine and disk
        self.spawn(
            "sandbox",
            serve("config.wsgi.sandbox:application", self.sandbox_port, 1, 8),
            env=self.carrier_env,
        )
        self.spawn(
            "carrier-worker",
            [PYTHON, "-m", "celery", "-A", "config", "worker", "-c", "1", "-Q", "celery",
             "--without-gossip", "--without-mingle", "-l", "INFO"],
            env=self.carrier_env,
        )  # fmt: skip
        for server in self.servers():
            self.spawn(server.name, server.nice_command, env=self._env_of(server.name))
        nice = ["nice", "-n", str(BACKGROUND_NICENESS)]
        self.spawn("worker", [*nice, PYTHON, "-m", "celery", "-A", "config", "worker", "-c", "2",
                              "--without-gossip", "--without-mingle", "-l", "INFO"])  # fmt: skip
        schedule = str(self.workdir / "portal" / "beat-schedule")
        self.spawn("beat", [*nice, PYTHON, "-m", "celery", "-A", "config", "beat", "-l", "INFO",
                            "--schedule", schedule])  # fmt: skip
        self._start_nginx()
        for server in self.servers():
            wait_for(lambda s=server: _get(s.health).ok, timeout=60, what=server.name)
        wait_for(lambda: _get(f"{self.sandbox_url}/healthz").ok, timeout=60, what="sandbox")
        wait_for(lambda: _get(f"{self.portal_url}/healthz").ok, timeout=30, what="nginx")
        time.sleep(1)  # a process that fails at start (beat, a worker) has done so by now
        self.assert_running()
        return self

    def assert_running(self) -> None:
        """Every process started is still running (one that died says why, from its log)."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} stopped (exit {process.returncode}):\n{self.log_text(name)[-3000:]}"
                )

    def nginx_config(self) -> str:
        """docs/deploy/nginx.conf with this machine's addresses, inside a runnable main file."""
        site = (ROOT / "docs" / "deploy" / "nginx.conf").read_text()
        site = re.sub(
            r"upstream dinportal_edge \{.*?\}",
            "upstream dinportal_edge {\n"
            + "".join(f"    server 127.0.0.1:{port} max_fails=0;\n" for port in self.edge_ports)
            + "    keepalive 32;\n}",
            site,
            flags=re.S,
        )
        site = re.sub(
            r"upstream dinportal_portal \{.*?\}",
            f"upstream dinportal_portal {{\n    server 127.0.0.1:{self.portal_port};\n"
            "    keepalive 16;\n}",
            site,
            flags=re.S,
        )
        site = re.sub(r"listen 443 ssl;", f"listen 127.0.0.1:{self.nginx_port};", site)
        site = re.sub(r"\n\s*ssl_\S+ [^;]*;", "", site)
        site = site.replace("server_name portal.example.com;", "server_name 127.0.0.1;")
        site = re.sub(r"server \{\s*listen 80;.*?\n\}\n", "", site, flags=re.S)
        site = site.replace(
            "/var/lib/dinportal/static/", str(self.workdir / "portal" / "staticfiles") + "/"
        )
        run = self.workdir / "nginx"
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (run / sub).mkdir(parents=True, exist_ok=True)
        # The test's temporary folders are private to its user: nginx's workers keep that user
        # (root in CI), and request bodies (MP3 uploads) stay in memory.
        user = "user root;" if os.geteuid() == 0 else ""
        return f"""
{user}
worker_processes 1;
pid {run}/nginx.pid;
error_log {self.logs}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_buffer_size 16m;
    client_body_temp_path {run}/client_body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    include /etc/nginx/mime.types;
{site}
}}
"""

    def _start_nginx(self) -> None:
        conf = self.workdir / "nginx" / "nginx.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(self.nginx_config())
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        test = subprocess.run(  # noqa: S603
            [nginx, "-t", "-c", str(conf), "-p", str(conf.parent)],
            capture_output=True,
            text=True,
            check=False,
        )
        if test.returncode:
            raise RuntimeError(f"nginx refused its configuration:\n{test.stderr}")
        self.spawn("nginx", [nginx, "-c", str(conf), "-p", str(conf.parent), "-g", "daemon off;"])

    def restart(self, name: str) -> None:
        """Stop one server gracefully (SIGTERM) and start it again, as a rolling restart does."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        server = next(s for s in self.servers() if s.name == name)
        self.spawn(name, server.nice_command, env=self._env_of(name))
        wait_for(lambda: _get(server.health).status_code == 200, timeout=60, what=name)

    def _env_of(self, name: str) -> dict:
        if not name.startswith("edge"):
            return self.env
        own = self.workdir / name  # an edge machine's own disk
        return {**self.edge_env, "VAR_DIR": str(own), "MEDIA_ROOT": str(own / "media")}

    def media_files(self, name: str) -> list[Path]:
        """Files in a server's own media folder ("portal", "edge-0", …)."""
        folder = self.workdir / name / "media"
        return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []

    def worker_pids(self, name: str) -> list[int]:
        """The worker processes of a granian server (its master's children)."""
        master = self.processes[name].pid
        children = Path(f"/proc/{master}/task/{master}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def rss_kib(self, name: str) -> int:
        """Resident memory of a server and its worker processes, KiB."""
        pids = [self.processes[name].pid]
        pids += [
            int(p) for p in Path(f"/proc/{pids[0]}/task/{pids[0]}/children").read_text().split()
        ]
        total = 0
        for pid in pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total

    def carrier_credentials(self) -> tuple[str, str]:
        return self.carrier_env["XOXZO_SID"], self.carrier_env["XOXZO_AUTH_TOKEN"]


class S3Bucket:
    """An S3-compatible bucket for the production layout's media: at ``E2E_S3_ENDPOINT_URL``
    (CI starts moto's server), else a moto server started here (requirements-dev.txt)."""

    def __init__(self):
        import boto3

        self.process: subprocess.Popen | None = None
        self.endpoint = os.environ.get("E2E_S3_ENDPOINT_URL", "")
        if not self.endpoint:
            port = free_ports(1)
            self.process = subprocess.Popen(  # noqa: S603
                [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
            self.endpoint = f"http://127.0.0.1:{port}"
        self.name = f"e2e-media-{secrets.token_hex(4)}"
        credentials = {"aws_access_key_id": "e2e", "aws_secret_access_key": "e2e-secret"}
        self.client = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1", **credentials
        )
        wait_for(
            lambda: self.client.create_bucket(Bucket=self.name), timeout=30, what="the S3 server"
        )

    @property
    def env(self) -> dict:
        return {
            "MEDIA_BUCKET": self.name,
            "MEDIA_S3_ENDPOINT_URL": self.endpoint,
            "MEDIA_S3_REGION": "us-east-1",
            "MEDIA_S3_ACCESS_KEY_ID": "e2e",
            "MEDIA_S3_SECRET_ACCESS_KEY": "e2e-secret",
        }

    def keys(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.name)
        return [item["Key"] for item in listing.get("Contents", [])]

    def close(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


def production_with_drills(
    workdir: Path, *, services: dict, extra_env: dict | None = None
) -> ProductionLayout:
    """The production layout (not started) on fresh databases, with what drills need: the
    edge reaches PostgreSQL, and everything reaches Redis, through relays a drill can make hang
    (``database_relay``, ``redis_relay``); media in a bucket (``bucket``). ``close_drills()``
    after ``stop()``."""
    from portal.tests.relay import TcpRelay

    services = dict(services)
    reset_services(**services)
    database = urllib.parse.urlsplit(services["database_url"])
    relay = TcpRelay(database.hostname or "127.0.0.1", database.port or 5432)
    credentials = database.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{relay.port}" if credentials else f"127.0.0.1:{relay.port}"
    redis = urllib.parse.urlsplit(services["redis_url"])
    redis_relay = TcpRelay(redis.hostname or "127.0.0.1", redis.port or 6379)
    for key in ("redis_url", "broker_url"):
        url = urllib.parse.urlsplit(services[key])
        services[key] = urllib.parse.urlunsplit(
            url._replace(netloc=f"127.0.0.1:{redis_relay.port}")
        )
    bucket = S3Bucket()  # the machines share no media folder, only this bucket
    layout = ProductionLayout(
        workdir,
        edge_database_url=urllib.parse.urlunsplit(database._replace(netloc=netloc)),
        extra_env=extra_env,
        media_env=bucket.env,
        **services,
    )
    layout.database_relay = relay
    layout.redis_relay = redis_relay
    layout.bucket = bucket
    return layout


def close_drills(layout: ProductionLayout) -> None:
    layout.database_relay.close()
    layout.redis_relay.close()
    layout.bucket.close()


def nginx_available() -> bool:
    return bool(shutil.which("nginx") or Path("/usr/sbin/nginx").exists())


def _get(url: str, timeout: float = 15) -> requests.Response:
    # Room for a machine busy with other work; a server that hangs still fails.
    return requests.get(url, timeout=timeout)


# --- People and the carrier over HTTP ----------------------------------------------------------


class _FormParser(html.parser.HTMLParser):
    """The fields of every form on a page, with the values a browser would send."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._form = {"action": attrs.get("action", ""), "attrs": attrs, "fields": []}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and attrs.get("name"):
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            if kind in ("submit", "button", "file"):
                return
            self._form["fields"].append((attrs["name"], attrs.get("value", "on")))
        elif tag == "select" and attrs.get("name"):
            self._select = attrs["name"]
            self._form["fields"].append((self._select, None))
        elif tag == "option" and self._select is not None:
            fields = self._form["fields"]
            index = max(i for i, (name, _) in enumerate(fields) if name == self._select)
            if fields[index][1] is None or "selected" in attrs:
                fields[index] = (self._select, attrs.get("value", ""))
        elif tag == "textarea" and attrs.get("name"):
            self._textarea = attrs["name"]
            self._form["fields"].append((self._textarea, ""))

    def handle_data(self, data):
        if self._textarea is not None:
            name, value = self._form["fields"][-1]
            self._form["fields"][-1] = (name, value + data)

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._form = None


def page_forms(text: str) -> list[dict]:
    parser = _FormParser()
    parser.feed(text)
    return parser.forms


class _SourceAddressAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, source_address: str):
        self.source_address = (source_address, 0)
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = self.source_address
        super().init_poolmanager(*args, **kwargs)


class PortalClient:
    """One person in a browser: signs in, reads pages, submits forms (CSRF included)."""

    def __init__(self, base_url: str, *, source_address: str | None = None):
        self.base = base_url.rstrip("/")
        self.session = requests.Session()
        if source_address:  # another client machine: loopback has 127.0.0.0/8 to choose from
            adapter = _SourceAddressAdapter(source_address)
            self.session.mount("http://", adapter)

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.get(self.url(path), **kwargs)

    def csrf(self, text: str) -> str:
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text)[1]

    def post(self, path: str, data, *, page: str | None = None, **kwargs) -> requests.Response:
        referer = self.url(page or path)
        if isinstance(data, dict):
            data = list(data.items())
        if not any(name == "csrfmiddlewaretoken" for name, _ in data):
            token = self.session.cookies.get("csrftoken") or self.csrf(self.get(referer).text)
            data = [("csrfmiddlewaretoken", token), *data]
        kwargs.setdefault("timeout", 30)
        return self.session.post(self.url(path), data=data, headers={"Referer": referer}, **kwargs)

    def try_sign_in(self, email: str, password: str = DEMO_PASSWORD) -> requests.Response:
        login = self.get("/account/login/")
        return self.post(
            "/account/login/",
            {"csrfmiddlewaretoken": self.csrf(login.text), "username": email, "password": password},
        )

    def sign_in(
        self, email: str, password: str = DEMO_PASSWORD, *, second_factor: str | None = None
    ) -> PortalClient:
        """Signed in through the login page; ``second_factor``: a code (or recovery code) for
        a person the portal asks for one (operators in production)."""
        response = self.try_sign_in(email, password)
        if "/account/login/" in response.url:
            raise RuntimeError(f"could not sign in as {email}")
        if "/second-factor/code/" in response.url:
            if second_factor is None:
                raise RuntimeError(f"{email} is asked for a second factor and has none here")
            response = self.post(
                response.url,
                {"csrfmiddlewaretoken": self.csrf(response.text), "code": second_factor},
            )
            if "/second-factor/code/" in response.url:
                raise RuntimeError(f"the second factor of {email} was refused")
        self.session.headers["Accept-Language"] = "en"
        return self

    def submit(self, path: str, changes: dict) -> requests.Response:
        """Fill the form of ``path`` that has the fields being changed, as shown, and send it."""
        page = self.get(path)
        form = next(
            f
            for f in page_forms(page.text)
            if set(changes) <= {name for name, _value in f["fields"]}
        )
        fields = [(name, value) for name, value in form["fields"] if name not in changes]
        for name, value in changes.items():
            values = value if isinstance(value, list) else [value]
            fields.extend((name, str(v)) for v in values)
        return self.post(form["action"] or path, fields, page=path)

    def number_codes(self) -> list[str]:
        return sorted(set(re.findall(r"/numbers/([0-9a-f-]{36})/", self.get("/numbers/").text)))

    def din_of(self, code: str) -> str:
        """The number's E.164 digits, read from its page's title as a person reads it."""
        title = re.search(r"<title>(.*?)</title>", self.get(f"/numbers/{code}/").text, re.S)[1]
        digits = "".join(ch for ch in title.split("·")[0] if ch.isdigit())
        return "81" + digits[1:] if digits.startswith("0") else digits

    def test_call(self, code: str, caller: str = "+819012345678", timeout: float = 30) -> dict:
        """Press "Test call" on a number's flow page and follow it as the page does."""
        started = time.monotonic()
        response = self.post(
            f"/numbers/{code}/flow/test-call/",
            {"caller": caller},
            page=f"/numbers/{code}/flow/",
            allow_redirects=False,
        )
        if response.status_code != 302:
            return {"status": f"http {response.status_code}", "seconds": 0.0, "text": ""}
        location = response.headers["Location"]
        fragment = ""
        while time.monotonic() - started < timeout:
            fragment = self.get(location, headers={"HX-Request": "true"}).text
            status = re.search(r'data-test-call-status="(\w+)"', fragment)[1]
            if status in ("done", "failed"):
                outcome = re.search(r'data-test-call-outcome="(\w*)"', fragment)[1]
                return {
                    "status": status,
                    "outcome": outcome,
                    "seconds": time.monotonic() - started,
                    "text": re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).strip(),
                }
            time.sleep(0.2)
        return {"status": "timeout", "seconds": time.monotonic() - started, "text": fragment}


class Carrier:
    """Rings numbers as Xoxzo does: a GET to the action URL it holds, one call at a time."""

    def __init__(self, layout: Layout):
        self.layout = layout
        sid, token = layout.carrier_credentials()
        self.auth = (sid, token)

    def numbers(self) -> dict[str, str]:
        """E.164 digits → action URL, from the carrier's own subscription list."""
        response = requests.get(
            f"{self.layout.sandbox_url}/voice/dins/subscriptions/", auth=self.auth, timeout=10
        )
        response.raise_for_status()
        return {
            item["din"]: item["action"]["url"]
            for item in response.json()
            if (item.get("action") or {}).get("url")
        }

    @staticmethod
    def ring(action_url: str, *, caller: str, din: str, timeout: float = 5.0) -> Call:
        """One call; a fresh connection each time, as separate calls arrive."""
        query = urllib.parse.urlencode({"caller": caller, "recipient": din})
        started = time.perf_counter()
        try:
            response = requests.get(
                f"{action_url}?{query}", timeout=timeout, headers={"Connection": "close"}
            )
        except requests.ConnectionError as error:
            refused = "refused" in str(error).lower()
            return Call(
                None, "", "", time.perf_counter() - started, "refused" if refused else str(error)
            )
        except requests.RequestException as error:
            return Call(None, "", "", time.perf_counter() - started, type(error).__name__)
        return Call(
            response.status_code,
            response.text,
            response.headers.get("X-Edge-Process", ""),
            time.perf_counter() - started,
            "",
        )


@dataclass
class Call:
    status: int | None
    body: str
    process: str
    seconds: float
    error: str

    @property
    def answered(self) -> bool:
        return self.status == 200 and self.body.endswith("\n") and self.body.count("\n") == 1


def percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(percent / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


@dataclass
class Latency:
    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        ms = [s * 1000 for s in self.seconds]
        return {
            "calls": len(ms) + len(self.failures),
            "failed": len(self.failures),
            "p50_ms": round(statistics.median(ms), 2) if ms else None,
            "p99_ms": round(percentile(ms, 99), 2) if ms else None,
            "max_ms": round(max(ms), 2) if ms else None,
        }


def ring_for(seconds: float, numbers: dict[str, str], *, caller="+819012345678") -> Latency:
    """Ring the numbers one call at a time for ``seconds``; every call must be answered."""
    result = Latency()
    items = list(numbers.items())
    deadline = time.monotonic() + seconds
    index = 0
    while time.monotonic() < deadline:
        din, url = items[index % len(items)]
        index += 1
        call = Carrier.ring(url, caller=caller, din=din)
        if call.answered:
            result.seconds.append(call.seconds)
        else:
            result.failures.append(f"{call.status} {call.error} {call.body[:40]!r}")
        time.sleep(0.01)
    return result


def warm(numbers: dict[str, str], *, processes: int, timeout: float = 60) -> None:
    """Ring every number until each of ``processes`` edge processes has answered each of them.

    A process answers from memory only the numbers it has loaded; calls through the proxy reach
    the instances' workers as the kernel hands out connections, so a fixed time of ringing can
    leave a worker cold. Rings from several threads at once until every (process, number) pair
    has been seen.
    """
    seen: set[tuple[str, str]] = set()
    wanted = processes * len(numbers)
    deadline = time.monotonic() + timeout
    items = list(numbers.items())
    lock = threading.Lock()

    def ring_until_warm(offset: int) -> None:
        index = offset
        while time.monotonic() < deadline:
            with lock:
                if len(seen) >= wanted:
                    return
            din, url = items[index % len(items)]
            index += 1
            call = Carrier.ring(url, caller="+819012345678", din=din)
            if call.answered and call.process:
                with lock:
                    seen.add((call.process, din))

    threads = [threading.Thread(target=ring_until_warm, args=(n,), daemon=True) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(seen) < wanted:
        raise TimeoutError(
            f"after {timeout:.0f} s, {len(seen)} of {wanted} (edge process, number) pairs answered"
        )


PORTAL_PAGES = ("/numbers/search/?kind=jp-050", "/", "/calls/", "/calls/export.csv")


class Saturation:
    """``clients`` signed-in people loading ordinary pages as fast as they can.

    They run in a process of their own (``python -m e2e.harness saturate``), so that their
    work does not share an interpreter with whoever measures the calls meanwhile.
    """

    def __init__(self, base_url: str, *, clients: int = 8, email: str = OWNER_SAKURA):
        # Nice, like the people's browsers it stands for: they run on other machines, not on
        # the CPU the servers share.
        self.command = [
            "nice", "-n", str(BACKGROUND_NICENESS),
            PYTHON, "-m", "e2e.harness", "saturate", base_url, str(clients), email,
        ]  # fmt: skip
        self.process: subprocess.Popen | None = None
        self.pages = 0
        self.errors: list[str] = []

    def __enter__(self) -> Saturation:
        self.process = subprocess.Popen(  # noqa: S603
            self.command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        ready = self.process.stdout.readline()  # every client signed in and busy
        if ready.strip() != "ready":
            raise RuntimeError(f"the page load did not start: {ready!r}")
        return self

    def __exit__(self, *exc_info) -> None:
        out, _ = self.process.communicate("stop\n", timeout=120)
        result = json.loads(out.strip().splitlines()[-1])
        self.pages, self.errors = result["pages"], result["errors"]


def _saturate(base_url: str, clients: int, email: str) -> None:
    stop = threading.Event()
    lock = threading.Lock()
    pages = [0]
    errors: list[str] = []
    signed_in = threading.Barrier(clients + 1)

    def run(offset: int) -> None:
        person = PortalClient(base_url).sign_in(email)
        signed_in.wait()
        index = offset
        while not stop.is_set():
            path = PORTAL_PAGES[index % len(PORTAL_PAGES)]
            index += 1
            try:
                status = person.get(path, timeout=60).status_code
            except requests.RequestException as error:
                status = type(error).__name__
            with lock:
                pages[0] += 1
                if status != 200:
                    errors.append(f"{path}: {status}")

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    signed_in.wait()
    time.sleep(1)
    print("ready", flush=True)
    sys.stdin.readline()
    stop.set()
    for thread in threads:
        thread.join(timeout=90)
    print(json.dumps({"pages": pages[0], "errors": errors[:20]}), flush=True)


def edge_processes(numbers: dict[str, str], *, expected: int, timeout: float = 20) -> set[str]:
    """The distinct edge processes that answer, once ``expected`` of them have been seen."""
    seen: set[str] = set()
    din, url = next(iter(numbers.items()))
    deadline = time.monotonic() + timeout
    while len(seen) < expected and time.monotonic() < deadline:
        call = Carrier.ring(url, caller="+819012345678", din=din)
        if call.answered:
            seen.add(call.process)
    return seen


def until_every_process_answers(
    url: str, din: str, expected_line: str, processes: set[str], *, timeout: float = 15
) -> float:
    """Seconds until every edge process in ``processes`` answers ``expected_line``."""
    started = time.monotonic()
    pending = set(processes)
    while pending and time.monotonic() - started < timeout:
        call = Carrier.ring(url, caller="+819012345678", din=din)
        if call.answered and call.body.strip() == expected_line:
            pending.discard(call.process)
    if pending:
        raise AssertionError(f"{sorted(pending)} still answer the old line after {timeout}s")
    return time.monotonic() - started


# --- What the processes send out: e-mail, webhooks ---------------------------------------------


class MailSink:
    """An SMTP server on loopback that keeps every message (the layouts' ``EMAIL_URL``).

    Plain SMTP as Django's backend speaks it (EHLO, MAIL, RCPT, DATA, QUIT; no TLS, no
    authentication): the processes send their e-mails for real, and tests read them here.
    """

    def __init__(self):
        import email
        import email.policy
        import socketserver

        self.messages: list = []
        self._lock = threading.Lock()
        sink = self

        class Session(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 e2e mail sink\r\n")
                data: list[bytes] | None = None
                while line := self.rfile.readline():
                    if data is not None:
                        if line.rstrip(b"\r\n") == b".":
                            message = email.message_from_bytes(
                                b"".join(data), policy=email.policy.default
                            )
                            with sink._lock:
                                sink.messages.append(message)
                            data = None
                            self.wfile.write(b"250 kept\r\n")
                        else:
                            data.append(line[1:] if line.startswith(b"..") else line)
                        continue
                    verb = line[:4].upper()
                    if verb == b"EHLO":
                        self.wfile.write(b"250-e2e\r\n250 8BITMIME\r\n")
                    elif verb == b"DATA":
                        data = []
                        self.wfile.write(b"354 end with .\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:  # HELO, MAIL, RCPT, RSET, NOOP
                        self.wfile.write(b"250 ok\r\n")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Session)
        self.port = self._server.server_address[1]
        self.url = f"smtp://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @staticmethod
    def text(message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()

    @staticmethod
    def links(message) -> list[str]:
        """Every http(s) link of the message, in its text part and its HTML part."""
        found = re.findall(r"https?://[^\s\"'<>]+", MailSink.text(message))
        html_part = message.get_body(preferencelist=("html",))
        if html_part is not None:
            found += re.findall(r'href="(https?://[^"]+)"', html_part.get_content())
        return list(dict.fromkeys(link.replace("&amp;", "&") for link in found))

    def wait_for(self, to: str, text_has: str = "", *, timeout: float = 90):
        """The first message to ``to`` whose text part contains ``text_has`` (a link, a word
        in no language in particular)."""

        def found():
            with self._lock:
                for message in self.messages:
                    if to in str(message["To"]) and text_has in self.text(message):
                        return message
            return None

        return wait_for(found, timeout=timeout, what=f"an e-mail to {to} with {text_has!r}")


class WebhookReceiver:
    """An HTTP server on loopback that records what is POSTed to it (a company's receiver)."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/din"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def events(self, name: str) -> list[dict]:
        return [r for r in self.received if json.loads(r["body"]).get("event") == name]


def to_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def reset_services(*, database_url: str, redis_url: str, broker_url: str) -> None:
    """A fresh PostgreSQL database and empty Redis databases for the production layout."""
    import psycopg
    import redis

    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    for url in (redis_url, broker_url):
        redis.Redis.from_url(url).flushdb()


if __name__ == "__main__":
    if sys.argv[1] == "saturate":
        _saturate(sys.argv[2], int(sys.argv[3]), sys.argv[4])
