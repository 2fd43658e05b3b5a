"""Synthetic candles: deterministic, always labelled synthetic, valid, with crypto's stylised facts."""

from __future__ import annotations

import numpy as np
import pytest

from tradeready_core.data import Candles, synthetic_candles, synthetic_market, to_ms, validate_candles
from tradeready_core.errors import InvalidParameterError


def log_returns(c: Candles) -> np.ndarray:
    return np.diff(np.log(c.close))


def autocorr(x: np.ndarray, lag: int) -> float:
    return float(np.corrcoef(x[:-lag], x[lag:])[0, 1])


def kurtosis(x: np.ndarray) -> float:
    """Pearson kurtosis (3 for a normal distribution)."""
    d = x - x.mean()
    return float(np.mean(d**4) / np.mean(d**2) ** 2)


def ranks(x: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(x))


def test_deterministic_for_a_seed_and_different_across_seeds() -> None:
    a = synthetic_candles(seed=7, periods=500)
    b = synthetic_candles(seed=7, periods=500)
    assert a == b and a.fingerprint == b.fingerprint
    np.testing.assert_array_equal(a.close, b.close)
    assert synthetic_candles(seed=8, periods=500).fingerprint != a.fingerprint
    # a shorter run is a prefix of a longer one with the same seed
    short = synthetic_candles(seed=7, periods=3)
    np.testing.assert_array_equal(short.close, a.close[:3])
    np.testing.assert_array_equal(short.volume, a.volume[:3])


def test_always_labelled_synthetic_and_on_the_grid() -> None:
    c = synthetic_candles("ETHUSDT", "15m", start="2024-03-01T06:15Z", periods=100, seed=1)
    assert (c.symbol, c.timeframe, c.source, c.is_synthetic) == ("ETHUSDT", "15m", "synthetic", True)
    np.testing.assert_array_equal(c.open_time, to_ms("2024-03-01T06:15Z") + 900_000 * np.arange(100))
    assert 1_000 < c.open[0] < 5_000  # the ETH profile


@pytest.mark.parametrize("timeframe", ["1m", "1h", "1d"])
def test_passes_validation_with_no_gaps(timeframe: str) -> None:
    c = synthetic_candles(timeframe=timeframe, periods=3000, seed=2)
    report = validate_candles(c)
    assert report.ok and report.gaps == ()
    np.testing.assert_array_equal(c.open[1:], c.close[:-1])  # 24/7: each bar opens at the last close
    assert np.all(c.high > np.maximum(c.open, c.close)) and np.all(c.low < np.minimum(c.open, c.close))
    assert np.all(c.volume > 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stylised_facts(seed: int) -> None:
    r = log_returns(synthetic_candles(periods=5000, seed=seed))
    absolute = np.abs(r)
    # volatility clustering: |returns| positively autocorrelated over many lags, returns themselves not
    lags = range(1, 11)
    assert all(autocorr(absolute, lag) > 0.05 for lag in lags)
    assert np.mean([autocorr(absolute, lag) for lag in lags]) > 0.1
    assert abs(autocorr(r, 1)) < 0.05
    # the same returns in random order have no clustering (the check can fail)
    shuffled = np.random.default_rng(seed).permutation(absolute)
    assert np.mean([autocorr(shuffled, lag) for lag in lags]) < 0.03
    # fat tails
    assert kurtosis(r) > 5


def test_intrabar_range_and_volume_are_realistic(btc_1h: Candles) -> None:
    synth = synthetic_candles(periods=5000, seed=0)
    real = btc_1h.slice("2023-03-24T14:00Z")
    real_range = np.median(np.log(real.high / real.low))
    synth_range = np.median(np.log(synth.high / synth.low))
    assert 0.5 < synth_range / real_range < 2.0
    # volume rises with the absolute return (rank correlation), as on the real data
    corr = np.corrcoef(ranks(np.abs(log_returns(synth))), ranks(synth.volume[1:]))[0, 1]
    assert 0.2 < corr < 0.7
    real_turnover = np.median(real.volume * real.close)
    assert 0.2 < np.median(synth.volume * synth.close) / real_turnover < 5


def test_market_is_correlated_and_single_symbol_matches() -> None:
    m = synthetic_market(["BTCUSDT", "ETHUSDT", "SOLUSDT"], periods=4000, seed=4, correlation=0.6)
    assert m.sources == ("synthetic",) * 3 and m.is_synthetic and m.dropped_bars == (0, 0, 0)
    r = np.diff(np.log(m.close), axis=0)
    corr = np.corrcoef(r.T)
    assert np.all(np.abs(corr[np.triu_indices(3, 1)] - 0.6) < 0.08)
    vol = r.std(axis=0)
    assert vol[0] < vol[1] < vol[2]  # BTC < ETH < SOL
    single = synthetic_market(["BTCUSDT"], periods=300, seed=9)
    assert single.candles("BTCUSDT") == synthetic_candles("BTCUSDT", periods=300, seed=9)
    matrix = [[1.0, -0.3], [-0.3, 1.0]]
    pair = synthetic_market(["A", "B"], periods=3000, seed=1, correlation=matrix)
    assert np.corrcoef(np.diff(np.log(pair.close), axis=0).T)[0, 1] < -0.15


def test_start_price_and_volatility_overrides() -> None:
    c = synthetic_candles("XYZUSDT", periods=2000, seed=3, start_price=5.0, annual_volatility=0.2)
    assert c.open[0] == 5.0
    calm = log_returns(c).std()
    wild = log_returns(synthetic_candles("XYZUSDT", periods=2000, seed=3, annual_volatility=1.6)).std()
    assert wild / calm == pytest.approx(8.0, rel=1e-9)  # same shocks, scaled


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeframe": "2h"}, "timeframe must be one of"),
        ({"periods": 1}, "periods must be an integer >= 2; got 1"),
        ({"seed": -1}, "seed must be a non-negative integer; got -1"),
        ({"start": "2024-01-01T00:30Z"}, "start must be on the 1h grid"),
        ({"start_price": 0.0}, "start price of BTCUSDT must be > 0; got 0.0"),
        ({"annual_volatility": -0.1}, r"annual volatility of BTCUSDT must be in \(0, 10\)"),
    ],
)
def test_argument_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        synthetic_candles(**kwargs)  # type: ignore[arg-type]


def test_market_argument_errors() -> None:
    with pytest.raises(InvalidParameterError, match="correlation must be in"):
        synthetic_market(["A", "B", "C"], periods=10, correlation=-0.9)
    with pytest.raises(InvalidParameterError, match="positive definite"):
        synthetic_market(["A", "B", "C"], periods=10, correlation=[[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]])
    with pytest.raises(InvalidParameterError, match="at least one symbol"):
        synthetic_market([], periods=10)
    with pytest.raises(InvalidParameterError, match="symbols must be unique"):
        synthetic_market(["A", "A"], periods=10)
