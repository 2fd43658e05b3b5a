"""The tracker's on-disk spool: one append-only JSONL journal per tracker, delivered later if needed.

Where: ``spool_dir=`` if given, else ``$TRADEREADY_HOME/spool``, else
``$XDG_DATA_HOME/tradeready/spool``, else ``~/.local/share/tradeready/spool``
(:func:`default_spool_dir`).

Every tracker writes its operations to its own journal ``<run_id>.<writer>.jsonl`` *before* sending
them, and appends an acknowledgement line once the platform accepted them::

    {"journal": 1, "run_id": "run_...", "base_url": "http://...", "key": "<sha256 prefix>", ...}
    {"seq": 1, "op": "register", "body": {...}}
    {"seq": 2, "op": "episode", "episode": {...}, "replay": {...}}
    {"ack": [1, 2]}
    {"seq": 3, "op": "complete", "body": {...}}

A journal whose operations are all acknowledged is deleted on close. A journal left behind (the
platform was down, the process died) is delivered later: on the next tracker's start, on close, by
:func:`tradeready_gym.tracking.sync` or ``python -m tradeready_gym.tracking sync``. The writer holds
an exclusive ``flock`` on its journal while it lives, so a journal is only ever delivered by one
process at a time and never while its writer still appends. Resending is safe: registration, replay,
episodes and completion are all idempotent on the platform. The API key is never written; only a
short SHA-256 prefix of it (``key``), so a journal is delivered only with the key that wrote it.

Usage::

    journal = Journal.create(default_spool_dir(), run_id="run_0123", base_url=url, api_key=key)
    seq = journal.append({"op": "episode", "episode": {...}, "replay": None})
    journal.ack([seq])
    journal.close(delete=journal.all_acked)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

try:  # POSIX; on other systems the spool still works, without cross-process locking.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "JOURNAL_SUFFIX",
    "Journal",
    "JournalContents",
    "append_ack",
    "claim",
    "default_spool_dir",
    "journals",
    "key_fingerprint",
    "locked_file",
    "read_journal",
]

logger = logging.getLogger("tradeready_gym.tracking")

JOURNAL_SUFFIX = ".jsonl"
_FORMAT = 1


def default_spool_dir() -> Path:
    """The spool folder (see the module docstring for how it is chosen)."""
    home = os.environ.get("TRADEREADY_HOME")
    if home:
        return Path(home).expanduser() / "spool"
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "tradeready" / "spool"


def key_fingerprint(api_key: str | None) -> str | None:
    """A short, non-reversible tag of an API key (first 16 hex of its SHA-256), or ``None``."""
    if not api_key:
        return None
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def _lock(fd: int, blocking: bool) -> bool:
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def locked_file(path: Path) -> Iterator[IO[str]]:
    """``path`` opened read-write (created if missing) under an exclusive ``flock``, for read-modify-write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    handle = os.fdopen(fd, "r+", encoding="utf-8")
    try:
        _lock(handle.fileno(), blocking=True)
        yield handle
    finally:
        handle.close()  # closing releases the lock


def _dumps(record: dict[str, Any]) -> str:
    # allow_nan=False: a NaN that slipped through is a bug to see at once, not an unparseable line later.
    return json.dumps(record, separators=(",", ":"), allow_nan=False)


@dataclass
class JournalContents:
    """What a journal holds: its header and the operations not acknowledged yet, in order."""

    path: Path
    header: dict[str, Any]
    pending: list[dict[str, Any]] = field(default_factory=list)
    acked: int = 0

    @property
    def run_id(self) -> str:
        return str(self.header.get("run_id", ""))


def read_journal(path: Path) -> JournalContents:
    """Parse a journal; a torn last line (the writer died mid-write) is ignored."""
    header: dict[str, Any] = {}
    ops: dict[int, dict[str, Any]] = {}
    acked: set[int] = set()
    with path.open("r", encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            if "journal" in record:
                header = record
            elif "ack" in record:
                acked.update(int(seq) for seq in record["ack"])
            elif "seq" in record:
                ops[int(record["seq"])] = record
    pending = [ops[seq] for seq in sorted(ops) if seq not in acked]
    return JournalContents(path=path, header=header, pending=pending, acked=len(acked))


class Journal:
    """One tracker's append-only journal, locked by its writer for as long as it is open."""

    def __init__(self, path: Path, handle: IO[str], header: dict[str, Any]) -> None:
        self.path = path
        self.header = header
        self._handle: IO[str] | None = handle
        self._seq = 0
        self._unacked: set[int] = set()
        self.size = 0
        """Bytes written so far."""

    @classmethod
    def create(cls, directory: Path, *, run_id: str, base_url: str, api_key: str | None) -> Journal:
        """A new journal for ``run_id`` in ``directory`` (created if missing), locked by this process."""
        directory.mkdir(parents=True, exist_ok=True)
        writer = f"{os.getpid()}-{secrets.token_hex(4)}"
        path = directory / f"{run_id}.{writer}{JOURNAL_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        handle = os.fdopen(fd, "a", encoding="utf-8")
        _lock(handle.fileno(), blocking=True)
        header = {
            "journal": _FORMAT,
            "run_id": run_id,
            "base_url": base_url,
            "key": key_fingerprint(api_key),
            "pid": os.getpid(),
            "created_at": time.time(),
        }
        journal = cls(path, handle, header)
        journal._write([header])
        return journal

    @property
    def closed(self) -> bool:
        return self._handle is None

    @property
    def all_acked(self) -> bool:
        """Every operation appended so far has been acknowledged."""
        return not self._unacked

    def _write(self, records: Sequence[dict[str, Any]]) -> None:
        if self._handle is None:
            raise ValueError(f"journal {self.path} is closed")
        # One write per batch of whole lines, flushed at once: a crash can only tear the last line.
        text = "".join(_dumps(record) + "\n" for record in records)
        self._handle.write(text)
        self._handle.flush()
        self.size += len(text)

    def append_many(self, ops: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Number and write ``ops`` (``{"op": ..., ...}``); returns them with their ``seq``."""
        numbered = []
        for op in ops:
            self._seq += 1
            numbered.append({"seq": self._seq, **op})
        if numbered:
            self._write(numbered)
            self._unacked.update(op["seq"] for op in numbered)
        return numbered

    def append(self, op: dict[str, Any]) -> int:
        """Write one operation; returns its ``seq``."""
        return int(self.append_many([op])[0]["seq"])

    def ack(self, seqs: Iterable[int]) -> None:
        """Record that the platform accepted these operations."""
        done = [seq for seq in seqs if seq in self._unacked]
        if done:
            self._write([{"ack": done}])
            self._unacked.difference_update(done)

    def close(self, *, delete: bool) -> None:
        """Release the lock; ``delete`` removes the file (everything was delivered)."""
        if self._handle is None:
            return
        if delete:
            with contextlib.suppress(OSError):
                self.path.unlink()
        self._handle.close()
        self._handle = None


@contextlib.contextmanager
def claim(path: Path) -> Iterator[IO[str] | None]:
    """Lock a journal left behind for delivery; yields ``None`` if a live writer (or another sync) holds it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND)
    except FileNotFoundError:
        yield None
        return
    handle = os.fdopen(fd, "r+", encoding="utf-8")
    try:
        if not _lock(handle.fileno(), blocking=False):
            yield None
            return
        try:
            same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        yield handle if same else None  # another sync delivered and deleted it meanwhile
    finally:
        handle.close()


def append_ack(handle: IO[str], seqs: Sequence[int]) -> None:
    """Append an acknowledgement to a claimed journal."""
    if seqs:
        handle.seek(0, os.SEEK_END)
        handle.write(_dumps({"ack": list(seqs)}) + "\n")
        handle.flush()


def journals(directory: Path) -> list[Path]:
    """Journals in ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if p.name.startswith("run_") and p.name.endswith(JOURNAL_SUFFIX)]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))
