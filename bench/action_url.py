"""Benchmark of the action URL against a constant view and a one-lookup view, same server.

Builds a throw-away database (``<DATABASE_URL's name>_bench`` on PostgreSQL, a temporary file on
SQLite) with ``--numbers`` active numbers spread over ``--tenants`` companies, each with a
realistic flow (holiday → voicemail with a Japanese greeting; anonymous caller → a polite
refusal; weekdays 9:00-18:00 → an MP3 or a TTS script; otherwise voicemail), published as
``callflows.flows.publishing`` publishes them, then for each WSGI server starts the edge
(``config.wsgi.edge``) on a free loopback port with ``BENCH_VIEWS_ENABLED`` and drives it with
wrk (requests spread over every number, one caller in ten withheld):

- ``constant``: a Django view answering a fixed line (the ceiling; the ratio is the figure);
- ``lookup``: one ORM query per call, answer the number's stored command (Xoxzo's sample);
- ``action``: the real ``/a/<token>/`` (call log buffered, as in production);
- ``action-nolog``: the same with the call log switched off (``BENCH_CALL_LOG_DISABLED``),
  a server of its own.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dinportal .venv/bin/python bench/action_url.py
    .venv/bin/python bench/action_url.py --servers granian --duration 5 --numbers 2000

Needs wrk (Debian: ``apt-get install -y wrk``); gunicorn only for ``--servers gunicorn``.
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.trial_sweep import _bench_database_url, _prepare_database  # noqa: E402

VENV_BIN = Path(sys.executable).parent
PUBLIC_BASE_URL = "https://portal.example.com"
TARGETS = {"ratio_constant": 0.9, "ratio_lookup": 2.0, "p99_ms": 25.0}

SERVERS = {
    "granian": lambda port: [
        str(VENV_BIN / "granian"),
        "--interface",
        "wsgi",
        "--workers",
        "2",
        "--blocking-threads",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "config.wsgi.edge:application",
    ],
    "gunicorn": lambda port: [
        str(VENV_BIN / "gunicorn"),
        "--workers",
        "2",
        "--worker-class",
        "sync",
        "--no-control-socket",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "config.wsgi.edge:application",
    ],
}

PATHS = {
    "constant": "/bench/constant/",
    "lookup": "/bench/lookup/",
    "action": "/a/",
    "action-nolog": "/a/",
}

# Spreads requests uniformly over every number; 5 % "anonymous", 5 % empty caller, the rest a
# random mobile number. Prints one JSON line with the totals and the latency percentiles.
WRK_LUA = r"""
local counter = 1
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local tokens, dins, n = {}, {}, 0
local prefix = "/a/"
function init(args)
  prefix = args[1]
  for line in io.lines(args[2]) do
    local token, din = line:match("(%S+) (%S+)")
    n = n + 1
    tokens[n] = token
    dins[n] = din
  end
  math.randomseed(os.time() * 1000 + (id or 0) * 7919)
end

function request()
  local i = math.random(n)
  local r = math.random(100)
  local caller
  if r <= 5 then
    caller = "anonymous"
  elseif r <= 10 then
    caller = ""
  else
    caller = "%2B8190" .. math.random(10000000, 99999999)
  end
  local query = "/?caller=" .. caller .. "&recipient=%2B" .. dins[i]
  return wrk.format("GET", prefix .. tokens[i] .. query)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, ' ..
    '"p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""

HOLIDAY_GREETING = (
    "本日は休業日のため、お電話を承ることができません。"
    "恐れ入りますが、発信音の後にお名前とご用件をお話しください。"
)
ANONYMOUS_REFUSAL = (
    "恐れ入りますが、番号非通知のお電話はお受けしておりません。"
    "電話番号を通知しておかけ直しください。"
)
WELCOME_EN = "Thank you for calling. Please hold while we connect you to our staff."
AFTER_HOURS_JA = "本日の受付は終了しました。発信音の後にメッセージをお残しください。"


# --- Data -------------------------------------------------------------------------------------


def fill(numbers: int, tenants: int) -> list[tuple[str, str]]:
    """Tenants, their assets and closed dates, numbers with flows; returns (token, din)."""
    from django.utils import timezone

    from callflows.flows.compiler import COMPILER_VERSION, flow_compile
    from callflows.models import AudioFile, CallFlow, ClosedDate, PublishedFlow, TtsScript
    from dins.models import Subscription, SubscriptionStatus
    from portal.models import Tenant
    from portal.scoping import scopes_disabled, tenant_scope

    today = timezone.localdate()
    with scopes_disabled():
        companies = Tenant.objects.bulk_create(
            [Tenant(name=f"Bench company {t}") for t in range(tenants)]
        )
        documents, commands, compiled_flows = {}, {}, {}
        for t, tenant in enumerate(companies):
            audio = AudioFile.objects.create(
                tenant=tenant, label="Welcome", size_bytes=48_000, duration_seconds=3.0
            )
            audio.file.name = f"audio/{audio.public_id}.mp3"  # the action URL only needs the id
            audio.save(update_fields=["file"])
            scripts = {
                key: TtsScript.objects.create(tenant=tenant, name=key, language=lang, text=text)
                for key, lang, text in (
                    ("holiday", "ja", HOLIDAY_GREETING),
                    ("refusal", "ja", ANONYMOUS_REFUSAL),
                    ("welcome", "en", WELCOME_EN),
                    ("after", "ja", AFTER_HOURS_JA),
                )
            }
            closed = [today.replace(month=12, day=d) for d in (29, 30, 31)]
            if t % 10 == 0:  # one company in ten is closed today: the holiday rule answers
                closed.append(today)
            ClosedDate.objects.bulk_create(
                [ClosedDate(tenant=tenant, date=d) for d in sorted(set(closed))]
            )
            for variant in range(4):
                open_action = (
                    {"type": "playback", "audio": str(audio.code)}
                    if variant % 2 == 0
                    else {"type": "say", "script": str(scripts["welcome"].code)}
                )
                default = {"type": "voicemail", "greeting": None}
                if variant >= 2:
                    default["greeting"] = {"type": "say", "script": str(scripts["after"].code)}
                document = {
                    "rules": [
                        {
                            "label": "Holiday",
                            "when": {"type": "holiday"},
                            "then": {
                                "type": "voicemail",
                                "greeting": {"type": "say", "script": str(scripts["holiday"].code)},
                            },
                        },
                        {
                            "label": "Anonymous",
                            "when": {"type": "anonymous"},
                            "then": {"type": "say", "script": str(scripts["refusal"].code)},
                        },
                        {
                            "label": "Business hours",
                            "when": {
                                "type": "hours",
                                "weekdays": [0, 1, 2, 3, 4],
                                "start": "09:00",
                                "end": "18:00",
                            },
                            "then": open_action,
                        },
                    ],
                    "default": default,
                }
                with tenant_scope(tenant):  # every reference resolves: the documents are valid
                    compiled = flow_compile(document, tenant=tenant)
                documents[t, variant] = document
                compiled_flows[t, variant] = compiled
                commands[t, variant] = compiled["rules"][2]["command"]
                assert len(commands[t, variant]) <= 100, "the lookup view keeps it in label"

        now = timezone.now()
        rows = []
        for i in range(numbers):
            t, variant = i % tenants, (i // tenants) % 4
            rows.append(
                Subscription(
                    tenant=companies[t],
                    din_uid=f"BENCH{i:010d}",
                    din=f"8150{i:08d}",
                    country_code="81",
                    prefix="50",
                    monthly_cost=Decimal(650),
                    minute_cost=Decimal(1),
                    trial_price=Decimal("32.5"),
                    status=SubscriptionStatus.ACTIVE,
                    carrier_accepted_at=now - timedelta(days=i % 300 + 1),
                    label=commands[t, variant],  # the lookup view's stored command
                )
            )
        subscriptions = Subscription.objects.bulk_create(rows, batch_size=2000)
        CallFlow.objects.bulk_create(
            [
                CallFlow(
                    tenant_id=s.tenant_id,
                    subscription=s,
                    document=documents[i % tenants, (i // tenants) % 4],
                )
                for i, s in enumerate(subscriptions)
            ],
            batch_size=2000,
        )
        # Published as callflows.flows.publishing publishes them (one compile per distinct document
        # here instead of one per number: the same data, filled in seconds).
        expires = now + timedelta(days=30)
        published = []
        for i, s in enumerate(subscriptions):
            compiled = {
                **compiled_flows[i % tenants, (i // tenants) % 4],
                "tenant_id": s.tenant_id,
                "subscription_id": s.pk,
                "version": 1,
                "expires": expires.timestamp(),
            }
            published.append(
                PublishedFlow(
                    tenant_id=s.tenant_id,
                    subscription=s,
                    token=s.action_token,
                    compiled=compiled,
                    stamp=f"{i:032x}",
                    flow_version=1,
                    compiler_version=COMPILER_VERSION,
                    expires_at=expires,
                )
            )
        PublishedFlow.objects.bulk_create(published, batch_size=2000)
    return [(s.action_token, s.din) for s in subscriptions]


def reuse() -> list[tuple[str, str]]:
    from dins.models import Subscription
    from portal.scoping import scopes_disabled

    with scopes_disabled():
        rows = Subscription.objects.filter(din_uid__startswith="BENCH").order_by("pk")
        numbers = list(rows.values_list("action_token", "din"))
    if not numbers:
        sys.exit("--reuse: the benchmark database holds no numbers; run once without it")
    return numbers


# --- Server and load --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, name: str, env: dict, log: Path):
        self.name, self.port = name, free_port()
        self.log = log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (our own server, fixed arguments)
            SERVERS[name](self.port),
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers form a group we can stop as one
        )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"{name} exited with {self.process.returncode}; see {log}")
            try:
                get(self.url("/bench/constant/x/"), timeout=2)
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise SystemExit(f"{name} did not answer within 30 s; see {log}") from None
                time.sleep(0.2)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def verify(server: Server, numbers: list[tuple[str, str]], sample: int) -> dict[str, int]:
    """Every sampled number answers 200 with one line the carrier's strict parser accepts."""
    from sandbox import grammar

    kinds: dict[str, int] = {}
    for token, din in random.sample(numbers, min(sample, len(numbers))):
        for caller in ("%2B819012345678", "anonymous", ""):
            for path in ("/a/", "/bench/lookup/"):
                status, body = get(server.url(f"{path}{token}/?caller={caller}&recipient={din}"))
                if status != 200:
                    raise SystemExit(f"{path}{token}/ answered {status}")
                command = grammar.parse(body)  # raises CommandError with the reason
                if path == "/a/":
                    name = type(command).__name__
                    if name == "Voicemail" and command.greeting is not None:
                        name += "+" + type(command.greeting).__name__
                    kinds[name] = kinds.get(name, 0) + 1
    status, body = get(server.url("/a/not-a-token/?caller=anonymous"))
    if (status, body) != (404, ""):
        raise SystemExit(f"an unknown token answered {status} {body!r}")
    return kinds


def wrk(server: Server, path: str, lua: Path, tokens_file: Path, *, connections, seconds):
    threads = 1 if connections == 1 else 2
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(lua),
        server.url("/"),
        "--",
        path,
        str(tokens_file),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    line = next(row for row in output.splitlines() if row.startswith("WRK "))
    result = json.loads(line[4:])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def cold_start(server, lua, tokens_file, args) -> None:
    """Fresh edge processes read each number's published flow once: load them all."""
    if args.server_warmup:
        r = wrk(
            server,
            "/a/",
            lua,
            tokens_file,
            connections=args.connections,
            seconds=args.server_warmup,
        )
        print(f"{server.name}: cold start, first {args.server_warmup} s: {r['rps']:.0f} req/s")


def measure(server, target, lua, tokens_file, args) -> dict:
    path = PATHS[target]
    wrk(server, path, lua, tokens_file, connections=args.connections, seconds=args.warmup)
    runs = [
        wrk(server, path, lua, tokens_file, connections=args.connections, seconds=args.duration)
        for _ in range(args.repeat)
    ]
    best = max(runs, key=lambda r: r["rps"])
    one = wrk(server, path, lua, tokens_file, connections=1, seconds=args.serial_duration)
    return {
        "rps": statistics.median(r["rps"] for r in runs),
        "p50_ms": best["p50_us"] / 1000,
        "p99_ms": statistics.median(r["p99_us"] for r in runs) / 1000,
        "serial_p50_ms": one["p50_us"] / 1000,
        "serial_rps": one["rps"],
        "errors": sum(r["errors"] + r["non2xx"] for r in runs) + one["errors"] + one["non2xx"],
    }


# --- Main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=10_000)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--servers", nargs="+", choices=sorted(SERVERS), default=list(SERVERS))
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds before each measurement")
    parser.add_argument(
        "--server-warmup",
        type=int,
        default=60,
        help="seconds of action-URL load after each server start, so that every process holds "
        "(almost) every flow in memory as a long-running one does; its req/s is printed as the "
        "cold start (at 2k req/s over 10,000 numbers, 60 s leaves each process ~1%% to fetch)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="measured runs per cell (median)")
    parser.add_argument("--serial-duration", type=int, default=5, help="seconds at 1 connection")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the numbers of the previous run's database"
    )
    parser.add_argument("--sample", type=int, default=200, help="numbers verified before timing")
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk (Debian's package)")
    for name in args.servers:
        if not (VENV_BIN / name).exists():
            sys.exit(f"{name} is not installed in {VENV_BIN}: pip install -r requirements-dev.txt")

    url = _bench_database_url()
    if not args.reuse:
        _prepare_database(url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "false",
        "BENCH_VIEWS_ENABLED": "true",
    }
    env.pop("BENCH_CALL_LOG_DISABLED", None)
    os.environ.update(env)
    from config.var import var_prepare

    var_prepare()  # as manage.py does: var/ and its secrets
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    numbers = reuse() if args.reuse else fill(args.numbers, args.tenants)
    filled = time.perf_counter() - started
    connection.close()

    work = Path(tempfile.mkdtemp(prefix="dinportal-bench-action-"))
    lua, tokens_file = work / "action_url.lua", work / "tokens.txt"
    lua.write_text(WRK_LUA)
    tokens_file.write_text("".join(f"{token} {din}\n" for token, din in numbers))

    print(f"database: {connection.vendor} ({settings.DATABASES['default']['NAME']})")
    print(
        f"{len(numbers)} numbers with published flows: "
        f"{'reused' if args.reuse else 'filled'} in {filled:.1f} s"
    )
    print(f"machine: {os.cpu_count()} CPUs, {platform_line()}")
    print(
        f"wrk: {args.connections} connections, {args.warmup} s warm-up + {args.duration} s "
        f"x{args.repeat}; one at a time: 1 connection, {args.serial_duration} s; logs in {work}"
    )

    results: dict[tuple[str, str], dict] = {}
    for name in args.servers:
        server = Server(name, env, work / f"{name}.log")
        try:
            kinds = verify(server, numbers, args.sample)
            print(f"{name}: verified {args.sample} numbers x 3 callers, answers: {kinds}")
            cold_start(server, lua, tokens_file, args)
            for target in ("constant", "lookup", "action"):
                results[name, target] = measure(server, target, lua, tokens_file, args)
        finally:
            server.stop()
        server = Server(name, {**env, "BENCH_CALL_LOG_DISABLED": "true"}, work / f"{name}.log")
        try:
            cold_start(server, lua, tokens_file, args)
            results[name, "action-nolog"] = measure(server, "action", lua, tokens_file, args)
        finally:
            server.stop()

    print()
    print(
        f"{'server':<9} {'view':<13} {'req/s':>7} {'x const':>6} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'c=1 p50':>8} {'errors':>6}"
    )
    for (name, target), r in results.items():
        ratio = r["rps"] / results[name, "constant"]["rps"]
        print(
            f"{name:<9} {target:<13} {r['rps']:>7.0f} {ratio:>6.2f} {r['p50_ms']:>7.2f} "
            f"{r['p99_ms']:>7.2f} {r['serial_p50_ms']:>8.2f} {r['errors']:>6}"
        )
    print()
    for name in args.servers:
        action, constant = results[name, "action"], results[name, "constant"]
        lookup, nolog = results[name, "lookup"], results[name, "action-nolog"]
        checks = [
            ("≥ 0.9x constant", action["rps"] / constant["rps"], TARGETS["ratio_constant"]),
            ("≥ 2x lookup", action["rps"] / lookup["rps"], TARGETS["ratio_lookup"]),
        ]
        line = ", ".join(
            f"{label}: {value:.2f} {'ok' if value >= goal else 'MISSED'}"
            for label, value, goal in checks
        )
        p99 = action["p99_ms"]
        verdict = "ok" if p99 <= TARGETS["p99_ms"] else "MISSED"
        print(
            f"verdict {name}: {line}, p99 ≤ {TARGETS['p99_ms']:g} ms: {p99:.2f} {verdict}; "
            f"call log on/off: {action['rps'] / nolog['rps']:.2f}"
        )


def platform_line() -> str:
    import platform

    model = ""
    try:
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                model = row.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cpu = model or platform.processor()
    return f"{cpu}, Python {platform.python_version()}, {platform.system()} {platform.release()}"


if __name__ == "__main__":
    main()
