"""The learning-curve maths: trailing mean over the full series, then LTTB downsampling."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tradeready.server.services.training import downsample_indices, trailing_mean


def test_seed_example_smooths_to_the_documented_values() -> None:
    assert trailing_mean(np.array([-1.2, 0.4]), 10).tolist() == [-1.2, -0.4]


def test_window_one_is_the_series_and_empty_is_empty() -> None:
    values = np.array([3.0, -1.0, 2.5])
    assert trailing_mean(values, 1).tolist() == values.tolist()
    assert trailing_mean(np.empty(0), 5).shape == (0,)


def test_missing_values_are_skipped_and_all_missing_windows_are_nan() -> None:
    smoothed = trailing_mean(np.array([np.nan, 2.0, np.nan, 4.0, np.nan, np.nan]), 2)
    assert np.isnan(smoothed[0]) and smoothed[1] == 2.0 and smoothed[2] == 2.0 and smoothed[3] == 4.0
    assert smoothed[4] == 4.0 and np.isnan(smoothed[5])


@given(
    values=arrays(np.float64, st.integers(1, 300), elements=st.floats(-1e4, 1e4)),
    window=st.integers(1, 400),
)
def test_trailing_mean_matches_a_direct_mean(values: np.ndarray, window: int) -> None:
    expected = [values[max(0, i - window + 1) : i + 1].mean() for i in range(values.size)]
    np.testing.assert_allclose(trailing_mean(values, window), expected, rtol=1e-9, atol=1e-6)


@given(n=st.integers(3, 5000), max_points=st.integers(2, 600), seed=st.integers(0, 1000))
def test_downsampling_keeps_the_ends_and_respects_the_budget(n: int, max_points: int, seed: int) -> None:
    x = np.arange(1, n + 1, dtype=np.int64)
    y = np.random.default_rng(seed).normal(size=n)
    y[n // 2] = np.nan
    kept = downsample_indices(x, y, max_points)
    assert kept.size == min(n, max_points)
    assert kept[0] == 0 and kept[-1] == n - 1
    assert np.all(np.diff(kept) > 0)


def test_downsampling_keeps_a_spike() -> None:
    y = np.zeros(10_000)
    y[6_123] = -50.0
    kept = downsample_indices(np.arange(10_000, dtype=np.int64), y, 100)
    assert 6_123 in kept.tolist()
