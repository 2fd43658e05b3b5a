"""The feature pipeline against TA-Lib on real BTCUSDT 1h candles: values, warm-up, no look-ahead."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from tests.support.shared_data import BTC_1H

from tradeready_core.errors import DataValidationError, InsufficientDataError, InvalidParameterError
from tradeready_gym.features import (
    FEATURE_CLIP,
    FEATURES,
    PORTFOLIO_FEATURES,
    FeatureMatrix,
    FeaturePipeline,
)

ALL_CANDLE_FEATURES = list(FEATURES)

Candles = tuple[NDArray[np.float64], ...]


@pytest.fixture(scope="module")
def btc() -> Candles:
    frame = pd.read_csv(BTC_1H)
    return tuple(frame[name].to_numpy(dtype=np.float64) for name in ("open", "high", "low", "close", "volume"))


@pytest.fixture(scope="module")
def matrix(btc: Candles) -> FeatureMatrix:
    return FeaturePipeline(ALL_CANDLE_FEATURES).compute(*btc)


def _column(matrix: FeatureMatrix, name: str) -> NDArray[np.float32]:
    return matrix.values[:, matrix.columns.index(name)]


def _expected(btc: Candles) -> dict[str, NDArray[np.float64]]:
    """Every column computed straight from TA-Lib with the documented scaling."""
    o, h, lo, c, v = btc
    sma_v = talib.SMA(v, 20)
    line, signal, hist = talib.MACD(c, 12, 26, 9)
    upper, middle, lower = talib.BBANDS(c, 20, 2.0, 2.0)
    prev_close = np.concatenate([[np.nan], c[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        volume_ratio = np.where(sma_v > 0, v / sma_v, 0.0)
        std_v = talib.STDDEV(v, 20, 1.0)
        zscore = np.where(std_v > 0, (v - sma_v) / std_v, 0.0)
    return {
        "ohlcv_open": o / c - 1,
        "ohlcv_high": h / c - 1,
        "ohlcv_low": lo / c - 1,
        "ohlcv_close": c / prev_close - 1,
        "ohlcv_volume": np.log1p(volume_ratio),
        "rsi_14": talib.RSI(c, 14) / 100,
        "macd_line": line / c,
        "macd_signal": signal / c,
        "macd_hist": hist / c,
        "bb_upper": upper / c - 1,
        "bb_middle": middle / c - 1,
        "bb_lower": lower / c - 1,
        "atr_14": talib.ATR(h, lo, c, 14) / c,
        "adx_14": talib.ADX(h, lo, c, 14) / 100,
        "log_return": np.log(c / prev_close),
        "volume_zscore": zscore,
    }


def test_columns_follow_the_order_of_the_names() -> None:
    pipeline = FeaturePipeline(["macd", "balance", "rsi_14", "position", "ohlcv"])
    assert pipeline.candle_features == ("macd", "rsi_14", "ohlcv")
    assert pipeline.portfolio_features == ("balance", "position")
    assert pipeline.columns == (
        "macd_line",
        "macd_signal",
        "macd_hist",
        "rsi_14",
        "ohlcv_open",
        "ohlcv_high",
        "ohlcv_low",
        "ohlcv_close",
        "ohlcv_volume",
    )
    assert pipeline.config() == {
        "features": ["macd", "balance", "rsi_14", "position", "ohlcv"],
        "columns": list(pipeline.columns),
        "warmup": 33,
    }


def test_values_match_talib_on_real_candles(btc: Candles, matrix: FeatureMatrix) -> None:
    expected = _expected(btc)
    assert set(matrix.columns) == set(expected)
    start = matrix.warmup
    for name, reference in expected.items():
        np.testing.assert_allclose(
            _column(matrix, name)[start:],
            np.clip(reference[start:], -FEATURE_CLIP, FEATURE_CLIP).astype(np.float32),
            rtol=1e-6,
            atol=1e-7,
            err_msg=name,
        )


def test_documented_ranges_hold_on_real_candles(matrix: FeatureMatrix) -> None:
    rows = slice(matrix.warmup, None)
    for name in ("rsi_14", "adx_14"):
        assert ((_column(matrix, name)[rows] >= 0) & (_column(matrix, name)[rows] <= 1)).all()
    assert (_column(matrix, "ohlcv_high")[rows] >= 0).all()
    assert (_column(matrix, "ohlcv_low")[rows] <= 0).all()
    assert (_column(matrix, "atr_14")[rows] > 0).all()
    assert (np.abs(_column(matrix, "volume_zscore")[rows]) <= np.sqrt(19) + 1e-5).all()
    assert (_column(matrix, "ohlcv_volume")[rows] <= np.log1p(20) + 1e-6).all()


def test_matrix_layout_and_views(matrix: FeatureMatrix) -> None:
    values = matrix.values
    assert values.dtype == np.float32
    assert values.flags.c_contiguous
    assert not values.flags.writeable
    assert matrix.n_columns == len(matrix.columns) == 16
    assert len(matrix) == values.shape[0]
    assert np.shares_memory(matrix.flat, values)
    t, lookback = 1000, 50
    window = matrix.window(t, lookback)
    assert np.shares_memory(window, values)
    np.testing.assert_array_equal(window, values[t - lookback + 1 : t + 1].ravel())
    with pytest.raises(ValueError):
        matrix.flat[0] = 1.0


@pytest.mark.parametrize(
    ("feature", "warmup"),
    [
        ("ohlcv", 19),
        ("rsi_14", 14),
        ("macd", 33),
        ("bollinger", 19),
        ("atr", 14),
        ("adx", 27),
        ("returns", 1),
        ("volume", 19),
    ],
)
def test_warmup_is_the_first_fully_defined_row(btc: Candles, feature: str, warmup: int) -> None:
    pipeline = FeaturePipeline([feature])
    assert pipeline.warmup == warmup
    matrix = pipeline.compute(*btc)
    assert matrix.warmup == warmup
    defined = np.asarray(np.isfinite(matrix.values).all(axis=1), dtype=bool)
    assert not defined[:warmup].any()
    assert defined[warmup:].all()


def test_warmup_of_a_set_is_its_largest_and_no_nan_after_it(matrix: FeatureMatrix) -> None:
    assert matrix.warmup == 33
    assert np.isnan(matrix.values[matrix.warmup - 1]).any()
    assert np.isfinite(matrix.values[matrix.warmup :]).all()
    assert matrix.first_window_end(50) == 33 + 49
    assert np.isfinite(matrix.window(matrix.first_window_end(50), 50)).all()
    with pytest.raises(InvalidParameterError, match="lookback_window must be an int >= 1; got 0"):
        matrix.first_window_end(0)


@settings(max_examples=30, deadline=None)
@given(
    t=st.integers(min_value=0, max_value=298),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_no_look_ahead_changing_later_candles_changes_no_earlier_row(t: int, seed: int) -> None:
    frame = pd.read_csv(BTC_1H, nrows=300)
    candles = [frame[name].to_numpy(dtype=np.float64) for name in ("open", "high", "low", "close", "volume")]
    pipeline = FeaturePipeline(ALL_CANDLE_FEATURES)
    before = pipeline.compute(*candles).values

    rng = np.random.default_rng(seed)
    changed = [array.copy() for array in candles]
    later = slice(t + 1, None)
    for array in changed:
        array[later] *= rng.uniform(0.5, 1.5, size=array[later].shape)
    after = pipeline.compute(*changed).values

    np.testing.assert_array_equal(after[: t + 1], before[: t + 1])
    assert not np.array_equal(after[t + 1 :], before[t + 1 :], equal_nan=True)


def test_prefix_gives_the_same_rows_as_the_whole_dataset(btc: Candles, matrix: FeatureMatrix) -> None:
    prefix = FeaturePipeline(ALL_CANDLE_FEATURES).compute(*(array[:500] for array in btc))
    np.testing.assert_array_equal(prefix.values, matrix.values[:500])


def test_values_are_clipped_to_the_documented_bound() -> None:
    rows = 60
    close = np.full(rows, 100.0)
    high = close.copy()
    high[-1] = 100.0 * 50  # a bad print: high 50x the close
    candles = (close.copy(), high, close * 0.99, close, np.full(rows, 5.0))
    matrix = FeaturePipeline(["ohlcv", "volume"]).compute(*candles)
    assert _column(matrix, "ohlcv_high")[-1] == FEATURE_CLIP
    assert np.isfinite(matrix.values[matrix.warmup :]).all()
    # Constant volume: the z-score is defined as 0 and the volume ratio as log1p(1).
    assert (_column(matrix, "volume_zscore")[matrix.warmup :] == 0).all()
    np.testing.assert_allclose(_column(matrix, "ohlcv_volume")[matrix.warmup :], np.log1p(1.0), rtol=1e-6)


def test_zero_volume_stays_finite() -> None:
    rows = 60
    close = np.linspace(100, 110, rows)
    matrix = FeaturePipeline(["ohlcv", "volume"]).compute(close, close * 1.01, close * 0.99, close, np.zeros(rows))
    assert np.isfinite(matrix.values[matrix.warmup :]).all()


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        FeaturePipeline(["ohlcv", "rsi", "macd"])
    message = str(caught.value)
    assert "['rsi']" in message
    for name in (*FEATURES, *PORTFOLIO_FEATURES):
        assert repr(name) in message


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ("ohlcv", "must be a sequence of feature names"),
        ([], "at least one feature"),
        (["rsi_14", "rsi_14"], r"\['rsi_14'\] given more than once"),
        ([3], r"unknown feature name\(s\) \[3\]"),
    ],
)
def test_bad_feature_lists_are_rejected(features: object, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        FeaturePipeline(features)  # type: ignore[arg-type]


def test_portfolio_features_only_give_an_empty_matrix() -> None:
    pipeline = FeaturePipeline(list(PORTFOLIO_FEATURES))
    assert pipeline.columns == ()
    assert pipeline.portfolio_features == PORTFOLIO_FEATURES
    matrix = pipeline.compute([1.0], [1.0], [1.0], [1.0], [1.0])
    assert matrix.values.shape == (1, 0)
    assert matrix.warmup == 0


def test_bad_candles_are_rejected(btc: Candles) -> None:
    o, h, lo, c, v = (array[:100].copy() for array in btc)
    pipeline = FeaturePipeline(["macd"])
    with pytest.raises(InsufficientDataError, match="at least 34 candles"):
        pipeline.compute(o[:33], h[:33], lo[:33], c[:33], v[:33])
    with pytest.raises(InvalidParameterError, match="1-D of one length"):
        pipeline.compute(o, h, lo, c, v[:-1])
    bad_close = c.copy()
    bad_close[40] = 0.0
    with pytest.raises(DataValidationError, match=re.escape("close must be > 0; got 0.0 at row 40")):
        pipeline.compute(o, h, lo, bad_close, v)
    bad_high = h.copy()
    bad_high[7] = np.nan
    with pytest.raises(DataValidationError, match="high is not finite at row 7"):
        pipeline.compute(o, bad_high, lo, c, v)
    bad_volume = v.copy()
    bad_volume[3] = -1.0
    with pytest.raises(DataValidationError, match=re.escape("volume must be >= 0; got -1.0 at row 3")):
        pipeline.compute(o, h, lo, c, bad_volume)
