"""The call log counts each call once and loses none: the journal, request ids, bad rows.

- A request answered twice (the proxy retried it on another edge instance) is one row, and
  one ``call.answered`` event.
- What a process left in the journal (it was killed, the database was away) is written by the
  next one; a file written twice is still one row per call.
- One company's row the database cannot store costs no other company's rows.
"""

import os
import subprocess
import sys

import pytest

from callflows.edge import call_log, published
from callflows.edge.journal import Journal
from callflows.models import CallLog
from dins.tests.factories import SubscriptionFactory
from portal.scoping import scopes_disabled
from testing.scaffolding import edge_get


def _ring(token: str, *, request_id: str | None = None, caller: str = "+819012345678") -> str:
    headers = {"HTTP_X_REQUEST_ID": request_id} if request_id else {}
    response = edge_get(f"/a/{token}/", {"caller": caller, "recipient": "8150"}, **headers)
    assert response.status_code == 200
    return response.content.decode()


def _rows() -> int:
    with scopes_disabled():
        return CallLog.objects.count()


def test_a_request_answered_by_two_edge_instances_is_one_call(personas, monkeypatch):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    events = []
    monkeypatch.setattr(
        "callflows.edge.call_log.calls_logged.send", lambda sender, calls: events.extend(calls)
    )
    _ring(number.action_token, request_id="9f1c2e3d4b5a69788796a5b4c3d2e1f0")
    assert call_log.call_log_buffer.flush() == 1
    # the proxy timed out and asked another instance: the same request id
    _ring(number.action_token, request_id="9f1c2e3d4b5a69788796a5b4c3d2e1f0")
    _ring(number.action_token, request_id="0a1b2c3d4e5f60718293a4b5c6d7e8f9")

    assert call_log.call_log_buffer.flush() == 1
    assert _rows() == 2
    assert len(events) == 2  # one event a call, not per answer


def test_calls_without_a_proxy_get_request_ids_of_their_own(personas):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    for _ in range(3):
        _ring(number.action_token)
    call_log.call_log_buffer.flush()
    with scopes_disabled():
        ids = list(CallLog.objects.values_list("request_id", flat=True))
    assert len(ids) == 3 and len(set(ids)) == 3 and all(ids)


@pytest.mark.django_db(transaction=True)  # the writer drops a connection that failed
def test_rows_wait_in_the_journal_while_the_database_is_away_and_are_written_after(
    personas, monkeypatch
):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    for _ in range(5):
        _ring(number.action_token)
    with monkeypatch.context() as away:
        away.setattr(call_log, "_insert", _database_away)
        assert call_log.call_log_buffer.flush() == 0
    assert call_log.call_log_buffer.pending_in_memory() == 0  # on disk, not in memory
    assert call_log.call_log_buffer.pending() == 5

    assert call_log.call_log_buffer.flush() == 5
    assert _rows() == 5 and call_log.call_log_buffer.pending() == 0


def _database_away(batch):
    from django.db import OperationalError

    raise OperationalError("server closed the connection unexpectedly")


def test_what_a_killed_process_left_in_the_journal_is_written_once(personas, settings, tmp_path):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    for _ in range(4):
        _ring(number.action_token)
    with call_log.call_log_buffer._lock:
        entries, call_log.call_log_buffer._entries = call_log.call_log_buffer._entries, []
    # a process that died journaled them, and claimed the file just before it died
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    journal = call_log.call_log_buffer.journal
    assert journal.write(entries)
    (path,) = journal._files(".jsonl")
    claimed = path.with_name(f"{path.name}.{int(dead.stdout)}.claimed")
    path.rename(claimed)
    # and another copy of the same file (it had written it, then died before deleting it)
    copy = path.with_name(f"{os.getpid() + 1}-1-copy.jsonl")
    copy.write_text(claimed.read_text())

    assert call_log.call_log_buffer.flush() == 4
    assert _rows() == 4
    assert journal.pending_files() == 0


def test_a_file_cut_short_by_a_crash_writes_its_whole_lines(personas, tmp_path):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    for _ in range(3):
        _ring(number.action_token)
    with call_log.call_log_buffer._lock:
        entries, call_log.call_log_buffer._entries = call_log.call_log_buffer._entries, []
    journal = Journal(tmp_path, max_bytes=10**6)
    journal.write(entries)
    (path,) = journal._files(".jsonl")
    path.write_bytes(path.read_bytes()[:-20])  # the last line lost its end
    assert len(journal.read(path)) == 2


@pytest.mark.django_db(transaction=True)
def test_one_companys_bad_label_costs_no_other_companys_rows(personas):
    """Three companies, 30 calls each; one has a rule whose label was stored with a lone
    surrogate (before text was checked): 90 of 90 rows written, that label repaired."""
    from testing.scaffolding import TenantFactory

    numbers = [
        SubscriptionFactory(tenant=tenant)
        for tenant in (personas.tenant_a, personas.tenant_b, TenantFactory())
    ]
    for number in numbers:
        _ring(number.action_token)  # each number's published flow is now in memory
    entry = published.memory.get(numbers[0].action_token)
    poisoned = {
        **entry.compiled,
        "rules": [{"label": "x\udfffy", "when": {"type": "always"}, "command": "voicemail"}],
    }
    published.memory.put(numbers[0].action_token, published._Entry(poisoned, entry.stamp))
    call_log.call_log_buffer.clear()

    for _ in range(30):
        for number in numbers:
            _ring(number.action_token)

    assert call_log.call_log_buffer.flush() == 90
    with scopes_disabled():
        assert CallLog.objects.count() == 90
        labels = set(CallLog.objects.filter(subscription=numbers[0]).values_list("rule", flat=True))
    assert labels == {"x\ufffdy"} or labels == {"xy"} or all("\udfff" not in x for x in labels)
