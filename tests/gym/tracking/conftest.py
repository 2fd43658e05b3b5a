"""Fixtures of the tracking tests: the real platform on loopback with real candles, an isolated spool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.gym.tracking.helpers import Platform, btc_candles, insert_candles
from tests.support.platform import AccountKey, LiveServer


@pytest.fixture(autouse=True)
def client_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The trainer's TRADEREADY_HOME (spool, run groups), private to the test."""
    home = tmp_path / "trainer-home"
    monkeypatch.setenv("TRADEREADY_HOME", str(home))
    monkeypatch.setenv("TRADEREADY_CACHE_DIR", str(tmp_path / "candle-cache"))
    monkeypatch.delenv("TRADEREADY_API_KEY", raising=False)
    monkeypatch.delenv("TRADEREADY_BASE_URL", raising=False)
    monkeypatch.setenv("TRADEREADY_TRACKING_SESSION", f"test-{tmp_path.name}")
    return home


@pytest.fixture
def platform(live_server: LiveServer, account: AccountKey) -> Iterator[Platform]:
    """The live platform with BTCUSDT 1h candles from December 2024 to February 2025."""
    insert_candles(live_server, btc_candles().slice("2024-12-01", "2025-02-01"))
    made = Platform(live_server, account)
    try:
        yield made
    finally:
        made.close()
