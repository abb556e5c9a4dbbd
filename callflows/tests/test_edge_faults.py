"""Fault drills of the edge, caused for real: a database that hangs, a poisoned call-log row,
Redis gone during a save, calls answered while nothing was known, made-up tokens."""

import datetime
import shutil
import socket
import subprocess
import time

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse

from callflows.edge import call_log, published
from callflows.models import CallLog
from dins.models import Subscription
from dins.tests.factories import SubscriptionFactory
from portal.models import PlatformAlert, PlatformAlertKind
from portal.scoping import scopes_disabled, tenant_scope
from portal.tests.relay import TcpRelay
from testing.scaffolding import edge_get

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the drill hangs a PostgreSQL connection mid-protocol (CI runs PostgreSQL)",
)


def _call(token: str, caller: str = "+819012345678") -> tuple[int, str]:
    response = edge_get(f"/a/{token}/", {"caller": caller, "recipient": "815000000000"})
    return response.status_code, response.content.decode()


@pytest.fixture
def threaded_loader(monkeypatch, settings):
    """The edge's loader as it runs in production (threads, a one-second budget), installed
    when the test calls it: its threads open their connections from then on."""
    settings.EDGE_LOAD_BUDGET_SECONDS = 1.0

    def install() -> published.Loader:
        loader = published.Loader(2)
        monkeypatch.setattr(published, "loader", loader)
        return loader

    return install


# --- A database that hangs ---------------------------------------------------------------------


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_calls_are_answered_within_the_carriers_timeout_while_the_database_hangs(
    personas, monkeypatch, threaded_loader
):
    """The loader threads start after the database hangs: none holds a connection made
    before (a kept connection would not go through the relay)."""
    known = SubscriptionFactory(tenant=personas.tenant_a)
    cold = [SubscriptionFactory(tenant=personas.tenant_a) for _ in range(4)]
    assert _call(known.action_token) == (200, "voicemail\n")  # held in memory

    # given the edge's loader threads reach PostgreSQL through a relay that then hangs
    relay = TcpRelay("127.0.0.1", connection.settings_dict["PORT"] or 5432)
    monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
    monkeypatch.setitem(connection.settings_dict, "PORT", str(relay.port))
    relay.pause()
    loader = threaded_loader()  # threads that connect through the relay
    loads: list[tuple[str, str]] = []  # (token, why the database could not say)
    load = loader.load

    def counted_load(token):
        try:
            entry = load(token)
        except published.LoadFailed as failed:
            loads.append((token, str(failed)))
            raise
        loads.append((token, "loaded"))
        return entry

    monkeypatch.setattr(loader, "load", counted_load)
    try:
        # when calls arrive for numbers no edge process holds yet, and for one it holds
        answers = [_call(number.action_token) for number in cold]
        hot = [_call(known.action_token) for _ in range(50)]

        # then every call is answered, the cold ones by the fallback: each of the two loader
        # threads waited its budget once (a call waits EDGE_LOAD_BUDGET_SECONDS at most, the
        # carrier ~5 s); with both stuck, later misses did not wait at all
        assert answers == [(200, "voicemail\n")] * 4
        assert [token for token, _why in loads] == [number.action_token for number in cold]
        why = [why for _token, why in loads]
        assert (
            why
            == ["the database did not answer within the budget"] * 2
            + ["every loader is waiting for the database"] * 2
        )
        # and the number held in memory never asked the database: no load, its own answer
        assert hot == [(200, "voicemail\n")] * 50
    finally:
        relay.resume()  # the stuck reads complete, the loaders are free again
    harness_wait(lambda: loader._busy == 0)
    monkeypatch.setitem(connection.settings_dict, "PORT", str(relay.target[1]))
    relay.close()
    published.forget_memory()
    assert _call(cold[0].action_token) == (200, "voicemail\n")


def harness_wait(predicate, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_the_watcher_waits_out_a_hung_database_and_catches_up(personas, monkeypatch):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    assert _call(number.action_token)[1] == "voicemail\n"
    published.watcher.last_success = time.monotonic()
    relay = TcpRelay("127.0.0.1", connection.settings_dict["PORT"] or 5432)
    with tenant_scope(personas.tenant_a):
        from callflows.flows.services import flow_save

        flow_save(
            subscription=number,
            document={"rules": [], "default": {"type": "transfer", "number": "+81312345678"}},
            by=personas.owner_a,
        )
    published.forget_memory()
    assert _call(number.action_token)[1] == "transfer +81312345678\n"
    connection.close()  # the watcher's next look goes through the relay, which hangs
    monkeypatch.setitem(connection.settings_dict, "PORT", str(relay.port))
    relay.pause()
    import threading

    result = []
    looking = threading.Thread(target=lambda: result.append(published.watcher.poll()), daemon=True)
    looking.start()
    time.sleep(0.5)
    assert _call(number.action_token)[1] == "transfer +81312345678\n"  # answers meanwhile
    relay.close()  # the hung connection breaks: the watcher gives up this look
    looking.join(timeout=10)
    assert result == [0]
    monkeypatch.setitem(connection.settings_dict, "PORT", str(relay.target[1]))
    connection.close()


# --- The call log --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_row_the_database_refuses_is_dropped_alone_counted_and_reported(
    personas, settings, monkeypatch
):
    settings.OPERATOR_ALERT_EMAILS = ["ops@example.com"]
    numbers = [SubscriptionFactory(tenant=personas.tenant_a) for _ in range(3)]
    for number in numbers:
        _call(number.action_token)
    # rows the database refuses: a number that no longer exists, and (PostgreSQL) a NUL byte
    good = call_log.call_log_buffer._entries[1]
    poisons = [{**good, "subscription_id": 10**12, "request_id": "poison-deleted-number"}]
    if connection.vendor == "postgresql":
        poisons.append({**good, "flow_version": -1, "request_id": "poison-negative-number"})
    call_log.call_log_buffer._entries[1:1] = poisons
    dropped_before = call_log.call_log_buffer.dropped

    written = call_log.call_log_buffer.flush()

    assert written == 3 and call_log.call_log_buffer.pending() == 0
    assert call_log.call_log_buffer.dropped == dropped_before + len(poisons)
    with scopes_disabled():
        assert CallLog.objects.count() == 3
        alert = PlatformAlert.objects.get(kind=PlatformAlertKind.CALL_LOG_DROPPED)
    assert alert.count == len(poisons)


@pytest.mark.django_db(transaction=True)
def test_calls_answered_while_nothing_was_known_are_logged_and_alerted_later(
    personas, monkeypatch, settings
):
    settings.OPERATOR_ALERT_EMAILS = ["ops@example.com"]
    number = SubscriptionFactory(tenant=personas.tenant_a)

    def away(token):
        raise published.LoadFailed("the database did not answer within the budget")

    monkeypatch.setattr(published.loader, "load", away)
    assert _call(number.action_token)[:2] == (200, "voicemail\n")
    assert _call("B" * 32)[:2] == (200, "voicemail\n")  # a made-up token, answered alike
    monkeypatch.undo()

    # when the database answers again, the writer looks the numbers up by their tokens
    assert call_log.call_log_buffer.flush() == 1
    with scopes_disabled():
        row = CallLog.objects.get()
        assert (row.subscription_id, row.source) == (number.pk, "fallback")
        assert PlatformAlert.objects.get(kind=PlatformAlertKind.CALLS_UNLOGGED).count == 1
    with tenant_scope(personas.tenant_a):
        from portal.models import Alert, AlertKind

        assert Alert.objects.filter(kind=AlertKind.ACTION_URL_FALLBACK).exists()
    assert call_log.call_log_buffer.unknown == 1


def test_a_burst_beyond_memory_goes_to_the_journal_and_loses_nothing(personas, monkeypatch):
    monkeypatch.setattr(call_log.CallLogBuffer, "MAX_ENTRIES", 5)
    number = SubscriptionFactory(tenant=personas.tenant_a)
    before = call_log.call_log_buffer.dropped
    for _ in range(8):
        _call(number.action_token)
    assert call_log.call_log_buffer.pending_in_memory() < 5  # the burst went to disk
    assert call_log.call_log_buffer.pending() == 8
    assert call_log.call_log_buffer.flush() == 8
    assert call_log.call_log_buffer.dropped == before


def test_with_memory_and_the_journals_disk_full_the_oldest_go_and_are_counted(
    personas, settings, monkeypatch
):
    monkeypatch.setattr(call_log.CallLogBuffer, "MAX_ENTRIES", 5)
    monkeypatch.setattr(call_log.call_log_buffer.journal, "max_bytes", 10)  # the disk is full
    number = SubscriptionFactory(tenant=personas.tenant_a)
    before = call_log.call_log_buffer.dropped
    for _ in range(8):
        _call(number.action_token)
    assert call_log.call_log_buffer.pending() == 5
    assert call_log.call_log_buffer.dropped - before == 3
    monkeypatch.setattr(call_log.call_log_buffer.journal, "max_bytes", 10**9)  # room again
    assert call_log.call_log_buffer.flush() == 5
    with scopes_disabled():
        assert PlatformAlert.objects.get(kind=PlatformAlertKind.CALL_LOG_DROPPED).count == 3


# --- Redis gone during a save ---------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def private_redis(settings):
    """A Redis server of this test's own as the cache, so stopping it stops nothing else."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (CI installs it)")
    port = _closed_port()
    process = subprocess.Popen(  # noqa: S603
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    harness_wait(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
    yield process
    process.kill()
    process.wait()


def test_a_flow_saved_while_redis_is_down_is_saved_published_and_answered(
    client, personas, private_redis, time_machine
):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    assert _call(number.action_token)[1] == "voicemail\n"
    published.watcher.last_success = time.monotonic()
    private_redis.kill()
    private_redis.wait()
    client.force_login(personas.staff_a)

    response = client.post(
        reverse("flow_edit", args=[number.code]),
        {
            "rules-TOTAL_FORMS": "0",
            "rules-INITIAL_FORMS": "0",
            "rules-MIN_NUM_FORMS": "0",
            "rules-MAX_NUM_FORMS": "30",
            "default-action": "transfer",
            "default-number": "03-1234-5678",
            "edit": "save",
        },
    )

    assert response.status_code == 302  # saved, no error page
    assert published.watcher.poll() == 1  # what every other edge process does within a second
    assert _call(number.action_token)[1] == "transfer +81312345678\n"


# --- Made-up tokens --------------------------------------------------------------------------


def test_ten_thousand_made_up_tokens_cost_a_bounded_memory_and_no_shared_state(
    personas, django_assert_max_num_queries, settings
):
    import secrets

    number = SubscriptionFactory(tenant=personas.tenant_a)
    _call(number.action_token)
    for _ in range(10_000):
        token = secrets.token_urlsafe(24)
        assert _call(token)[:2] == (404, "")
    assert len(published.memory) <= 1 + settings.EDGE_MEMORY_MAX_UNKNOWN
    assert published.memory.get(number.action_token) is not None  # real flows stay
    assert _call("not a token")[0] == 404


# --- Operators hear about it -------------------------------------------------------------------


def test_a_rejected_carrier_credential_reaches_the_operators(personas, settings):
    from portal.alerts import alert_raise
    from portal.models import AlertKind

    settings.OPERATOR_ALERT_EMAILS = ["ops@example.com"]
    number = SubscriptionFactory(tenant=personas.tenant_a)
    with tenant_scope(personas.tenant_a):
        alert_raise(
            kind=AlertKind.CARRIER_CREDENTIALS,
            subscription=number,
            context={"operation": "subscribe"},
        )
    alert = PlatformAlert.objects.get(kind=PlatformAlertKind.CARRIER_CREDENTIALS)
    assert "XOXZO_SID" in alert.message


@pytest.mark.django_db
def test_the_platform_check_tells_operators_when_the_sweep_stopped(
    client, settings, django_capture_on_commit_callbacks, task_queue
):
    from portal.platform import heartbeat, platform_check_run

    settings.OPERATOR_ALERT_EMAILS = ["ops@example.com"]
    heartbeat("trial_sweep", at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1))
    heartbeat("reconcile")

    with django_capture_on_commit_callbacks(execute=True):
        checks = {check.name: check for check in platform_check_run()}

    assert not checks["trial_sweep_age_seconds"].ok
    assert checks["reconcile_age_seconds"].ok, checks
    assert PlatformAlert.objects.get(kind=PlatformAlertKind.SCHEDULER_LATE).count == 1
    assert task_queue.run_all_named("portal.send_platform_alert") == 1
    assert mail.outbox[-1].to == ["ops@example.com"]
    assert "trial_sweep" in mail.outbox[-1].body

    health = client.get("/healthz/platform")
    assert health.status_code == 503 and health.json()["ok"] is False, health.content
    metrics = client.get("/metrics").content.decode()
    assert 'dinportal_check_ok{check="trial_sweep_age_seconds"} 0.0' in metrics
    # from elsewhere, without the token: nothing there
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404
    settings.MONITORING_TOKEN = "s3cret-token"
    assert (
        client.get(
            "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-token"
        ).status_code
        == 200
    )


@pytest.mark.django_db
def test_the_platform_health_passes_when_everything_runs(client):
    from portal.platform import heartbeat

    heartbeat("trial_sweep")
    heartbeat("reconcile")
    health = client.get("/healthz/platform")
    assert health.status_code == 200, health.content
    assert health.json()["checks"]["task_queue_length"]["ok"] is True


def test_released_numbers_are_not_answered_by_a_made_up_entry(personas):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    with scopes_disabled():
        Subscription.objects.filter(pk=number.pk).delete()
    published.forget_memory()
    assert _call(number.action_token)[:2] == (404, "")
