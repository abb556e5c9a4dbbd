"""The public MP3 URL the carrier plays, on the edge's own server: ranges, validators, 404s."""

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory
from django.urls import Resolver404, resolve, reverse

from callflows.assets.serving import RangeNotSatisfiable, byte_range
from callflows.flows.compiler import audio_public_url
from callflows.tests.factories import SAMPLES, make_audio
from config.wsgi.edge import application as edge_application

GREETING = (SAMPLES / "greeting-en.mp3").read_bytes()
SIZE = len(GREETING)


@pytest.fixture
def audio(personas):
    return make_audio(personas.tenant_a, sample="greeting-en.mp3")


def public_path(audio) -> str:
    return f"/media/audio/{audio.public_id}.mp3"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_it_serves_the_whole_file_with_caching_headers(edge_client, audio):
    response = edge_client.get(public_path(audio))

    assert response.status_code == 200
    assert response["Content-Type"] == "audio/mpeg"
    assert response["Content-Length"] == str(SIZE)
    assert response["Accept-Ranges"] == "bytes"
    assert re.fullmatch(r"public, max-age=\d+", response["Cache-Control"])
    assert response["ETag"] == f'"{audio.public_id}-{SIZE}"'
    assert response["Last-Modified"].endswith("GMT")
    assert body(response) == GREETING


@pytest.mark.parametrize(
    "header,first,last",
    [
        ("bytes=0-99", 0, 99),
        ("bytes=25000-", 25000, SIZE - 1),
        ("bytes=-78", SIZE - 78, SIZE - 1),
        ("bytes=24000-999999", 24000, SIZE - 1),
    ],
)
def test_it_answers_a_single_range_with_206(edge_client, audio, header, first, last):
    response = edge_client.get(public_path(audio), headers={"range": header})

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/{SIZE}"
    assert response["Content-Length"] == str(last - first + 1)
    assert body(response) == GREETING[first : last + 1]


@pytest.mark.parametrize("header", ["bytes=30000-", "bytes=25078-25100", "bytes=-0"])
def test_it_answers_416_for_a_range_it_cannot_satisfy(edge_client, audio, header):
    response = edge_client.get(public_path(audio), headers={"range": header})

    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{SIZE}"


@pytest.mark.parametrize("header", ["bytes=0-9,20-29", "items=0-9", "bytes=9-0", "bytes=x-"])
def test_it_sends_the_whole_file_for_ranges_it_does_not_serve(edge_client, audio, header):
    response = edge_client.get(public_path(audio), headers={"range": header})

    assert response.status_code == 200
    assert body(response) == GREETING


def test_it_answers_304_to_a_cache_that_holds_the_file(edge_client, audio):
    first = edge_client.get(public_path(audio))

    by_etag = edge_client.get(public_path(audio), headers={"if-none-match": first["ETag"]})
    by_date = edge_client.get(
        public_path(audio), headers={"if-modified-since": first["Last-Modified"]}
    )
    stale = edge_client.get(public_path(audio), headers={"if-none-match": '"something-else"'})

    assert by_etag.status_code == 304 and by_etag.content == b""
    assert by_etag["ETag"] == first["ETag"]
    assert by_date.status_code == 304
    assert stale.status_code == 200


def test_it_sends_everything_when_if_range_names_another_version(edge_client, audio):
    current = edge_client.get(public_path(audio))["ETag"]

    same = edge_client.get(public_path(audio), headers={"range": "bytes=0-9", "if-range": current})
    other = edge_client.get(public_path(audio), headers={"range": "bytes=0-9", "if-range": '"old"'})

    assert same.status_code == 206
    assert other.status_code == 200 and body(other) == GREETING


def test_it_answers_head_with_the_length_and_no_body(edge_client, audio):
    response = edge_client.head(public_path(audio))

    assert response.status_code == 200
    assert response["Content-Length"] == str(SIZE)
    assert response.content == b""


def test_it_refuses_writes(edge_client, audio):
    assert edge_client.post(public_path(audio)).status_code == 405


@pytest.mark.parametrize(
    "public_id",
    ["A" * 32, "short", "x" * 65, "abc.def_ghijklmnopq", "abcdefghijklmnop%24q"],
)
def test_it_answers_404_for_unknown_or_malformed_ids(edge_client, audio, public_id):
    assert edge_client.get(f"/media/audio/{public_id}.mp3").status_code == 404


def test_it_answers_404_when_the_file_is_gone(edge_client, audio):
    (Path(settings.MEDIA_ROOT) / audio.file.name).unlink()

    assert edge_client.get(public_path(audio)).status_code == 404


def test_it_serves_nothing_else_of_media(edge_client, audio):
    assert edge_client.get(f"{settings.MEDIA_URL}{audio.file.name}").status_code == 404
    assert edge_client.get("/media/tts-cache/anything.wav").status_code == 404
    assert edge_client.get(f"/media/audio/{audio.public_id}.wav").status_code == 404


def test_it_is_the_url_the_flows_give_the_carrier(audio, settings):
    settings.PUBLIC_BASE_URL = "https://portal.example.com"
    url = audio_public_url(audio)

    path = urlsplit(url).path
    assert url.startswith("https://portal.example.com/")
    assert path == reverse("audio_public", args=[audio.public_id], urlconf="config.urls.edge")
    assert re.fullmatch(r"/[A-Za-z0-9_/-]*\.mp3", path)  # Xoxzo's restriction


def wsgi_get(app, path: str, **headers) -> tuple[int, dict, bytes]:
    environ = RequestFactory().get(path, **headers).environ
    captured = {}

    def start_response(status, response_headers, exc_info=None):
        captured["status"] = int(status.split()[0])
        captured["headers"] = dict(response_headers)

    # As Django's test client does: the test's transaction must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = app(environ, start_response)
        content = b"".join(response)
        response.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return captured["status"], captured["headers"], content


def test_it_is_served_by_the_edge_and_not_by_the_portal(audio):
    with pytest.raises(Resolver404):
        resolve(public_path(audio), urlconf="config.urls.portal")  # the portal's own pages
    status, headers, content = wsgi_get(edge_application, public_path(audio))
    assert (status, content) == (200, GREETING)
    assert "X-Edge-Process" in headers


@pytest.mark.parametrize("app", [edge_application], ids=["edge"])
def test_it_serves_ranges_on_the_edge(audio, app):
    status, headers, content = wsgi_get(app, public_path(audio), HTTP_RANGE="bytes=10-19")
    assert (status, headers["Content-Range"], content) == (
        206,
        f"bytes 10-19/{SIZE}",
        GREETING[10:20],
    )

    status, headers, content = wsgi_get(app, public_path(audio))
    assert (status, headers["Content-Type"], content) == (200, "audio/mpeg", GREETING)

    status, _headers, content = wsgi_get(app, "/media/audio/unknownunknownunknown.mp3")
    assert (status, content) == (404, b"")


def test_it_parses_ranges_exactly():
    assert byte_range("bytes=0-0", 10) == (0, 0)
    assert byte_range("bytes=-20", 10) == (0, 9)
    assert byte_range("bytes=5-", 10) == (5, 9)
    assert byte_range("bytes=-", 10) is None
    with pytest.raises(RangeNotSatisfiable):
        byte_range("bytes=10-", 10)
    with pytest.raises(RangeNotSatisfiable):
        byte_range("bytes=-5", 0)
