"""Download Binance public kline archives (data.binance.vision), verified, resumable and retried.

Whole past months come from monthly zips, the current month from daily zips (a past month whose
monthly zip is not published yet falls back to daily zips). Every zip is checked against its
``.CHECKSUM`` (sha256) before it is trusted; downloads go to a ``.part`` file that is renamed only
after verification (and the ``.CHECKSUM`` copy is written atomically after it), so an interrupted
or failed run never leaves a file that a later run would trust, and a failed download removes its
``.part``. A later run skips every file already verified in the cache directory (resume is per
file: a file is downloaded again from its start). 404 means "not published" (future days, months
before listing) and is reported, not an error.

Transient failures are retried per request according to a :class:`RetryPolicy` (default
:data:`DEFAULT_RETRY`): dropped connections, timeouts and HTTP 408, 429 (rate limited), 418 (IP
banned after ignoring 429s) and 5xx. A ``Retry-After`` header (seconds or an HTTP date) is
honoured as given; otherwise the delay grows exponentially (``base_delay * 2**(n-1)``, capped at
``max_delay``, with jitter). After ``max_attempts`` attempts, or when the next wait would take the
total past ``max_total_wait``, a :class:`FetchError` names the URL, the last failure, the attempts
and the time waited, and says what to do. Other 4xx answers (400, 403, ...) are not retried, nor
is a checksum mismatch (a complete body that differs from the published sha256 will not change by
asking again right away). Each retry is logged on the ``"tradeready.fetch"`` logger at WARNING.

Example::

    result = fetch_klines("BTCUSDT", "1h", start_ms=to_ms("2024-01-01"), cache_dir=home / "cache" / "binance")
    result.candles          # Candles(source="binance", ...), closed candles in [start, end)
    result.downloaded, result.cached, result.missing

    # more patient with a busy host; tests pass ``sleep=delays.append`` to record instead of waiting
    fetch_klines(..., retry=RetryPolicy(max_attempts=8, max_total_wait=600.0))
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final, Literal, TypeVar

import httpx
import numpy as np

from tradeready.server.errors import PlatformError
from tradeready_core.data import OHLCV_COLUMNS, Candles, load_binance_kline_archive
from tradeready_core.errors import TradeReadyCoreError
from tradeready_core.timeframes import TIMEFRAMES, timeframe_ms

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_RETRY",
    "ArchiveFile",
    "ChecksumMismatchError",
    "FetchError",
    "FetchEvent",
    "FetchResult",
    "RetryPolicy",
    "fetch_klines",
    "plan_archives",
]

DEFAULT_BASE_URL: Final[str] = "https://data.binance.vision"
_CHUNK: Final[int] = 1 << 16
#: Statuses worth asking again: request timeout, Binance's IP ban (after ignoring 429s), rate limited; and 5xx.
_RETRY_STATUSES: Final[frozenset[int]] = frozenset({408, 418, 429})

logger = logging.getLogger("tradeready.fetch")
_T = TypeVar("_T")


class FetchError(PlatformError):
    """Downloading market data failed (network, HTTP status, bad archive)."""

    status_code = 502


class ChecksumMismatchError(FetchError):
    """A downloaded archive does not match its published sha256."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry transient failures of one request (see the module docstring).

    ``max_attempts`` counts the first try (1 = never retry). Without ``Retry-After`` the n-th retry
    waits ``min(max_delay, base_delay * 2**(n-1))`` reduced by a random fraction of at most
    ``jitter`` (0 = exact delays, 0.5 = uniformly between half and all of it). A ``Retry-After``
    is honoured as given, even above ``max_delay``. No request waits more than ``max_total_wait``
    seconds in total: when the next wait would exceed it, the download gives up instead.
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_total_wait: float = 120.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1; got {self.max_attempts}")
        for name in ("base_delay", "max_delay", "max_total_wait"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number of seconds >= 0; got {value!r}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1; got {self.jitter!r}")

    def backoff(self, retry: int) -> float:
        """The wait before retry number ``retry`` (1-based) when the server gave no ``Retry-After``."""
        delay = min(self.max_delay, self.base_delay * 2.0 ** min(retry - 1, 64))
        return delay * (1.0 - self.jitter * random.random()) if self.jitter else delay


DEFAULT_RETRY: Final[RetryPolicy] = RetryPolicy()


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


class _Transient(Exception):
    """One attempt failed in a way worth retrying (internal to the retry loop)."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP date); None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _check_status(response: httpx.Response, url: str) -> bool:
    """True for 200, False for 404; :class:`_Transient` for statuses worth retrying, FetchError for the rest."""
    code = response.status_code
    if code == 200:
        return True
    if code == 404:
        return False
    if code in _RETRY_STATUSES or 500 <= code <= 599:
        phrase = {429: " (rate limited)", 418: " (IP banned for ignoring rate limits)"}.get(code, "")
        wait = _retry_after(response.headers.get("Retry-After"), time.time())
        raise _Transient(f"HTTP {code}{phrase}", code, wait)
    raise FetchError(
        f"could not download {url}: HTTP {code} (not retried: the host refuses this request; "
        "check the base URL, the symbol and the timeframe)",
        details={"url": url, "status": code, "attempts": 1},
    )


def _transient_or_raise(exc: httpx.HTTPError, url: str) -> _Transient:
    """A dropped connection or a timeout is transient; any other client error is raised as a FetchError."""
    if isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        return _Transient(f"{type(exc).__name__} ({str(exc).rstrip('.') or 'no details'})")
    raise FetchError(f"could not download {url}: {exc}", details={"url": url, "attempts": 1}) from exc


def _advice(failure: _Transient) -> str:
    if failure.status == 418:
        asked = f" (its Retry-After said {failure.retry_after:.0f} s)" if failure.retry_after is not None else ""
        return (
            f"Binance bans an IP (HTTP 418) that kept requesting after HTTP 429: wait until the ban expires{asked} "
            "before fetching again, and do not run fetches in parallel"
        )
    if failure.status == 429:
        wait = f"at least {failure.retry_after:.0f} s" if failure.retry_after is not None else "a few minutes"
        return f"The host is rate-limiting this IP: wait {wait} before fetching again, one fetch at a time"
    return (
        "The archive host or the network is having trouble: try again later (archives already verified are "
        "kept, so the next run resumes where this one stopped)"
    )


def _retrying(url: str, retry: RetryPolicy, sleep: Callable[[float], None], attempt: Callable[[], _T]) -> _T:
    """Run ``attempt`` until it succeeds, raises something else than :class:`_Transient`, or the policy gives up."""
    waited = 0.0
    n = 0
    while True:
        n += 1
        try:
            return attempt()
        except _Transient as failure:
            last = failure
        if n >= retry.max_attempts:
            why = ""
            break
        delay = last.retry_after if last.retry_after is not None else retry.backoff(n)
        if waited + delay > retry.max_total_wait:
            asked = " (asked by Retry-After)" if last.retry_after is not None else ""
            why = (
                f"; the next wait, {delay:.1f} s{asked}, would exceed the {retry.max_total_wait:g} s retry budget "
                f"({retry.max_total_wait - waited:.1f} s left)"
            )
            break
        logger.warning(
            "%s from %s (attempt %d of %d); retrying in %.1f s%s",
            last.reason,
            url,
            n,
            retry.max_attempts,
            delay,
            " as asked by Retry-After" if last.retry_after is not None else "",
        )
        sleep(delay)
        waited += delay
    raise FetchError(
        f"could not download {url}: {last.reason} after {n} attempt{'s' * (n != 1)} and {waited:.1f} s of waiting"
        f"{why}. {_advice(last)}.",
        details={
            "url": url,
            "status": last.status,
            "reason": last.reason,
            "attempts": n,
            "waited_s": waited,
            "retry_after_s": last.retry_after,
        },
    ) from last


def _get(
    client: httpx.Client, url: str, retry: RetryPolicy = DEFAULT_RETRY, sleep: Callable[[float], None] = time.sleep
) -> httpx.Response | None:
    """GET a small file (a ``.CHECKSUM``): the response, or None for 404."""

    def attempt() -> httpx.Response | None:
        try:
            response = client.get(url)
        except httpx.HTTPError as exc:
            raise _transient_or_raise(exc, url) from exc
        return response if _check_status(response, url) else None

    return _retrying(url, retry, sleep, attempt)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _download(
    client: httpx.Client,
    base_url: str,
    item: ArchiveFile,
    cache_dir: Path,
    retry: RetryPolicy = DEFAULT_RETRY,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Fetch one archive into the cache: ``"cached"``, ``"downloaded"`` or ``"missing"`` (404)."""
    target = cache_dir / item.relative_path
    if _verified(target):
        return "cached"
    url = f"{base_url.rstrip('/')}/{item.relative_path}"
    checksum = _get(client, url + ".CHECKSUM", retry, sleep)
    if checksum is None:
        return "missing"
    expected = _expected_hash(checksum.text, url)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")

    def attempt() -> str | None:
        """Stream the zip into ``part`` (truncated first): its sha256, or None for 404."""
        digest = hashlib.sha256()
        try:
            with client.stream("GET", url) as response:
                if not _check_status(response, url):
                    return None
                with part.open("wb") as fh:
                    for chunk in response.iter_bytes(_CHUNK):
                        digest.update(chunk)
                        fh.write(chunk)
        except httpx.HTTPError as exc:
            raise _transient_or_raise(exc, url) from exc
        return digest.hexdigest()

    try:
        got = _retrying(url, retry, sleep, attempt)
        if got is None:
            return "missing"
        if got != expected:
            raise ChecksumMismatchError(
                f"checksum mismatch for {url}: expected sha256 {expected}, got {got}; the file was discarded "
                "(retry later, or report it if it persists)",
                details={"url": url, "expected": expected, "received": got},
            )
        part.replace(target)
    finally:  # whatever went wrong (HTTP, checksum, disk, Ctrl-C), no partial file stays behind
        part.unlink(missing_ok=True)
    _write_atomically(target.with_name(target.name + ".CHECKSUM"), checksum.text)
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
    retry: RetryPolicy = DEFAULT_RETRY,
    sleep: Callable[[float], None] | None = None,
) -> FetchResult:
    """Download (or reuse) the archives covering ``[start_ms, end_ms)`` and return their closed candles.

    ``retry`` says how transient failures are retried (per request); ``sleep`` waits between
    attempts (default :func:`time.sleep`; tests pass a recorder).
    """
    if timeframe not in TIMEFRAMES:
        raise FetchError(f"timeframe must be one of {list(TIMEFRAMES)}; got {timeframe!r}")
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    end_ms = now_ms if end_ms is None else min(end_ms, now_ms)
    if start_ms >= end_ms:
        raise FetchError(f"start must be before end (and not in the future); got start={start_ms}, end={end_ms}")
    wait = time.sleep if sleep is None else sleep
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
            status = _download(http, base_url, item, cache_dir, retry, wait)
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
