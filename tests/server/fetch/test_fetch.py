"""The Binance archive downloader against a local server in the data.binance.vision layout (real candles).

The server can be scripted to fail the way the real host does (429/418 with Retry-After, 5xx,
dropped connections, bodies cut short, stalls); ``sleep`` is a recorder, so no test waits for real
except the one that checks the default sleep.
"""

from __future__ import annotations

import email.utils
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from tests.support.binance_archive import (
    MARKET_DATA,
    ArchiveServer,
    Fault,
    day_bounds_ms,
    month_bounds_ms,
    select,
    write_archive,
)

from tradeready.server.fetch import (
    DEFAULT_RETRY,
    ChecksumMismatchError,
    FetchError,
    FetchEvent,
    FetchResult,
    RetryPolicy,
    fetch_klines,
    plan_archives,
)
from tradeready_core.data import Candles, load_candles
from tradeready_core.data._time import to_ms

HOUR = 3_600_000
NOW = to_ms("2025-01-03T12:00:00Z")
START = to_ms("2024-11-01")
FOLDER = "data/spot/monthly/klines/BTCUSDT/1h"
NOV = f"{FOLDER}/BTCUSDT-1h-2024-11.zip"
DEC = f"{FOLDER}/BTCUSDT-1h-2024-12.zip"
JAN_2 = "data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2025-01-02.zip"
EXACT = RetryPolicy(jitter=0.0)  # the default policy without jitter: delays 1, 2, 4, 8 s; 5 attempts


@pytest.fixture(scope="module")
def btc_1h() -> Candles:
    return load_candles(MARKET_DATA / "BTCUSDT-1h.csv")


@pytest.fixture
def archive_root(tmp_path: Path, btc_1h: Candles) -> Path:
    """Monthly zips for 2024-11 and 2024-12 (ms timestamps), daily zips for 2025-01-01/02 (µs)."""
    root = tmp_path / "binance"
    for month in (11, 12):
        write_archive(root, "monthly", select(btc_1h, *month_bounds_ms(2024, month)), f"2024-{month:02d}", HOUR)
    for day in (1, 2):
        write_archive(root, "daily", select(btc_1h, *day_bounds_ms(2025, 1, day)), f"2025-01-{day:02d}", HOUR)
    return root


def _zip_requests(server: ArchiveServer) -> list[str]:
    return [p for p in server.requests if p.endswith(".zip")]


def test_plan_uses_monthly_files_for_past_months_and_daily_for_the_current_one() -> None:
    from datetime import date

    plan = plan_archives("BTCUSDT", "1h", START, NOW, date(2025, 1, 3))
    assert [f.relative_path for f in plan] == [
        "data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-11.zip",
        "data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-12.zip",
        "data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2025-01-01.zip",
        "data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2025-01-02.zip",
    ]


def test_fetch_returns_the_real_candles_across_the_ms_to_us_switch(
    archive_root: Path, tmp_path: Path, btc_1h: Candles
) -> None:
    events: list[FetchEvent] = []
    with ArchiveServer(archive_root) as server:
        result = fetch_klines(
            "BTCUSDT",
            "1h",
            START,
            cache_dir=tmp_path / "cache",
            base_url=server.url,
            now_ms=NOW,
            progress=events.append,
        )
    expected = btc_1h.slice(START, to_ms("2025-01-03"))
    assert result.candles.source == "binance"
    assert (result.downloaded, result.cached, result.missing) == (4, 0, ())
    np.testing.assert_array_equal(result.candles.open_time, expected.open_time)
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(getattr(result.candles, name), getattr(expected, name), rtol=0, atol=1e-8)
    assert [e.status for e in events if e.kind == "file"] == ["downloaded"] * 4


def test_resume_skips_verified_files_and_never_trusts_partial_ones(archive_root: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with ArchiveServer(archive_root) as server:
        first = fetch_klines("BTCUSDT", "1h", START, cache_dir=cache, base_url=server.url, now_ms=NOW)
        # an interrupted download: a truncated archive and a stray .part file
        december = cache / "data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-12.zip"
        december.write_bytes(december.read_bytes()[:100])
        (december.parent / "BTCUSDT-1h-2024-11.zip.part").write_bytes(b"half")
        server.requests.clear()
        second = fetch_klines("BTCUSDT", "1h", START, cache_dir=cache, base_url=server.url, now_ms=NOW)
        requested = _zip_requests(server)
    assert (second.downloaded, second.cached) == (1, 3)
    assert requested == ["/data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-12.zip"]
    assert second.candles == first.candles


def test_checksum_mismatch_is_a_clear_error_and_leaves_nothing_trusted(archive_root: Path, tmp_path: Path) -> None:
    bad = archive_root / DEC
    bad.write_bytes(bad.read_bytes()[:-10] + b"0123456789")
    cache = tmp_path / "cache"
    delays: list[float] = []
    with ArchiveServer(archive_root) as server, pytest.raises(ChecksumMismatchError) as caught:
        fetch_klines("BTCUSDT", "1h", START, cache_dir=cache, base_url=server.url, now_ms=NOW, sleep=delays.append)
    message = str(caught.value)
    assert "checksum mismatch" in message and "BTCUSDT-1h-2024-12.zip" in message and "expected sha256" in message
    assert delays == [] and _count(server, DEC) == 1  # a complete body that differs is not asked for again
    assert _cache_names(cache) == ["BTCUSDT-1h-2024-11.zip", "BTCUSDT-1h-2024-11.zip.CHECKSUM"]


def test_unpublished_files_are_reported_and_a_missing_month_falls_back_to_days(
    archive_root: Path, tmp_path: Path, btc_1h: Candles
) -> None:
    monthly = archive_root / "data/spot/monthly/klines/BTCUSDT/1h"
    for suffix in ("", ".CHECKSUM"):
        (monthly / f"BTCUSDT-1h-2024-12.zip{suffix}").unlink()
    for day in range(1, 32):
        write_archive(archive_root, "daily", select(btc_1h, *day_bounds_ms(2024, 12, day)), f"2024-12-{day:02d}", HOUR)
    (archive_root / "data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2025-01-02.zip.CHECKSUM").unlink()
    with ArchiveServer(archive_root) as server:
        result = fetch_klines("BTCUSDT", "1h", START, cache_dir=tmp_path / "c", base_url=server.url, now_ms=NOW)
    assert result.missing == ("BTCUSDT-1h-2025-01-02.zip",)
    assert result.downloaded == 1 + 31 + 1
    np.testing.assert_array_equal(result.candles.open_time, btc_1h.slice(START, to_ms("2025-01-02")).open_time)


# --- transient failures -------------------------------------------------------------------------------------------


def _count(server: ArchiveServer, path: str) -> int:
    return server.requests.count("/" + path)


def _cache_names(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / FOLDER).iterdir())


def _fetch(server: ArchiveServer, cache: Path, delays: list[float], retry: RetryPolicy = EXACT) -> FetchResult:
    return fetch_klines(
        "BTCUSDT", "1h", START, cache_dir=cache, base_url=server.url, now_ms=NOW, retry=retry, sleep=delays.append
    )


def _retry_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tradeready.fetch" and r.levelno == logging.WARNING]


def test_rate_limited_download_honours_retry_after_then_succeeds(
    archive_root: Path, tmp_path: Path, btc_1h: Candles, caplog: pytest.LogCaptureFixture
) -> None:
    delays: list[float] = []
    with ArchiveServer(archive_root) as server:
        server.script(DEC, Fault.answer(429, retry_after="2"), Fault.answer(429, retry_after="2"))
        result = _fetch(server, tmp_path / "cache", delays)
    assert delays == [2.0, 2.0]  # Retry-After, not the exponential 1 s then 2 s
    assert _count(server, DEC) == 3
    assert (result.downloaded, result.cached, result.missing) == (4, 0, ())
    np.testing.assert_array_equal(result.candles.open_time, btc_1h.slice(START, to_ms("2025-01-03")).open_time)
    logs = _retry_logs(caplog)
    assert len(logs) == 2 and all("HTTP 429 (rate limited)" in m and "BTCUSDT-1h-2024-12.zip" in m for m in logs)
    assert "attempt 1 of 5" in logs[0] and "retrying in 2.0 s as asked by Retry-After" in logs[0]


def test_server_error_then_success_waits_the_base_delay(archive_root: Path, tmp_path: Path) -> None:
    delays: list[float] = []
    with ArchiveServer(archive_root) as server:
        server.script(NOV + ".CHECKSUM", Fault.answer(503))
        result = _fetch(server, tmp_path / "cache", delays)
    assert delays == [1.0] and _count(server, NOV + ".CHECKSUM") == 2
    assert result.downloaded == 4


def test_back_off_is_exponential_and_capped_at_max_delay(archive_root: Path, tmp_path: Path) -> None:
    delays: list[float] = []
    policy = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=3.0, jitter=0.0)
    with ArchiveServer(archive_root) as server:
        server.script(
            DEC, Fault.answer(500), Fault.answer(502), Fault.answer(503), Fault.answer(504), Fault.answer(408)
        )
        result = _fetch(server, tmp_path / "cache", delays, policy)
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert result.downloaded == 4


def test_jitter_shortens_each_delay_by_at_most_its_fraction() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=0.5)
    for retry, full in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (60, 5.0)):
        samples = [policy.backoff(retry) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in samples)
        assert len(set(samples)) > 1
    assert DEFAULT_RETRY.jitter > 0 and EXACT.backoff(3) == 4.0


def test_dropped_connections_and_cut_bodies_are_retried_and_leave_no_part_file(
    archive_root: Path, tmp_path: Path, btc_1h: Candles, caplog: pytest.LogCaptureFixture
) -> None:
    delays: list[float] = []
    cache = tmp_path / "cache"
    with ArchiveServer(archive_root) as server:
        server.script(NOV + ".CHECKSUM", Fault.drop())
        server.script(DEC, Fault.drop(), Fault.cut())
        result = _fetch(server, cache, delays)
    assert delays == [1.0, 1.0, 2.0]  # per request: the checksum's first retry, then the zip's first two
    assert (result.downloaded, _count(server, DEC)) == (4, 3)
    np.testing.assert_array_equal(result.candles.open_time, btc_1h.slice(START, to_ms("2025-01-03")).open_time)
    assert not list(cache.rglob("*.part"))
    assert "RemoteProtocolError" in " ".join(_retry_logs(caplog))


def test_a_stalled_response_times_out_and_is_retried(archive_root: Path, tmp_path: Path) -> None:
    delays: list[float] = []
    with ArchiveServer(archive_root) as server, httpx.Client(timeout=0.2) as client:
        server.script(DEC, Fault.stall(0.6))
        result = fetch_klines(
            "BTCUSDT",
            "1h",
            START,
            cache_dir=tmp_path / "cache",
            base_url=server.url,
            now_ms=NOW,
            client=client,
            retry=EXACT,
            sleep=delays.append,
        )
    assert delays == [1.0] and result.downloaded == 4


@pytest.mark.parametrize(
    ("fault", "reason"),
    [(Fault.answer(500), "HTTP 500"), (Fault.drop(), "RemoteProtocolError"), (Fault.cut(), "RemoteProtocolError")],
)
def test_a_persistent_failure_gives_up_after_max_attempts_with_a_clear_error(
    archive_root: Path, tmp_path: Path, fault: Fault, reason: str
) -> None:
    delays: list[float] = []
    cache = tmp_path / "cache"
    with ArchiveServer(archive_root) as server, pytest.raises(FetchError) as caught:
        server.script(DEC, then=fault)
        _fetch(server, cache, delays, RetryPolicy(max_attempts=4, jitter=0.0))
    message = str(caught.value)
    assert f"could not download {server.url}/{DEC}: {reason}" in message
    assert "after 4 attempts and 7.0 s of waiting" in message and "try again later" in message
    assert caught.value.details["attempts"] == 4 and caught.value.details["waited_s"] == 7.0
    assert delays == [1.0, 2.0, 4.0] and _count(server, DEC) == 4
    assert _cache_names(cache) == ["BTCUSDT-1h-2024-11.zip", "BTCUSDT-1h-2024-11.zip.CHECKSUM"]  # nothing half-written


def test_a_ban_longer_than_the_budget_gives_up_at_once(archive_root: Path, tmp_path: Path) -> None:
    delays: list[float] = []
    with ArchiveServer(archive_root) as server, pytest.raises(FetchError) as caught:
        server.script(NOV + ".CHECKSUM", then=Fault.answer(418, retry_after="3600"))
        _fetch(server, tmp_path / "cache", delays)
    message = str(caught.value)
    assert "HTTP 418 (IP banned for ignoring rate limits) after 1 attempt and 0.0 s of waiting" in message
    assert "the next wait, 3600.0 s (asked by Retry-After), would exceed the 120 s retry budget" in message
    assert "wait until the ban expires" in message
    assert caught.value.details == {
        "url": f"{server.url}/{NOV}.CHECKSUM",
        "status": 418,
        "reason": "HTTP 418 (IP banned for ignoring rate limits)",
        "attempts": 1,
        "waited_s": 0.0,
        "retry_after_s": 3600.0,
    }
    assert delays == [] and _count(server, NOV + ".CHECKSUM") == 1


def test_a_short_ban_is_waited_out(archive_root: Path, tmp_path: Path) -> None:
    delays: list[float] = []
    with ArchiveServer(archive_root) as server:
        server.script(DEC, Fault.answer(418, retry_after="1"))
        result = _fetch(server, tmp_path / "cache", delays)
    assert delays == [1.0] and result.downloaded == 4


def test_total_wait_is_capped_by_the_budget(archive_root: Path, tmp_path: Path) -> None:
    delays: list[float] = []
    with ArchiveServer(archive_root) as server, pytest.raises(FetchError) as caught:
        server.script(DEC, then=Fault.answer(429, retry_after="10"))
        _fetch(server, tmp_path / "cache", delays, RetryPolicy(max_attempts=10, max_total_wait=25.0, jitter=0.0))
    assert delays == [10.0, 10.0] and _count(server, DEC) == 3
    message = str(caught.value)
    assert "HTTP 429 (rate limited) after 3 attempts and 20.0 s of waiting" in message
    assert "(5.0 s left)" in message and "rate-limiting this IP" in message


def test_retry_after_as_an_http_date_and_unreadable_retry_after(archive_root: Path, tmp_path: Path) -> None:
    delays: list[float] = []
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    with ArchiveServer(archive_root) as server:
        server.script(NOV, Fault.answer(503, retry_after=when))
        server.script(DEC, Fault.answer(503, retry_after="soon"))
        result = _fetch(server, tmp_path / "cache", delays)
    assert 28.0 <= delays[0] <= 31.0  # until that date (whole seconds), measured from now
    assert delays[1:] == [1.0]  # unreadable: the exponential back-off
    assert result.downloaded == 4


@pytest.mark.parametrize("status", [400, 401, 403, 410])
def test_other_client_errors_are_not_retried(archive_root: Path, tmp_path: Path, status: int) -> None:
    delays: list[float] = []
    with ArchiveServer(archive_root) as server, pytest.raises(FetchError) as caught:
        server.script(DEC, then=Fault.answer(status))
        _fetch(server, tmp_path / "cache", delays)
    assert f"could not download {server.url}/{DEC}: HTTP {status} (not retried" in str(caught.value)
    assert delays == [] and _count(server, DEC) == 1
    assert not list((tmp_path / "cache").rglob("*.part"))


def test_404_is_not_retried_and_means_not_published(archive_root: Path, tmp_path: Path) -> None:
    delays: list[float] = []
    jan_1 = JAN_2.replace("01-02", "01-01")
    with ArchiveServer(archive_root) as server:
        server.script(JAN_2 + ".CHECKSUM", then=Fault.answer(404))
        server.script(jan_1, then=Fault.answer(404))  # checksum published, zip not (yet)
        result = _fetch(server, tmp_path / "cache", delays)
    assert result.missing == ("BTCUSDT-1h-2025-01-01.zip", "BTCUSDT-1h-2025-01-02.zip")
    assert delays == [] and _count(server, JAN_2 + ".CHECKSUM") == 1 and _count(server, jan_1) == 1
    assert not list((tmp_path / "cache").rglob("*.part"))


def test_an_interruption_while_waiting_to_retry_leaves_nothing_half_written(archive_root: Path, tmp_path: Path) -> None:
    class Interrupted(Exception):
        pass

    def interrupt(_: float) -> None:
        assert (tmp_path / "cache" / f"{DEC}.part").is_file()  # the cut body is on disk right now
        raise Interrupted

    cache = tmp_path / "cache"
    with ArchiveServer(archive_root) as server, pytest.raises(Interrupted):
        server.script(DEC, Fault.cut())
        fetch_klines("BTCUSDT", "1h", START, cache_dir=cache, base_url=server.url, now_ms=NOW, sleep=interrupt)
    assert _cache_names(cache) == ["BTCUSDT-1h-2024-11.zip", "BTCUSDT-1h-2024-11.zip.CHECKSUM"]


def test_the_default_sleep_really_waits(archive_root: Path, tmp_path: Path) -> None:
    with ArchiveServer(archive_root) as server:
        server.script(DEC, Fault.answer(503))
        began = time.monotonic()
        result = fetch_klines(
            "BTCUSDT",
            "1h",
            START,
            cache_dir=tmp_path / "cache",
            base_url=server.url,
            now_ms=NOW,
            retry=RetryPolicy(base_delay=0.2, jitter=0.0),
        )
    assert time.monotonic() - began >= 0.2 and result.downloaded == 4


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"base_delay": -1.0},
        {"max_delay": float("nan")},
        {"max_total_wait": float("inf")},
        {"jitter": 1.5},
    ],
)
def test_a_retry_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
