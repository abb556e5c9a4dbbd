"""The call log's journal: answered calls on this machine's disk until the database has them.

Every second an edge process moves the calls it answered from memory to a new file here (JSON
lines, fsynced, named ``<pid>-<ns>-<random>.jsonl`` once complete), and its writer thread moves
files from here into the database, deleting each file once its rows are committed. So a
database that hangs or cannot keep up costs disk, not call records; a process that is killed
loses at most the last second it held in memory; and the next process that starts on this
machine writes what an earlier one left (``claim`` takes files of dead processes too).

A file is claimed by renaming it to ``….<pid>.claimed``: two processes never write the same
file at once, and a claimed file whose process died is claimed again. A file written twice
(its process died after the commit, before the delete) is harmless: every row carries its
call's request id, unique in the table.

Disk is bounded (``CALL_LOG_JOURNAL_MAX_BYTES``): past it the process keeps calls in memory,
and past that drops the oldest, counted and alerted (``callflows.edge.call_log``).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import secrets
import time
from pathlib import Path

DONE = ".jsonl"
PARTIAL = ".part"
CLAIMED = ".claimed"


def _encode(entry: dict) -> str:
    return json.dumps({**entry, "at": entry["at"].isoformat()}, separators=(",", ":"))


def _decode(line: str) -> dict:
    entry = json.loads(line)
    entry["at"] = datetime.datetime.fromisoformat(entry["at"])
    return entry


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Journal:
    """The journal directory of one machine, as one process sees it."""

    def __init__(self, directory: Path | str, *, max_bytes: int):
        self.directory = Path(directory)
        self.max_bytes = max_bytes

    # --- writing (the process that answered the calls) ------------------------------------

    def write(self, entries: list[dict]) -> bool:
        """Put ``entries`` on disk as one complete file; False when the disk cannot take them
        (full, unwritable, over the budget): the caller keeps them."""
        if not entries:
            return True
        lines = "".join(_encode(entry) + "\n" for entry in entries).encode()
        if self.used_bytes() + len(lines) > self.max_bytes:
            return False
        name = f"{os.getpid()}-{time.time_ns()}-{secrets.token_hex(4)}"
        partial = self.directory / (name + PARTIAL)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as file:
                file.write(lines)
                file.flush()
                os.fsync(file.fileno())
            partial.rename(self.directory / (name + DONE))
        except OSError:
            with contextlib.suppress(OSError):
                partial.unlink()
            return False
        return True

    # --- reading (whichever process writes them to the database) --------------------------

    def claim(self) -> Path | None:
        """The oldest file no living process is writing, now this process's; None if none."""
        self._recover_abandoned()
        for path in sorted(self._files(DONE), key=_age):
            claimed = path.with_name(f"{path.name}.{os.getpid()}{CLAIMED}")
            try:
                path.rename(claimed)
            except OSError:  # another process claimed it a moment ago
                continue
            return claimed
        return None

    def claimed_by_me(self) -> list[Path]:
        return sorted(self._files(f".{os.getpid()}{CLAIMED}"), key=_age)

    def release(self, claimed: Path) -> None:
        """Give a claimed file back (its rows wait for the next try)."""
        with contextlib.suppress(OSError):
            claimed.rename(claimed.with_name(claimed.name.rsplit(".", 2)[0]))

    @staticmethod
    def read(path: Path) -> list[dict]:
        """The entries of a file (a line cut short by a crash is skipped)."""
        entries = []
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError, KeyError):
                entries.append(_decode(line))
        return entries

    @staticmethod
    def done(path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def used_bytes(self) -> int:
        total = 0
        for path in self._files(""):
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        return total

    def pending_files(self) -> int:
        return len(self._files(DONE)) + len(self._files(CLAIMED))

    # --- housekeeping -------------------------------------------------------------------------

    def _files(self, suffix: str) -> list[Path]:
        try:
            return [p for p in self.directory.iterdir() if p.name.endswith(suffix)]
        except FileNotFoundError:
            return []

    def _recover_abandoned(self) -> None:
        """Files claimed or being written by processes that died are given back (a partial file
        holds whole lines up to where the process stopped)."""
        for path in self._files(CLAIMED):
            pid = int(path.name.rsplit(".", 2)[1])
            if pid != os.getpid() and not _alive(pid):
                self.release(path)
        for path in self._files(PARTIAL):
            pid = int(path.name.split("-", 1)[0])
            if pid != os.getpid() and not _alive(pid):
                with contextlib.suppress(OSError):
                    path.rename(path.with_name(path.name.removesuffix(PARTIAL) + DONE))


def _age(path: Path) -> int:
    """Files are named after their process and the nanosecond they were started."""
    try:
        return int(path.name.split("-")[1])
    except (IndexError, ValueError):
        return 0
