"""A local stand-in for data.binance.vision: real candles written as kline zips + CHECKSUM files, served over HTTP.

The layout is exactly the public one (``data/spot/<monthly|daily>/klines/<SYMBOL>/<interval>/...``);
files are built from the real candles in ``/work/shared/data/market/`` (12-column spot rows, no
header, ms timestamps before 2025 and µs from 2025 on). The server records every request path so
tests can check what was (re)downloaded.

Example::

    with ArchiveServer(root) as server:
        fetch_klines("BTCUSDT", "1h", ..., base_url=server.url)
"""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import numpy as np

from tradeready_core.data import Candles

__all__ = ["ArchiveServer", "kline_csv", "write_archive"]

MARKET_DATA = Path("/work/shared/data/market")
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


class _Handler(http.server.SimpleHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        return


class _Server(http.server.ThreadingHTTPServer):
    requests: list[str]


class ArchiveServer:
    """``http.server`` on 127.0.0.1 serving ``root`` in a background thread; ``requests`` lists GET paths."""

    def __init__(self, root: Path) -> None:
        self.root = root
        handler = lambda *a, **k: _Handler(*a, directory=str(root), **k)  # noqa: E731
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.requests = []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[str]:
        return self._server.requests

    def __enter__(self) -> ArchiveServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
