"""The Binance archive downloader against a local server in the data.binance.vision layout (real candles)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.support.binance_archive import (
    MARKET_DATA,
    ArchiveServer,
    day_bounds_ms,
    month_bounds_ms,
    select,
    write_archive,
)

from tradeready.server.fetch import ChecksumMismatchError, FetchEvent, fetch_klines, plan_archives
from tradeready_core.data import Candles, load_candles
from tradeready_core.data._time import to_ms

HOUR = 3_600_000
NOW = to_ms("2025-01-03T12:00:00Z")
START = to_ms("2024-11-01")


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
    bad = archive_root / "data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-12.zip"
    bad.write_bytes(bad.read_bytes()[:-10] + b"0123456789")
    cache = tmp_path / "cache"
    with ArchiveServer(archive_root) as server, pytest.raises(ChecksumMismatchError) as caught:
        fetch_klines("BTCUSDT", "1h", START, cache_dir=cache, base_url=server.url, now_ms=NOW)
    message = str(caught.value)
    assert "checksum mismatch" in message and "BTCUSDT-1h-2024-12.zip" in message and "expected sha256" in message
    folder = cache / "data/spot/monthly/klines/BTCUSDT/1h"
    assert sorted(p.name for p in folder.iterdir()) == ["BTCUSDT-1h-2024-11.zip", "BTCUSDT-1h-2024-11.zip.CHECKSUM"]


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
