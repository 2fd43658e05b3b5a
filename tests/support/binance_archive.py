"""A local stand-in for data.binance.vision: real candles written as kline zips + CHECKSUM files, served over HTTP.

The layout is exactly the public one (``data/spot/<monthly|daily>/klines/<SYMBOL>/<interval>/...``);
files are built from the real candles in ``tests.support.shared_data.MARKET`` (12-column spot rows, no
header, ms timestamps before 2025 and µs from 2025 on). The server records every request path so
tests can check what was (re)downloaded, and can be scripted to misbehave on a path the way the
real host does (429/418 with Retry-After, 5xx, dropped connections, a body cut short, a stall).

Example::

    with ArchiveServer(root) as server:
        server.script(zip_path, Fault.answer(429, retry_after="2"), Fault.answer(429, retry_after="2"))
        server.script(zip_path + ".CHECKSUM", then=Fault.answer(500))  # always 500
        fetch_klines("BTCUSDT", "1h", ..., base_url=server.url)
"""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np

from tests.support import shared_data
from tradeready_core.data import Candles

__all__ = ["ArchiveServer", "Fault", "kline_csv", "write_archive"]

MARKET_DATA = shared_data.MARKET
_US_FROM_MS = 1_735_689_600_000  # 2025-01-01: spot archives switch to microseconds


def kline_csv(candles: Candles, step_ms: int) -> bytes:
    """Binance spot kline CSV rows (12 columns, no header) for ``candles``."""
    lines = []
    for t, o, h, lo, c, v in zip(
        candles.open_time.tolist(),
        candles.open.tolist(),
        candles.high.tolist(),
        candles.low.tolist(),
        candles.close.tolist(),
        candles.volume.tolist(),
        strict=True,
    ):
        scale = 1000 if t >= _US_FROM_MS else 1
        close_time = (t + step_ms) * scale - 1
        lines.append(
            f"{t * scale},{o:.8f},{h:.8f},{lo:.8f},{c:.8f},{v:.8f},{close_time},{c * v:.8f},100,{v / 2:.8f},"
            f"{c * v / 2:.8f},0"
        )
    return ("\n".join(lines) + "\n").encode()


def write_archive(root: Path, period: str, candles: Candles, label: str, step_ms: int) -> Path:
    """Write ``<SYMBOL>-<tf>-<label>.zip`` and its ``.CHECKSUM`` under ``root`` in the public layout."""
    name = f"{candles.symbol}-{candles.timeframe}-{label}"
    folder = root / "data" / "spot" / period / "klines" / candles.symbol / candles.timeframe
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}.csv", kline_csv(candles, step_ms))
    data = buffer.getvalue()
    path = folder / f"{name}.zip"
    path.write_bytes(data)
    (folder / f"{name}.zip.CHECKSUM").write_text(f"{hashlib.sha256(data).hexdigest()}  {name}.zip\n")
    return path


def month_bounds_ms(year: int, month: int) -> tuple[int, int]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def day_bounds_ms(year: int, month: int, day: int) -> tuple[int, int]:
    start = int(datetime(year, month, day, tzinfo=UTC).timestamp() * 1000)
    return start, start + 86_400_000


def select(candles: Candles, lo: int, hi: int) -> Candles:
    sliced = candles.slice(lo, hi)
    assert len(sliced) and np.all(sliced.open_time >= lo)
    return sliced


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour for one GET.

    ``answer``: reply ``status`` (with ``Retry-After`` if given) instead of the file. ``drop``: close
    the connection without replying. ``cut``: send the headers (full Content-Length) and half the
    body, then close. ``stall``: say nothing for ``seconds``, then close.
    """

    kind: Literal["answer", "drop", "cut", "stall"]
    status: int = 0
    retry_after: str | None = None
    seconds: float = 0.0

    @classmethod
    def answer(cls, status: int, retry_after: str | None = None) -> Fault:
        return cls("answer", status=status, retry_after=retry_after)

    @classmethod
    def drop(cls) -> Fault:
        return cls("drop")

    @classmethod
    def cut(cls) -> Fault:
        return cls("cut")

    @classmethod
    def stall(cls, seconds: float) -> Fault:
        return cls("stall", seconds=seconds)


@dataclass
class _Script:
    faults: list[Fault]
    then: Fault | None


class _Handler(http.server.SimpleHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        fault = self.server.next_fault(self.path)
        if fault is None:
            super().do_GET()
        elif fault.kind == "answer":
            body = f"scripted {fault.status}\n".encode()
            self.send_response(fault.status)
            if fault.retry_after is not None:
                self.send_header("Retry-After", fault.retry_after)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif fault.kind == "cut":
            data = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:  # drop, stall: close without a word (after a while)
            time.sleep(fault.seconds)
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        return


class _Server(http.server.ThreadingHTTPServer):
    requests: list[str]
    scripts: dict[str, _Script]
    lock: threading.Lock

    def next_fault(self, path: str) -> Fault | None:
        with self.lock:
            script = self.scripts.get(path)
            if script is None:
                return None
            return script.faults.pop(0) if script.faults else script.then


class ArchiveServer:
    """``http.server`` on 127.0.0.1 serving ``root`` in a background thread; ``requests`` lists GET paths."""

    def __init__(self, root: Path) -> None:
        self.root = root
        handler = lambda *a, **k: _Handler(*a, directory=str(root), **k)  # noqa: E731
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.requests = []
        self._server.scripts = {}
        self._server.lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[str]:
        return self._server.requests

    def script(self, path: str, *faults: Fault, then: Fault | None = None) -> None:
        """Answer the next GETs of ``path`` with ``faults`` in order, then with ``then`` every time (None: the file).

        ``path`` is the URL path, with or without its leading ``/`` (e.g. ``ArchiveFile.relative_path``).
        """
        with self._server.lock:
            self._server.scripts["/" + path.lstrip("/")] = _Script(list(faults), then)

    def __enter__(self) -> ArchiveServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
