"""Serving a stored file as browsers and carriers expect: byte ranges, validators, ``HEAD``.

Used for MP3s (members' players through ``assets.views.audio_listen``, the carrier through the
edge's ``audio_public``) and the spoken previews of scripts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import BinaryIO

from django.http import FileResponse, HttpResponse, HttpResponseNotModified
from django.http.response import HttpResponseBase
from django.utils.http import http_date, parse_etags, parse_http_date_safe

from callflows.models import AudioFile


class RangeNotSatisfiable(Exception):
    pass


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte range a ``Range`` header asks of ``size`` bytes.

    None means "send the whole file": no header, a malformed one or several ranges (RFC 9110
    lets a server ignore Range; players ask for one range at a time). Raises
    ``RangeNotSatisfiable`` for a range that starts past the end.
    """
    match = _RANGE.fullmatch(header.replace(" ", ""))
    if not match or match.groups() == ("", ""):
        return None
    start, end = match.groups()
    if not start:  # "bytes=-500": the last 500 bytes
        suffix = int(end)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - suffix), size - 1
    first = int(start)
    if end and int(end) < first:
        return None  # malformed: ignored
    if first >= size:
        raise RangeNotSatisfiable
    return first, min(int(end), size - 1) if end else size - 1


class _FileSlice:
    """Reads ``length`` bytes of ``file`` from ``start``; what FileResponse streams."""

    def __init__(self, file: BinaryIO, start: int, length: int):
        file.seek(start)
        self.file = file
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        chunk = self.file.read(size)
        self.remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        self.file.close()


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison, as If-None-Match wants it."""
    wanted = parse_etags(header)
    return "*" in wanted or etag.removeprefix("W/") in {tag.removeprefix("W/") for tag in wanted}


def serve_file(
    request,
    *,
    opener: Callable[[], BinaryIO],
    size: int,
    content_type: str,
    etag: str,
    last_modified: datetime,
    cache_control: str,
) -> HttpResponseBase:
    """Answer GET/HEAD for a file: 200, 206 for one range, 304, or 416.

    Uses no middleware, session or template: the public MP3 is served on the minimal WSGI path.
    """
    modified = int(last_modified.timestamp())
    validators = {
        "ETag": etag,
        "Last-Modified": http_date(modified),
        "Cache-Control": cache_control,
    }
    if_none_match = request.headers.get("If-None-Match")
    if_modified_since = parse_http_date_safe(request.headers.get("If-Modified-Since") or "")
    if (if_none_match and _etag_matches(if_none_match, etag)) or (
        not if_none_match and if_modified_since is not None and modified <= if_modified_since
    ):
        response: HttpResponseBase = HttpResponseNotModified()
        for name, value in validators.items():
            response[name] = value
        return response

    wanted = request.headers.get("Range", "")
    if_range = request.headers.get("If-Range")
    if if_range and if_range not in (etag, http_date(modified)):
        wanted = ""  # the client's partial copy is of another version: send it all
    try:
        requested = byte_range(wanted, size) if wanted else None
    except RangeNotSatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    first, last = requested or (0, size - 1)
    length = max(0, last - first + 1)
    if request.method == "HEAD":
        response = HttpResponse(content_type=content_type)
    else:
        response = FileResponse(_FileSlice(opener(), first, length), content_type=content_type)
    if requested:
        response.status_code = 206
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    for name, value in validators.items():
        response[name] = value
    return response


def serve_audio(request, audio: AudioFile, *, cache_control: str) -> HttpResponseBase:
    """An MP3 of the library, with ranges and validators (the page's player and the carrier)."""
    storage, name = audio.file.storage, audio.file.name
    try:
        size = storage.size(name)
    except OSError:
        return HttpResponse(b"", status=404, content_type="text/plain")
    return serve_file(
        request,
        opener=lambda: storage.open(name, "rb"),
        size=size,
        content_type="audio/mpeg",
        etag=f'"{audio.public_id}-{size}"',
        last_modified=audio.created_at,
        cache_control=cache_control,
    )
