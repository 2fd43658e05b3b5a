"""Download Binance public kline archives (data.binance.vision), verified and resumable.

Whole past months come from monthly zips, the current month from daily zips (a past month whose
monthly zip is not published yet falls back to daily zips). Every zip is checked against its
``.CHECKSUM`` (sha256) before it is trusted; downloads go to a ``.part`` file that is renamed only
after verification, so an interrupted run never leaves a file that a later run would trust. A
later run skips every file already verified in the cache directory. 404 means "not published"
(future days, months before listing) and is reported, not an error.

Example::

    result = fetch_klines("BTCUSDT", "1h", start_ms=to_ms("2024-01-01"), cache_dir=home / "cache" / "binance")
    result.candles          # Candles(source="binance", ...), closed candles in [start, end)
    result.downloaded, result.cached, result.missing
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final, Literal

import httpx
import numpy as np

from tradeready.server.errors import PlatformError
from tradeready_core.data import OHLCV_COLUMNS, Candles, load_binance_kline_archive
from tradeready_core.errors import TradeReadyCoreError
from tradeready_core.timeframes import TIMEFRAMES, timeframe_ms

__all__ = [
    "DEFAULT_BASE_URL",
    "ArchiveFile",
    "ChecksumMismatchError",
    "FetchError",
    "FetchEvent",
    "FetchResult",
    "fetch_klines",
    "plan_archives",
]

DEFAULT_BASE_URL: Final[str] = "https://data.binance.vision"
_CHUNK: Final[int] = 1 << 16


class FetchError(PlatformError):
    """Downloading market data failed (network, HTTP status, bad archive)."""

    status_code = 502


class ChecksumMismatchError(FetchError):
    """A downloaded archive does not match its published sha256."""


@dataclass(frozen=True)
class ArchiveFile:
    """One archive to fetch: ``data/spot/<period>/klines/<SYMBOL>/<interval>/<name>``."""

    period: Literal["monthly", "daily"]
    symbol: str
    interval: str
    label: str  # "2024-01" or "2024-01-31"

    @property
    def name(self) -> str:
        return f"{self.symbol}-{self.interval}-{self.label}.zip"

    @property
    def relative_path(self) -> str:
        return f"data/spot/{self.period}/klines/{self.symbol}/{self.interval}/{self.name}"


@dataclass(frozen=True)
class FetchEvent:
    """Progress: ``kind`` is ``"planned"`` (``total`` files) or ``"file"`` (``status`` of one file)."""

    kind: Literal["planned", "file"]
    total: int = 0
    file: ArchiveFile | None = None
    status: Literal["downloaded", "cached", "missing", ""] = ""


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_klines` fetched."""

    candles: Candles
    downloaded: int
    cached: int
    missing: tuple[str, ...] = field(default=())


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def plan_archives(symbol: str, timeframe: str, start_ms: int, end_ms: int, today: date) -> list[ArchiveFile]:
    """Monthly archives for whole months before ``today``'s month, daily ones for the current month."""
    first = datetime.fromtimestamp(start_ms / 1000, UTC).date()
    last = datetime.fromtimestamp((end_ms - 1) / 1000, UTC).date()
    last = min(last, today - timedelta(days=1))
    files: list[ArchiveFile] = []
    month = _month_start(first)
    current = _month_start(today)
    while month <= last and month < current:
        files.append(ArchiveFile("monthly", symbol, timeframe, f"{month:%Y-%m}"))
        month = _next_month(month)
    day = max(first, current)
    while day <= last:
        files.append(ArchiveFile("daily", symbol, timeframe, f"{day:%Y-%m-%d}"))
        day += timedelta(days=1)
    return files


def _daily_files_of(month_file: ArchiveFile, first: date, last: date) -> list[ArchiveFile]:
    month = datetime.strptime(month_file.label, "%Y-%m").date()
    day, end = max(month, first), min(_next_month(month) - timedelta(days=1), last)
    out = []
    while day <= end:
        out.append(ArchiveFile("daily", month_file.symbol, month_file.interval, f"{day:%Y-%m-%d}"))
        day += timedelta(days=1)
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _expected_hash(checksum_text: str, url: str) -> str:
    parts = checksum_text.split()
    if not parts or len(parts[0]) != 64:
        raise FetchError(f"unreadable checksum file at {url}.CHECKSUM: {checksum_text[:80]!r}")
    return parts[0].lower()


def _verified(path: Path) -> bool:
    checksum = path.with_name(path.name + ".CHECKSUM")
    if not (path.is_file() and checksum.is_file()):
        return False
    try:
        return _sha256(path) == _expected_hash(checksum.read_text(), str(path))
    except FetchError:
        return False


def _get(client: httpx.Client, url: str) -> httpx.Response | None:
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise FetchError(f"could not download {url}: {exc}") from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise FetchError(f"could not download {url}: HTTP {response.status_code}")
    return response


def _download(client: httpx.Client, base_url: str, item: ArchiveFile, cache_dir: Path) -> str:
    """Fetch one archive into the cache: ``"cached"``, ``"downloaded"`` or ``"missing"`` (404)."""
    target = cache_dir / item.relative_path
    if _verified(target):
        return "cached"
    url = f"{base_url.rstrip('/')}/{item.relative_path}"
    checksum = _get(client, url + ".CHECKSUM")
    if checksum is None:
        return "missing"
    expected = _expected_hash(checksum.text, url)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with client.stream("GET", url) as response:
            if response.status_code == 404:
                return "missing"
            if response.status_code != 200:
                raise FetchError(f"could not download {url}: HTTP {response.status_code}")
            with part.open("wb") as fh:
                for chunk in response.iter_bytes(_CHUNK):
                    digest.update(chunk)
                    fh.write(chunk)
    except httpx.HTTPError as exc:
        part.unlink(missing_ok=True)
        raise FetchError(f"could not download {url}: {exc}") from exc
    got = digest.hexdigest()
    if got != expected:
        part.unlink(missing_ok=True)
        raise ChecksumMismatchError(
            f"checksum mismatch for {url}: expected sha256 {expected}, got {got}; the file was discarded "
            "(retry later, or report it if it persists)",
            details={"url": url, "expected": expected, "received": got},
        )
    part.replace(target)
    target.with_name(target.name + ".CHECKSUM").write_text(checksum.text)
    return "downloaded"


def fetch_klines(
    symbol: str,
    timeframe: str,
    start_ms: int,
    end_ms: int | None = None,
    *,
    cache_dir: Path,
    base_url: str = DEFAULT_BASE_URL,
    client: httpx.Client | None = None,
    progress: Callable[[FetchEvent], None] | None = None,
    now_ms: int | None = None,
) -> FetchResult:
    """Download (or reuse) the archives covering ``[start_ms, end_ms)`` and return their closed candles."""
    if timeframe not in TIMEFRAMES:
        raise FetchError(f"timeframe must be one of {list(TIMEFRAMES)}; got {timeframe!r}")
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    end_ms = now_ms if end_ms is None else min(end_ms, now_ms)
    if start_ms >= end_ms:
        raise FetchError(f"start must be before end (and not in the future); got start={start_ms}, end={end_ms}")
    today = datetime.fromtimestamp(now_ms / 1000, UTC).date()
    first = datetime.fromtimestamp(start_ms / 1000, UTC).date()
    last = min(datetime.fromtimestamp((end_ms - 1) / 1000, UTC).date(), today - timedelta(days=1))
    plan = plan_archives(symbol, timeframe, start_ms, end_ms, today)
    own = client is None
    http = client or httpx.Client(timeout=httpx.Timeout(60.0, connect=15.0), follow_redirects=True)
    if progress is not None:
        progress(FetchEvent("planned", total=len(plan)))
    paths: list[Path] = []
    downloaded = cached = 0
    missing: list[str] = []
    try:
        queue = list(plan)
        while queue:
            item = queue.pop(0)
            status = _download(http, base_url, item, cache_dir)
            if status == "missing" and item.period == "monthly":
                extra = _daily_files_of(item, first, last)
                queue[:0] = extra
                if progress is not None:
                    progress(FetchEvent("planned", total=len(extra)))
            elif status == "missing":
                missing.append(item.name)
            else:
                paths.append(cache_dir / item.relative_path)
                downloaded += status == "downloaded"
                cached += status == "cached"
            if progress is not None:
                progress(FetchEvent("file", file=item, status=status))  # type: ignore[arg-type]
    finally:
        if own:
            http.close()
    return FetchResult(_combine(symbol, timeframe, paths, start_ms, end_ms, now_ms), downloaded, cached, tuple(missing))


def _combine(symbol: str, timeframe: str, paths: list[Path], start_ms: int, end_ms: int, now_ms: int) -> Candles:
    parts: list[Candles] = []
    for path in paths:
        try:
            parts.append(load_binance_kline_archive(path, symbol=symbol, timeframe=timeframe))
        except TradeReadyCoreError as exc:
            raise FetchError(f"{path.name}: {exc}") from exc
    step = timeframe_ms(timeframe)
    if parts:
        times = np.concatenate([p.open_time for p in parts])
        order = np.argsort(times, kind="stable")
        times = times[order]
        keep = np.r_[True, times[1:] != times[:-1]]
        keep &= (times >= start_ms) & (times < end_ms) & (times + step <= now_ms)
        arrays = {c: np.concatenate([getattr(p, c) for p in parts])[order][keep] for c in OHLCV_COLUMNS}
        times = times[keep]
    else:
        times = np.zeros(0, np.int64)
        arrays = {c: np.zeros(0) for c in OHLCV_COLUMNS}
    return Candles(symbol=symbol, timeframe=timeframe, open_time=times, source="binance", **arrays)
