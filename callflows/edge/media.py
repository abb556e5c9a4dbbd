"""The MP3s the edge serves: this process's own copy, read from storage within a budget.

The carrier fetches a number's MP3 (``/media/audio/<public id>.mp3``) right after the action
URL answered ``playback <url>``. The edge answers from this process's memory (bounded in
bytes, least recently played out first): a hit does no I/O at all. A miss reads the row and
the file (the media folder, or the bucket) on a loader thread within
``EDGE_LOAD_BUDGET_SECONDS`` (``callflows.edge.published.Loader``): a database or storage that
hangs holds the request for the budget at most, then answers 503 (the carrier may ask again),
and never a thread for good. Whenever a published flow enters memory (a call's miss, the
watcher's reload) the MP3s its answers name are read ahead on a free loader thread, so the
carrier's fetch finds them here even while the database is away.

The bytes behind a public id never change; a copy is checked again against the database after
``EDGE_MEDIA_RECHECK_SECONDS`` (in the background: the copy answers meanwhile), so a deleted
MP3 stops being served within that time, or the carrier cache's max-age, whichever is later.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from callflows.edge import published
from callflows.flows.documents import CompiledFlow
from callflows.models import AudioFile
from portal.scoping import scopes_disabled

logger = logging.getLogger(__name__)

PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# An MP3 link in a compiled flow's answer lines (``playback <PUBLIC_BASE_URL>/media/audio/…``).
_LINK = re.compile(r"/media/audio/([A-Za-z0-9_-]{16,64})\.mp3")


class Unavailable(Exception):
    """The database or the storage did not answer within the budget."""


@dataclass(frozen=True)
class MediaCopy:
    public_id: str
    data: bytes | None  # None: no such MP3 (never was, deleted, its file gone)
    created_at: datetime | None
    checked_at: float  # time.monotonic() of the last look at the database

    @property
    def etag(self) -> str:
        return f'"{self.public_id}-{len(self.data or b"")}"'


class MediaMemory:
    """Copies this process holds: MP3s in a bound of bytes, unknown ids in a bound of ids."""

    def __init__(self, *, max_bytes: int, max_unknown: int = 10_000):
        self.max_bytes = max_bytes
        self.max_unknown = max_unknown
        self._copies: OrderedDict[str, MediaCopy] = OrderedDict()
        self._unknown: OrderedDict[str, MediaCopy] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, public_id: str) -> MediaCopy | None:
        with self._lock:
            copy = self._copies.get(public_id)
            if copy is not None:
                self._copies.move_to_end(public_id)
                return copy
            return self._unknown.get(public_id)

    def put(self, public_id: str, copy: MediaCopy) -> None:
        with self._lock:
            self._remove(public_id)
            if copy.data is None:
                self._unknown[public_id] = copy
                while len(self._unknown) > self.max_unknown:
                    self._unknown.popitem(last=False)
                return
            if len(copy.data) > self.max_bytes:
                return  # larger than the whole bound: served, never kept
            self._copies[public_id] = copy
            self._bytes += len(copy.data)
            while self._bytes > self.max_bytes:
                _id, evicted = self._copies.popitem(last=False)
                self._bytes -= len(evicted.data or b"")

    def _remove(self, public_id: str) -> None:
        old = self._copies.pop(public_id, None)
        if old is not None:
            self._bytes -= len(old.data or b"")
        self._unknown.pop(public_id, None)

    def forget(self) -> None:
        with self._lock:
            self._copies.clear()
            self._unknown.clear()
            self._bytes = 0

    @property
    def bytes(self) -> int:
        return self._bytes


memory = MediaMemory(max_bytes=settings.EDGE_MEDIA_MEMORY_BYTES)


def _read(public_id: str) -> MediaCopy:
    """The row and the file, as they are now (on a loader thread, or inline in tests)."""
    with scopes_disabled():
        row = AudioFile.objects.filter(public_id=public_id).values_list("file", "created_at")
        found = row.first()
    data = created_at = None
    if found is not None:
        name, created_at = found
        storage = AudioFile._meta.get_field("file").storage
        try:
            with storage.open(name, "rb") as file:
                data = file.read()
        except FileNotFoundError:  # the row outlived its file: nothing to play
            logger.error("public MP3 %s: its file %s is missing from storage", public_id, name)
    copy = MediaCopy(public_id, data, created_at, time.monotonic())
    memory.put(public_id, copy)
    return copy


def audio_copy(public_id: str) -> MediaCopy:
    """This process's copy of the MP3 (``data`` None when there is none); ``Unavailable``
    when it holds none and the database or storage does not answer within the budget."""
    copy = memory.get(public_id)
    if copy is not None:
        if time.monotonic() - copy.checked_at > settings.EDGE_MEDIA_RECHECK_SECONDS:
            published.loader.submit(_read, public_id)  # look again, answer from the copy now
        return copy
    try:
        return published.loader.call(_read, public_id)
    except published.LoadFailed as error:
        logger.warning("public MP3 %s unavailable: %s", public_id, error)
        raise Unavailable(str(error)) from None


def read_ahead(compiled: CompiledFlow) -> int:
    """Start reading the MP3s a compiled flow plays that this process does not hold yet (on
    free loader threads; none waits). Returns how many reads were started."""
    started = 0
    for public_id in set(_LINK.findall(repr(compiled))):
        if memory.get(public_id) is None and published.loader.submit(_read, public_id):
            started += 1
    return started


published.on_flow_loaded.append(read_ahead)
