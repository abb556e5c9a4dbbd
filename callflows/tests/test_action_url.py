"""The action URL: one line for every call, no SQL on a cache hit, answers when things fail."""

import datetime
import socket
import time

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from callflows.edge import call_log, published, runtime
from callflows.flows import publishing, services
from callflows.models import CallLog
from callflows.tests.factories import make_audio, make_script
from config.wsgi.edge import application
from dins.models import Subscription, SubscriptionStatus
from dins.tests.factories import SubscriptionFactory
from portal.scoping import scopes_disabled, tenant_scope
from sandbox import grammar
from testing.scaffolding import edge_get

TOKYO = datetime.timezone(datetime.timedelta(hours=9))


def call(token: str, **params) -> tuple[int, str, dict]:
    """One request through the edge's WSGI entry point, as its server sends it."""
    environ = RequestFactory().get(f"/a/{token}/", params).environ
    status_headers = {}

    def start_response(status, headers, exc_info=None):
        status_headers["status"] = int(status.split()[0])
        status_headers["headers"] = dict(headers)

    # As Django's test client does: the test's transaction must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = application(environ, start_response)
        body = b"".join(response).decode()
        if hasattr(response, "close"):
            response.close()  # as a WSGI server does: request_finished resets the URLconf
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return status_headers["status"], body, status_headers["headers"]


@pytest.fixture
def number(personas, settings):
    settings.PUBLIC_BASE_URL = "https://portal.example.com"
    return SubscriptionFactory(tenant=personas.tenant_a)


@pytest.fixture
def business_hours_flow(number, personas):
    script = make_script(personas.tenant_a, text='Welcome to "Alpha" Clinic.')
    audio = make_audio(personas.tenant_a)
    document = {
        "rules": [
            {
                "label": "Anonymous",
                "when": {"type": "anonymous"},
                "then": {"type": "say", "script": str(script.code)},
            },
            {
                "label": "Open",
                "when": {
                    "type": "hours",
                    "weekdays": [0, 1, 2, 3, 4],
                    "start": "09:00",
                    "end": "18:00",
                },
                "then": {"type": "playback", "audio": str(audio.code)},
            },
        ],
        "default": {"type": "voicemail", "greeting": {"type": "say", "script": str(script.code)}},
    }
    with tenant_scope(personas.tenant_a):
        services.flow_save(subscription=number, document=document, by=personas.owner_a)
    return audio, script


def test_it_answers_voicemail_for_a_number_without_a_flow(number):
    status, body, headers = call(number.action_token, caller="+819012345678", recipient=number.din)
    assert (status, body) == (200, "voicemail\n")
    assert headers["Content-Type"].startswith("text/plain")


def test_it_answers_one_line_the_carrier_parses(number, business_hours_flow, time_machine):
    audio, _script = business_hours_flow
    time_machine.move_to(datetime.datetime(2026, 11, 27, 10, 0, tzinfo=TOKYO))  # a Friday
    _, open_line, _ = call(number.action_token, caller="819012345678", recipient=number.din)
    assert grammar.parse(open_line) == grammar.Playback(
        f"https://portal.example.com/media/audio/{audio.public_id}.mp3"
    )
    _, anonymous_line, _ = call(number.action_token, caller="", recipient=number.din)
    assert grammar.parse(anonymous_line) == grammar.Say("ja", 'Welcome to "Alpha" Clinic.')
    _, no_param_line, _ = call(number.action_token, recipient=number.din)
    assert no_param_line == anonymous_line

    published.forget_memory()
    time_machine.move_to(datetime.datetime(2026, 11, 27, 19, 0, tzinfo=TOKYO))
    _, closed_line, _ = call(number.action_token, caller="+819012345678")
    assert grammar.parse(closed_line) == grammar.Voicemail(
        grammar.Say("ja", 'Welcome to "Alpha" Clinic.')
    )


def test_it_makes_no_sql_query_on_a_cache_hit(number, business_hours_flow):
    call(number.action_token, caller="+819012345678")  # warms this process
    with CaptureQueriesContext(connection) as queries:
        for _ in range(20):
            status, _, _ = call(number.action_token, caller="+819012345678")
            assert status == 200
    assert len(queries) == 0


def test_it_answers_404_with_an_empty_body_for_unknown_and_released_tokens(
    number, django_capture_on_commit_callbacks
):
    assert call("not-a-token")[:2] == (404, "")
    assert call(number.action_token)[0] == 200
    with scopes_disabled():
        Subscription.objects.filter(pk=number.pk).update(status=SubscriptionStatus.RELEASED)
    with django_capture_on_commit_callbacks(execute=True):
        publishing.flow_publish(subscription=number)
    assert call(number.action_token)[:2] == (404, "")


def test_it_refuses_a_token_of_the_wrong_shape_before_any_query(number):
    with CaptureQueriesContext(connection) as queries:
        for token in ("short", "x" * 33, number.action_token[:-1] + "!", "%00" * 11):
            assert call(token)[:2] == (404, "")
    assert len(queries) == 0
    assert len(published.memory) == 0


def test_it_reads_an_unknown_token_once_then_answers_404_from_memory(number):
    unknown = "A" * 32
    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            assert call(unknown)[:2] == (404, "")
    assert len(queries) == 1


def _saved_elsewhere(number, personas, document):
    """A change published by another process: this one learns of it only by watching."""
    with tenant_scope(personas.tenant_a):
        services.flow_save(subscription=number, document=document, by=personas.owner_a)
    # (the publisher's on-commit "forget" ran in the publishing process, not in this one)


def test_it_reaches_every_process_after_a_change_within_the_window(
    number, business_hours_flow, personas
):
    assert call(number.action_token, caller="")[1].startswith("say ja ")
    published.watcher.last_success = time.monotonic()
    _saved_elsewhere(
        number,
        personas,
        {"rules": [], "default": {"type": "transfer", "number": "+81336042000"}},
    )
    assert call(number.action_token, caller="")[1].startswith("say ja ")  # not yet seen
    assert published.watcher.poll() == 1
    assert call(number.action_token, caller="")[1] == "transfer +81336042000\n"


def test_it_catches_up_on_everything_it_holds_after_the_watcher_missed_the_lookback(
    number, business_hours_flow, personas
):
    call(number.action_token, caller="")
    _saved_elsewhere(number, personas, {"rules": [], "default": {"type": "voicemail"}})
    published.watcher.last_success = time.monotonic() - 3600  # the database was away an hour
    assert published.watcher.poll() == 1
    assert call(number.action_token, caller="")[1] == "voicemail\n"


def test_it_watches_with_one_query_however_many_numbers_it_holds(personas):
    numbers = [SubscriptionFactory(tenant=personas.tenant_a) for _ in range(5)]
    for number in numbers:
        call(number.action_token)
    published.watcher.last_success = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        assert published.watcher.poll() == 0
    assert len(queries) == 1


def test_it_withdraws_a_released_number_from_every_process(number, personas):
    call(number.action_token)
    published.watcher.last_success = time.monotonic()
    with scopes_disabled():
        Subscription.objects.filter(pk=number.pk).update(status=SubscriptionStatus.RELEASED)
    publishing.flow_publish(subscription=number)  # on-commit callbacks do not run here
    assert call(number.action_token)[0] == 200  # this process has not looked yet
    published.watcher.poll()
    assert call(number.action_token)[:2] == (404, "")


def test_it_marks_answers_of_a_publication_past_its_expiry_as_stale(number, personas, time_machine):
    call(number.action_token)
    time_machine.move_to(datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=40))
    call(number.action_token)
    assert call_log.call_log_buffer.flush() == 2
    with tenant_scope(personas.tenant_a):
        sources = list(CallLog.objects.order_by("at").values_list("source", flat=True))
    assert sources == ["flow", "stale"]


def test_it_keeps_memory_within_its_bounds(personas, monkeypatch):
    monkeypatch.setattr(published.memory, "max_flows", 3)
    monkeypatch.setattr(published.memory, "max_unknown", 2)
    numbers = [SubscriptionFactory(tenant=personas.tenant_a) for _ in range(5)]
    for number in numbers:
        call(number.action_token)
    for letter in "ABCD":
        call(letter * 32)
    assert len(published.memory) == 5
    assert published.memory.get(numbers[-1].action_token) is not None
    assert published.memory.get(numbers[0].action_token) is None  # least recently called


def test_it_logs_every_answer_off_the_request_path(number, business_hours_flow, personas):
    for caller in ("+819012345678", ""):
        call(number.action_token, caller=caller, recipient=number.din)
    with scopes_disabled():
        assert CallLog.objects.count() == 0  # nothing written while answering
    assert call_log.call_log_buffer.flush() == 2
    with tenant_scope(personas.tenant_a):
        rows = list(CallLog.objects.order_by("at").values_list("caller", "rule", "source"))
    assert rows[0][0] == "819012345678" and rows[1][0] == ""
    assert {row[2] for row in rows} == {"flow"}


# --- When dependencies fail -------------------------------------------------------------------


def _break_database(monkeypatch):
    """Point the connection at a database that cannot be opened, for real."""
    connection.close()
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        monkeypatch.setitem(settings_dict, "NAME", "/nonexistent-dir/db.sqlite3")
    else:
        monkeypatch.setitem(settings_dict, "PORT", str(_closed_port()))
        monkeypatch.setitem(settings_dict, "HOST", "127.0.0.1")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_it_answers_the_last_known_command_when_the_database_is_down(
    personas, settings, monkeypatch
):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    assert call(number.action_token, caller="")[1] == "voicemail\n"
    _break_database(monkeypatch)

    status, body, _ = call(number.action_token, caller="")
    assert (status, body) == (200, "voicemail\n")
    assert published.watcher.poll() == 0  # the watcher cannot look; memory keeps answering
    assert call(number.action_token, caller="")[:2] == (200, "voicemail\n")
    # and the call log waits in memory instead of failing the call
    assert call_log.call_log_buffer.flush() == 0
    assert call_log.call_log_buffer.pending() == 3
    connection.close()


@pytest.mark.django_db(transaction=True)
def test_it_answers_the_fallback_when_nothing_is_known_and_the_database_is_down(
    personas, monkeypatch
):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    _break_database(monkeypatch)
    assert call(number.action_token, caller="")[:2] == (200, "voicemail\n")
    connection.close()


def test_it_answers_voicemail_even_when_the_flow_code_itself_breaks(number, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(runtime, "answer", broken)
    status, body, _ = call(number.action_token)
    assert (status, body) == (200, "voicemail\n")


@pytest.mark.django_db(transaction=True)
def test_it_drops_only_the_log_entries_of_a_deleted_number(personas, settings):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    other = SubscriptionFactory(tenant=personas.tenant_a)
    call(number.action_token, caller="+819012345678")
    call(other.action_token, caller="+819012345678")
    with scopes_disabled():
        Subscription.objects.filter(pk=other.pk).delete()
    assert call_log.call_log_buffer.flush() == 1
    assert call_log.call_log_buffer.pending() == 0


def _raw(method: str, path: str, query: str = "") -> tuple[str, list, bytes]:
    from callflows.edge import action_app as wsgi_action

    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers

    body = b"".join(
        wsgi_action.application(
            {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query}, start_response
        )
    )
    return seen["status"], seen["headers"], body


def test_it_serves_only_the_carriers_paths_on_the_edge(number):
    assert call(number.action_token)[0] == 200
    for path in ("/account/login/", "/", "/admin/", "/sandbox/voice/dins/"):
        response = edge_get(path)
        assert (response.status_code, response.content) == (404, b"")


def test_it_names_the_edge_process_on_every_answer(number):
    _, _, headers = call(number.action_token)
    assert len(headers["X-Edge-Process"]) == 12


def test_it_refuses_other_methods_and_paths_on_the_bare_path(number):
    assert _raw("POST", f"/a/{number.action_token}/")[0] == "405 Method Not Allowed"
    assert _raw("GET", f"/a/{number.action_token}/extra/")[:3:2] == ("404 Not Found", b"")
    status, headers, body = _raw("HEAD", f"/a/{number.action_token}/")
    assert (status, body) == ("200 OK", b"") and ("Content-Length", "10") in headers
