"""The edge serves MP3s from its own copy: no database work on a hit, read ahead when a flow
that plays them is loaded, a budget (then 503) when the database or storage hangs."""

import pytest
from django.db import connection

from callflows.edge import media, published
from callflows.flows.services import flow_save
from callflows.tests.factories import make_audio
from dins.tests.factories import SubscriptionFactory
from portal.scoping import tenant_scope
from portal.tests.relay import TcpRelay
from testing.scaffolding import edge_get

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the drill hangs a PostgreSQL connection mid-protocol (CI runs PostgreSQL)",
)


def _mp3(public_id: str):
    return edge_get(f"/media/audio/{public_id}.mp3")


def _playing(personas, audio):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    with tenant_scope(personas.tenant_a):
        flow_save(
            subscription=number,
            document={"rules": [], "default": {"type": "playback", "audio": str(audio.code)}},
            by=personas.owner_a,
        )
    return number


def test_a_copy_held_in_memory_is_served_without_touching_the_database(
    personas, django_assert_num_queries
):
    audio = make_audio(personas.tenant_a)
    first = _mp3(audio.public_id)
    assert first.status_code == 200

    with django_assert_num_queries(0):
        again = _mp3(audio.public_id)
        ranged = edge_get(f"/media/audio/{audio.public_id}.mp3", HTTP_RANGE="bytes=0-9")

    assert again.content == first.content == audio.file.open("rb").read()
    assert ranged.status_code == 206 and ranged.content == first.content[:10]


def test_an_unknown_id_is_remembered_too(personas, django_assert_num_queries):
    assert _mp3("A" * 32).status_code == 404
    with django_assert_num_queries(0):
        assert _mp3("A" * 32).status_code == 404


def test_a_deleted_mp3_stops_being_served_once_its_copy_is_checked_again(personas, settings):
    audio = make_audio(personas.tenant_a)
    assert _mp3(audio.public_id).status_code == 200
    with tenant_scope(personas.tenant_a):
        audio.delete()
    assert _mp3(audio.public_id).status_code == 200  # the copy answers until checked again
    settings.EDGE_MEDIA_RECHECK_SECONDS = 0
    threads = published.Loader(1)
    published.loader, saved = threads, published.loader
    try:
        _mp3(audio.public_id)  # starts the check in the background
        threads._pool.shutdown(wait=True)
    finally:
        published.loader = saved
    assert _mp3(audio.public_id).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_loading_a_flow_that_plays_an_mp3_reads_the_mp3_ahead(personas, monkeypatch):
    audio = make_audio(personas.tenant_a)
    number = _playing(personas, audio)
    threads = published.Loader(2)
    monkeypatch.setattr(published, "loader", threads)

    call = edge_get(f"/a/{number.action_token}/", {"caller": "+819012345678"})  # a cold call

    assert call.content.decode().startswith("playback ")
    threads._pool.shutdown(wait=True)  # the read ahead is done
    copy = media.memory.get(audio.public_id)
    assert copy is not None and copy.data == audio.file.open("rb").read()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_an_mp3_not_held_waits_the_budget_then_503_while_the_database_hangs(
    personas, monkeypatch, settings
):
    settings.EDGE_LOAD_BUDGET_SECONDS = 1.0
    held = make_audio(personas.tenant_a, label="held")
    cold = [make_audio(personas.tenant_a, label=f"cold {n}") for n in range(3)]
    assert _mp3(held.public_id).status_code == 200  # in memory

    relay = TcpRelay("127.0.0.1", connection.settings_dict["PORT"] or 5432)
    monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
    monkeypatch.setitem(connection.settings_dict, "PORT", str(relay.port))
    relay.pause()
    threads = published.Loader(2)  # threads that connect through the hung relay
    monkeypatch.setattr(published, "loader", threads)
    try:
        answers = [_mp3(audio.public_id) for audio in cold]
        hot = [_mp3(held.public_id).status_code for _ in range(20)]
    finally:
        relay.resume()
    # the first two waited their budget on the two loaders; the third found both busy
    assert [a.status_code for a in answers] == [503, 503, 503]
    assert all(a["Retry-After"] == "1" and a["X-Content-Type-Options"] for a in answers)
    assert hot == [200] * 20  # the held copy never waited
    threads._pool.shutdown(wait=True)
    monkeypatch.setitem(connection.settings_dict, "PORT", str(relay.target[1]))
    relay.close()
