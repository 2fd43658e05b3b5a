"""The market store on SQLite and PostgreSQL: bulk idempotent writes, conflict reports, reads, resampling."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy.orm import Session
from tests.support import shared_data

from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.db.migrate import upgrade
from tradeready.server.settings import Settings
from tradeready.server.store.market import DatasetNotFoundError, MarketStore, SourceConflictError, clear_cache
from tradeready_core.data import Candles, load_candles, resample, synthetic_candles

MARKET = str(shared_data.MARKET)


@pytest.fixture
def session(platform_settings: Settings) -> Iterator[Session]:
    platform_settings.home.mkdir(parents=True, exist_ok=True)
    url = platform_settings.resolved_database_url
    upgrade(url)
    engine = make_engine(url)
    clear_cache()
    try:
        with make_session_factory(engine)() as s:
            yield s
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def btc_1h() -> Candles:
    return load_candles(f"{MARKET}/BTCUSDT-1h.csv")


def _with_values(c: Candles, close: np.ndarray) -> Candles:
    high = np.maximum(c.high, close)
    return Candles(c.symbol, c.timeframe, c.open_time, c.open, high, c.low, close, c.volume, c.source)


def test_import_is_idempotent_and_reads_back_exactly(session: Session, btc_1h: Candles) -> None:
    store = MarketStore(session)
    first = store.insert_candles(btc_1h)
    session.commit()
    again = store.insert_candles(btc_1h.slice("2022-01-01", "2023-01-01"))
    session.commit()
    assert (first.inserted, first.conflicts) == (len(btc_1h), 0)
    assert (again.inserted, again.unchanged, again.conflicts) == (0, 8760, 0)
    clear_cache()
    loaded = store.load_candles("BTCUSDT", "1h")
    assert loaded == btc_1h  # same fingerprint: every value identical
    part = store.load_candles("BTCUSDT", "1h", start_ms=1_704_067_200_000, end_ms=1_704_153_600_000)
    assert len(part) == 24 and part.open_time[0] == 1_704_067_200_000
    [info] = store.list_datasets()
    assert (info.symbol, info.timeframe, info.count, info.gaps, info.missing_bars) == ("BTCUSDT", "1h", 44080, 5, 12)
    assert info.to_dict()["first_time"] == "2021-04-04T20:00:00Z"


def test_conflicting_values_are_reported_not_overwritten_unless_asked(session: Session, btc_1h: Candles) -> None:
    store = MarketStore(session)
    base = btc_1h.slice("2024-01-01", "2024-02-01")
    store.insert_candles(base)
    close = np.array(base.close)
    close[[3, 10]] *= 1.01
    changed = _with_values(base, close)
    extended = btc_1h.slice("2024-01-15", "2024-02-15")
    report = store.insert_candles(changed)
    assert (report.inserted, report.conflicts, report.overwritten, report.unchanged) == (0, 2, 0, len(base) - 2)
    assert report.conflict_examples[0].open_time == int(base.open_time[3])
    assert report.conflict_examples[0].stored[3] == base.close[3]
    assert report.conflict_examples[0].incoming[3] == close[3]
    assert store.load_candles("BTCUSDT", "1h", end_ms=int(base.open_time[-1]) + 1) == base
    forced = store.insert_candles(changed, overwrite=True)
    assert (forced.conflicts, forced.overwritten) == (2, 2)
    assert store.load_candles("BTCUSDT", "1h", end_ms=int(base.open_time[-1]) + 1).close[3] == close[3]
    more = store.insert_candles(extended)
    assert more.inserted == len(btc_1h.slice("2024-02-01", "2024-02-15"))
    assert store.get_dataset("BTCUSDT", "1h").count == len(btc_1h.slice("2024-01-01", "2024-02-15"))  # type: ignore[union-attr]


def test_coarser_timeframes_are_resampled_from_finer_data(session: Session) -> None:
    minute = load_candles(f"{MARKET}/ETHUSDT-1m.csv")
    store = MarketStore(session)
    store.insert_candles(minute)
    hourly, origin = store.load_candles_with_origin("ETHUSDT", "1h")
    assert origin == "1m"
    assert hourly == resample(minute, "1h")
    window = store.load_candles("ETHUSDT", "4h", start_ms=int(minute.open_time[0]) + 60_000)
    assert window.open_time[0] % (4 * 3_600_000) == 0 and window.open_time[0] > minute.open_time[0]


def test_unknown_dataset_lists_what_is_stored(session: Session, btc_1h: Candles) -> None:
    store = MarketStore(session)
    with pytest.raises(DatasetNotFoundError) as empty:
        store.load_candles("BTCUSDT", "1h")
    assert "tradeready data import" in empty.value.message and "tradeready data demo" in empty.value.message
    assert empty.value.code == "dataset_not_found"
    store.insert_candles(btc_1h.slice("2024-01-01", "2024-01-02"))
    with pytest.raises(DatasetNotFoundError) as other:
        store.load_candles("BTCUSDT", "5m")  # finer than what is stored: cannot resample
    assert other.value.details["stored"] == [{"symbol": "BTCUSDT", "timeframe": "1h", "source": "file"}]


def test_synthetic_data_is_never_mixed_into_real_data(session: Session, btc_1h: Candles) -> None:
    store = MarketStore(session)
    demo = synthetic_candles("BTCUSDT", "1h", start="2024-01-01", periods=100, seed=1)
    store.insert_candles(demo)
    assert store.get_dataset("BTCUSDT", "1h").source == "synthetic"  # type: ignore[union-attr]
    real = store.insert_candles(btc_1h.slice("2024-01-01", "2024-01-03"))
    assert real.replaced_synthetic == 100
    info = store.get_dataset("BTCUSDT", "1h")
    assert info is not None and (info.source, info.count) == ("file", 48)
    with pytest.raises(SourceConflictError):
        store.insert_candles(demo)


def test_a_large_synthetic_minute_dataset_round_trips(session: Session) -> None:
    year = synthetic_candles("SYNUSDT", "1m", start="2024-01-01", periods=120_000, seed=3)
    store = MarketStore(session)
    written: list[int] = []
    result = store.insert_candles(year, progress=written.append)
    session.commit()
    assert result.inserted == 120_000 and sum(written) == 120_000 and len(written) > 1  # batched
    clear_cache()
    assert store.load_candles("SYNUSDT", "1m") == year
