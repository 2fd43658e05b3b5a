"""resample: exact against real Binance 1h candles, complete buckets only, gaps explicit, no look-ahead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeready_core.data import Candles, load_candles, resample, synthetic_candles, to_ms
from tradeready_core.errors import InvalidParameterError
from tradeready_core.timeframes import timeframe_ms

HOUR_MS = 3_600_000


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
def test_real_1m_aggregated_to_1h_equals_real_1h(market_dir: Path, symbol: str) -> None:
    minutes = load_candles(market_dir / f"{symbol}-1m.csv")
    hours = load_candles(market_dir / f"{symbol}-1h.csv")
    built = resample(minutes, "1h")
    # 2025-01-01T03:00Z .. 2025-02-04T20:19Z: 833 full hours, the 20:00 hour is partial and dropped
    assert len(built) == 833
    assert built.open_time[0] == to_ms("2025-01-01T03:00Z")
    assert built.open_time[-1] == to_ms("2025-02-04T19:00Z")
    reference = hours.slice(built.open_time[0], built.open_time[-1] + HOUR_MS)
    np.testing.assert_array_equal(built.open_time, reference.open_time)
    for name in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(built, name), getattr(reference, name), err_msg=name)
    np.testing.assert_allclose(built.volume, reference.volume, rtol=1e-12)
    assert (built.symbol, built.source) == (symbol, "file")


def test_chained_resampling_equals_direct(btc_1m: Candles) -> None:
    direct = resample(btc_1m, "4h")
    via = resample(resample(resample(btc_1m, "5m"), "15m"), "1h")
    chained = resample(via, "4h")
    np.testing.assert_array_equal(direct.open_time, chained.open_time)
    for name in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(direct, name), getattr(chained, name))
    np.testing.assert_allclose(direct.volume, chained.volume, rtol=1e-12)
    # first full 4h bucket after 03:00Z is 04:00Z; full days run 2025-01-02 .. 2025-02-03
    assert direct.open_time[0] == to_ms("2025-01-01T04:00Z")
    daily = resample(btc_1m, "1d")
    assert len(daily) == 33 and daily.open_time[0] == to_ms("2025-01-02")
    assert daily.open_time[-1] == to_ms("2025-02-03")


def test_buckets_touching_gaps_are_dropped_by_default(btc_1h: Candles) -> None:
    four = resample(btc_1h, "4h")
    halt = to_ms("2023-03-24T12:00Z")  # 13:00Z is missing in the real data
    assert halt not in four.open_time
    assert halt - 4 * HOUR_MS in four.open_time and halt + 4 * HOUR_MS in four.open_time
    # the data starts on the 4h grid (20:00Z); the 5 gaps touch 1+1+2+2+1 = 7 buckets, all omitted
    expected = (btc_1h.open_time[-1] + HOUR_MS - to_ms("2021-04-04T20:00Z")) // (4 * HOUR_MS)
    assert four.open_time[0] == to_ms("2021-04-04T20:00Z")
    assert len(four) == expected - 7
    assert to_ms("2023-03-24") not in resample(btc_1h, "1d").open_time


def test_aggregate_mode_builds_interior_gap_buckets_from_the_bars_present(btc_1h: Candles) -> None:
    four = resample(btc_1h, "4h", incomplete="aggregate")
    halt = to_ms("2023-03-24T12:00Z")
    k = int(np.searchsorted(four.open_time, halt))
    assert four.open_time[k] == halt
    present = btc_1h.slice(halt, halt + 4 * HOUR_MS)
    assert len(present) == 3
    assert four.open[k] == present.open[0] and four.close[k] == present.close[-1]
    assert four.high[k] == present.high.max() and four.low[k] == present.low.min()
    assert four.volume[k] == pytest.approx(present.volume.sum())
    # all 7 gap buckets are back
    assert len(four) == len(resample(btc_1h, "4h")) + 7
    # a leading partial bucket is still dropped: the bars before the data are unknown, not missing
    late_start = resample(btc_1h.slice("2021-04-04T21:00Z"), "4h", incomplete="aggregate")
    assert late_start.open_time[0] == to_ms("2021-04-05T00:00Z")


def test_partial_trailing_bucket_is_never_emitted() -> None:
    c = synthetic_candles(periods=30, seed=3)  # 30 hours from 00:00Z
    for mode in ("drop", "aggregate"):
        four = resample(c, "4h", incomplete=mode)
        assert len(four) == 7, mode
        assert four.open_time[-1] + 4 * HOUR_MS <= c.open_time[-1] + HOUR_MS


@settings(max_examples=40, deadline=None)
@given(cut=st.integers(1, 200), target=st.sampled_from(["15m", "1h", "4h"]))
def test_no_look_ahead_a_prefix_never_changes_emitted_bars(cut: int, target: str) -> None:
    full = synthetic_candles(timeframe="5m", periods=200, seed=11)
    whole = resample(full, target)
    prefix = resample(full.slice(end=full.open_time[0] + cut * 300_000), target)
    assert len(prefix) <= len(whole)
    np.testing.assert_array_equal(prefix.open_time, whole.open_time[: len(prefix)])
    np.testing.assert_array_equal(prefix.close, whole.close[: len(prefix)])
    # every emitted bar has closed by the end of the prefix
    if len(prefix):
        assert prefix.open_time[-1] + timeframe_ms(target) <= full.open_time[0] + cut * 300_000


def test_invariants_and_labels_on_synthetic_data() -> None:
    c = synthetic_candles(timeframe="15m", periods=400, seed=5)
    h = resample(c, "1h")
    assert (h.symbol, h.timeframe, h.source, h.is_synthetic) == ("BTCUSDT", "1h", "synthetic", True)
    assert len(h) == 100
    np.testing.assert_array_equal(h.open, c.open[::4])
    np.testing.assert_array_equal(h.close, c.close[3::4])
    np.testing.assert_array_equal(h.high, c.high.reshape(-1, 4).max(axis=1))
    np.testing.assert_array_equal(h.low, c.low.reshape(-1, 4).min(axis=1))
    np.testing.assert_allclose(h.volume, c.volume.reshape(-1, 4).sum(axis=1), rtol=1e-12)
    assert resample(c, "15m") is c


def test_resample_argument_errors(btc_1h: Candles) -> None:
    with pytest.raises(
        InvalidParameterError, match=r"cannot resample 1h candles to '15m'; allowed targets: \['1h', '4h', '1d'\]"
    ):
        resample(btc_1h, "15m")
    with pytest.raises(InvalidParameterError, match=r"one of .*; got '1w'"):
        resample(btc_1h, "1w")
    with pytest.raises(InvalidParameterError, match="incomplete must be"):
        resample(btc_1h, "4h", incomplete="fill")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="candles must be Candles"):
        resample(btc_1h.to_frame(), "4h")  # type: ignore[arg-type]
