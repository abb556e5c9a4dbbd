"""The edge's answers to the carrier are marked so that no browser renders them, on the paths it
serves and on every other; anything else under /media/audio/ is an empty 404."""

import pytest

from callflows.tests.factories import make_audio
from dins.tests.factories import SubscriptionFactory
from portal.tests.test_hostile_input import _wsgi_get

CARRIER_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
}


def test_the_public_mp3_and_the_action_url_say_nosniff_and_allow_nothing_to_run(personas):
    audio = make_audio(personas.tenant_a)
    token = SubscriptionFactory(tenant=personas.tenant_a).action_token
    for path, status in [
        (f"/media/audio/{audio.public_id}.mp3", "200"),
        ("/media/audio/AAAAAAAAAAAAAAAAAAAAAAAA.mp3", "404"),
        ("/media/audio/not-an-mp3", "404"),
        (f"/a/{token}/", "200"),
        ("/a/unknown-token-0000000000/", "404"),
    ]:
        answered, headers, _elapsed = _wsgi_get(path, "caller=%2B819012345678")
        assert answered.startswith(status), path
        for name, value in CARRIER_HEADERS.items():
            assert headers.get(name) == value, (path, name)


def test_the_edge_sends_the_same_headers_on_paths_it_does_not_serve():
    for path in ("/account/login/", "/", "/sandbox/voice/dins/"):
        answered, headers, _elapsed = _wsgi_get(path)
        assert answered.startswith("404"), path
        for name, value in CARRIER_HEADERS.items():
            assert headers.get(name) == value, (path, name)


@pytest.mark.parametrize(
    "path",
    [
        "/media/audio/",
        "/media/audio/x.wav",
        "/media/audio/sub/dir/AAAAAAAAAAAAAAAAAAAA.mp3",
        "/media/audio/../../etc/passwd",
        "/media/audio/AAAAAAAAAAAAAAAAAAAA.mp3/",
    ],
)
def test_any_other_path_under_media_audio_is_an_empty_404(path):
    status, headers, _elapsed = _wsgi_get(path)
    assert status.startswith("404")
    assert headers["Content-Type"] == "text/plain"
