"""The edge's Django views: the MP3s the carrier plays, and the edge's empty error answers.

``audio_public`` answers at an unguessable URL and names no tenant; every answer carries the
carrier headers (nosniff, a policy that allows nothing), errors included.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotAllowed

from callflows.assets.serving import serve_file
from callflows.edge import media
from portal.headers import with_carrier_headers

# [choice] How long the carrier (and any cache between) may keep a public MP3. The bytes behind
# a public_id never change, so only a deletion is delayed by at most this much.
AUDIO_PUBLIC_MAX_AGE = 60 * 60


def _not_found() -> HttpResponse:
    # No template: on the minimal WSGI path the portal's 404 page (it links to portal URLs)
    # cannot be rendered. Empty either way, whether the id ever existed or not.
    return with_carrier_headers(HttpResponse(b"", status=404, content_type="text/plain"))


def carrier_not_found(request, exception=None) -> HttpResponse:
    """404 of the edge's URLconf (``config.urls.edge``): any path there that
    is not ``<id>.mp3`` or an action URL."""
    return _not_found()


def carrier_bad_request(request, exception=None) -> HttpResponse:
    return with_carrier_headers(HttpResponse(b"", status=400, content_type="text/plain"))


def carrier_server_error(request) -> HttpResponse:
    return with_carrier_headers(HttpResponse(b"", status=500, content_type="text/plain"))


def audio_public(request, public_id):
    """``/media/audio/<public_id>.mp3``: the MP3 the carrier plays; nothing else in media is.

    From this process's copy (``callflows.edge.media``): the database and the storage are read
    on a miss only, within the edge's budget; past it, a 503 the carrier may retry. GET and
    HEAD only; any other method (OPTIONS included) is a 405 that carries the carrier headers
    too, like every answer here.
    """
    if request.method not in ("GET", "HEAD"):
        return with_carrier_headers(HttpResponseNotAllowed(["GET", "HEAD"]))
    if not media.PUBLIC_ID.fullmatch(public_id):
        return _not_found()
    try:
        copy = media.audio_copy(public_id)
    except media.Unavailable:
        unavailable = HttpResponse(b"", status=503, content_type="text/plain")
        unavailable["Retry-After"] = "1"
        return with_carrier_headers(unavailable)
    data, created_at = copy.data, copy.created_at
    if data is None or created_at is None:
        return _not_found()
    max_age = getattr(settings, "AUDIO_PUBLIC_MAX_AGE", AUDIO_PUBLIC_MAX_AGE)
    response = serve_file(
        request,
        opener=lambda: io.BytesIO(data),
        size=len(data),
        content_type="audio/mpeg",
        etag=copy.etag,
        last_modified=created_at,
        cache_control=f"public, max-age={max_age}",
    )
    return with_carrier_headers(response)
