"""Benchmark of the trial sweep: its cost must follow the number of due trials, not the total.

Builds a throw-away database (``<DATABASE_URL's name>_bench`` on PostgreSQL, a temporary
file on SQLite), fills it with subscriptions in every state, and times ``trial_sweep()`` with
its query count for several (total, due) pairs (every statement counted, at any size).
By default nothing is sent to a broker: the release tasks the sweep hands over are counted
instead. ``--broker`` hands them to a real one (its queue is emptied after each run), so the
time includes the hand-over the scheduler's sweep pays in production.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dinportal .venv/bin/python bench/trial_sweep.py
    .venv/bin/python bench/trial_sweep.py --scenarios 100000:5000 10000:500
    .venv/bin/python bench/trial_sweep.py --scenarios 100000:5000 --broker redis://127.0.0.1:6379/4
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _bench_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        base, _, name = url.rpartition("/")
        return f"{base}/{name.split('?')[0] or 'dinportal'}_bench"
    return f"sqlite:///{tempfile.mkdtemp(prefix='dinportal-bench-')}/bench.sqlite3"


def _prepare_database(url: str) -> None:
    if url.startswith("postgres"):
        import psycopg

        base, _, name = url.rpartition("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')


class QueryCounter:
    """Counts every statement sent (``connection.execute_wrapper``). Django's own query log
    keeps only the last 9,000, so a count read from it stops growing past that."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenarios",
        nargs="+",
        default=["100000:5000", "100000:500", "10000:500", "100000:0"],
        help="total:due pairs",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--broker", default="", help="hand the release tasks to this broker")
    args = parser.parse_args()
    if args.broker:
        os.environ["CELERY_BROKER_URL"] = args.broker

    url = _bench_database_url()
    _prepare_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from config.var import var_prepare

    var_prepare()  # as manage.py does: var/ and its secrets
    import django

    django.setup()
    from celery import Celery
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from dins.models import Subscription, SubscriptionStatus
    from dins.subscriptions.common import trial_times
    from dins.subscriptions.sweep import trial_sweep
    from portal.models import Tenant
    from portal.scoping import scopes_disabled

    call_command("migrate", verbosity=0)
    enqueued = []
    send = Celery.send_task

    def hand_over(self, name, args=None, kwargs=None, **options):
        # Releases go through the outbox, handed to the broker by name: count them.
        enqueued.append(name)
        return send(self, name, args, kwargs, **options) if broker else None

    broker = args.broker
    Celery.send_task = hand_over

    def empty_queue() -> None:
        from config.celery import app

        with app.connection_for_write() as channel_owner:
            channel_owner.default_channel.queue_purge("celery")

    def fill(total: int, due: int) -> None:
        with scopes_disabled():
            Subscription.objects.all().delete()
            tenants = [Tenant.objects.create(name=f"Bench {i}") for i in range(10)]
            now = timezone.now()
            rows = []
            for i in range(total):
                tenant = tenants[i % len(tenants)]
                row = Subscription(
                    tenant=tenant,
                    din_uid=f"B{i:012d}",
                    din=f"8150{i:08d}",
                    country_code="81",
                    prefix="50",
                    monthly_cost=Decimal(650),
                    minute_cost=Decimal(1),
                    trial_price=Decimal("32.5"),
                    action_token=f"bench-token-{i}",
                )
                if i < due:  # trials accepted 23h40m ago: 10 minutes past release_at
                    accepted = now - timedelta(hours=23, minutes=40)
                    row.status, row.is_trial = SubscriptionStatus.ACTIVE, True
                elif i % 5 == 0:  # trials still running, deadline 7-24 h ahead
                    accepted = now - timedelta(minutes=(i * 7) % (17 * 60))
                    row.status, row.is_trial = SubscriptionStatus.ACTIVE, True
                elif i % 5 == 1:
                    accepted = now - timedelta(days=40)
                    row.status, row.released_at = (
                        SubscriptionStatus.RELEASED,
                        now - timedelta(days=9),
                    )
                else:
                    accepted = now - timedelta(days=(i % 300) + 1)
                    row.status = SubscriptionStatus.ACTIVE
                row.carrier_accepted_at = accepted
                if row.is_trial:
                    row.trial_deadline, row.release_at = trial_times(accepted)
                rows.append(row)
            Subscription.objects.bulk_create(rows, batch_size=5000)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE dins_subscription")

    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    print(f"broker: {broker or 'none (hand-overs counted, not sent)'}")
    print(
        f"{'total':>8} {'due':>6} {'claimed':>8} {'enqueued':>8} {'queries':>7} "
        f"{'best ms':>8} {'ms/due':>7}"
    )
    measured = []
    for scenario in args.scenarios:
        total, due = (int(part) for part in scenario.split(":"))
        timings, queries, claimed = [], 0, 0
        for _ in range(args.repeat):
            fill(total, due)
            enqueued.clear()
            counter = QueryCounter()
            with connection.execute_wrapper(counter):
                started = time.perf_counter()
                result = trial_sweep()
                timings.append((time.perf_counter() - started) * 1000)
            queries, claimed = counter.count, len(result.claimed)
            if broker:
                empty_queue()
        best = min(timings)
        per_due = f"{best / due:.3f}" if due else "-"
        print(
            f"{total:>8} {due:>6} {claimed:>8} {len(enqueued):>8} {queries:>7} "
            f"{best:>8.1f} {per_due:>7}"
        )
        measured.append((due, queries, best, claimed == due == len(enqueued)))
    verdict(measured)


# Issue 20: a few queries however many are due; 5,000 due trials in under a second.
TARGET_QUERIES, TARGET_MS_AT_5000 = 12, 1000.0


def verdict(measured: list[tuple[int, int, float, bool]]) -> None:
    busy = {queries for due, queries, _ms, _ok in measured if due}
    lines = [
        f"every due trial claimed and handed over once: "
        f"{'ok' if all(ok for *_rest, ok in measured) else 'MISSED'}",
        f"queries the same for every count due and at most {TARGET_QUERIES}: "
        f"{'ok' if len(busy) <= 1 and max(busy, default=0) <= TARGET_QUERIES else 'MISSED'}"
        f" ({', '.join(str(q) for q in sorted(busy))})",
    ]
    at_5000 = [ms for due, _queries, ms, _ok in measured if due == 5000]
    if at_5000:
        ok = at_5000[0] < TARGET_MS_AT_5000
        lines.append(f"5,000 due under 1 s: {'ok' if ok else 'MISSED'} ({at_5000[0]:.0f} ms)")
    print("verdict: " + "; ".join(lines))


if __name__ == "__main__":
    main()
