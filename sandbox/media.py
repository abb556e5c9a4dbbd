"""MP3 greetings as the sandbox carrier fetches and checks them before "playing" them.

The check itself is the product's one MPEG inspector (``callflows.mpeg``): the sandbox plays
the carrier, so a file the portal accepts at upload is exactly what the carrier will play.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import requests

from callflows.mpeg import MediaError, Mp3Info, inspect_mp3

__all__ = ["FetchedMedia", "MediaError", "Mp3Info", "fetch_media", "fetch_mp3", "inspect_mp3"]

DEFAULT_MAX_BYTES = 10 * 1024 * 1024  # [choice] Xoxzo publishes no limit; ~40 min at 32 kbit/s.


@dataclass(frozen=True)
class FetchedMedia:
    url: str
    data: bytes
    content_type: str
    elapsed_ms: float
    # Things worth telling the customer that did not stop the fetch (e.g. a wrong content type).
    notes: tuple[str, ...] = field(default=())


# --- fetching ------------------------------------------------------------------------------------


def is_timeout(error: requests.RequestException) -> bool:
    """requests reports a read timeout during streaming as a ConnectionError; see through it."""
    return isinstance(error, requests.Timeout) or "timed out" in str(error).lower()


def describe_request_error(error: requests.RequestException) -> str:
    """A short reason for a failed request ("Connection refused"), not urllib3's full repr."""
    if is_timeout(error):
        return "timed out"
    text = str(error)
    found = re.search(r"\[Errno -?\d+\] ([^'\"()\]]+)", text)
    if found:
        return found.group(1).strip().rstrip(".")
    if isinstance(error, requests.ConnectionError):
        return "connection failed"
    return type(error).__name__


def fetch_media(
    url: str,
    *,
    timeout: float = 5.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    session: requests.Session | None = None,
) -> FetchedMedia:
    """GET ``url`` the way the carrier does before playing it, or raise ``MediaError``.

    ``timeout`` bounds the connection, every read and the whole download: a caller hears
    silence while the carrier waits. Redirects are followed (CDNs use them) [choice].
    """
    if not url.startswith(("http://", "https://")):
        raise MediaError(f"not an http(s) URL: {url!r}")
    own_session = session is None
    if own_session:
        session = requests.Session()
        session.max_redirects = 5
    started = _now()
    try:
        with session.get(url, timeout=(timeout, timeout), stream=True) as response:
            if response.status_code != 200:
                raise MediaError(
                    f"MP3 URL answered HTTP {response.status_code}", status=response.status_code
                )
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise MediaError(f"the MP3 is {int(declared)} bytes, more than {max_bytes}")
            content_type = response.headers.get("Content-Type", "")
            data = _read_capped(response, max_bytes=max_bytes, deadline=started + timeout)
    except requests.RequestException as error:
        if is_timeout(error):
            raise MediaError(f"MP3 URL timed out after {timeout:g} s") from None
        raise MediaError(f"MP3 URL unreachable: {describe_request_error(error)}") from None
    finally:
        if own_session:
            session.close()
    notes = []
    mime = content_type.split(";", 1)[0].strip().lower()
    if not mime.startswith("audio/"):
        # Not fatal: Xoxzo decodes the bytes, but a wrong type often means an error page.
        notes.append(f"served as {mime or 'no content type'}, not audio/mpeg")
    return FetchedMedia(
        url=url,
        data=data,
        content_type=content_type,
        elapsed_ms=round((_now() - started) * 1000, 1),
        notes=tuple(notes),
    )


def fetch_mp3(
    url: str,
    *,
    timeout: float = 5.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    session: requests.Session | None = None,
) -> bytes:
    """The bytes at ``url`` (see ``fetch_media``, which also reports content-type notes)."""
    return fetch_media(url, timeout=timeout, max_bytes=max_bytes, session=session).data


def _read_capped(response: requests.Response, *, max_bytes: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise MediaError(f"the MP3 is larger than {max_bytes} bytes")
        if _now() > deadline:
            raise requests.Timeout("download exceeded its time budget")
        chunks.append(chunk)
    return b"".join(chunks)


def _now() -> float:
    return time.monotonic()
