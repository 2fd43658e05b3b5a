"""Metrics: hand-computed fixtures, degenerate cases, and a cross-check against empyrical."""

from __future__ import annotations

import math

import empyrical
import numpy as np
import pandas as pd
import pytest
from tests.support.shared_data import MARKET

from tradeready_core.errors import InvalidParameterError
from tradeready_core.metrics import (
    Metrics,
    compute_metrics,
    exposure_pct,
    max_drawdown_pct,
    returns,
    roi_pct,
    sharpe_ratio,
    sortino_ratio,
    win_rate,
)
from tradeready_core.timeframes import bars_per_year


def test_hand_computed_fixture() -> None:
    # returns 0.10, -0.05, 0.10: mean 0.05, sample std sqrt(0.0075), downside sqrt(0.0025 / 3)
    equity = [100.0, 110.0, 104.5, 114.95]
    assert returns(equity) == pytest.approx([0.10, -0.05, 0.10])
    assert roi_pct(equity) == pytest.approx(14.95)
    assert sharpe_ratio(equity, "1d") == pytest.approx(0.05 / math.sqrt(0.0075) * math.sqrt(365))
    assert sortino_ratio(equity, "1d") == pytest.approx(0.05 / math.sqrt(0.0025 / 3) * math.sqrt(365))
    assert max_drawdown_pct(equity) == pytest.approx(5.0)
    assert sharpe_ratio(equity, "1h") == pytest.approx(sharpe_ratio(equity, "1d") * math.sqrt(24))


def test_max_drawdown_takes_the_worst_peak_to_trough() -> None:
    assert max_drawdown_pct([100, 120, 90, 130, 117, 140]) == pytest.approx(25.0)
    assert max_drawdown_pct([100, 101, 102]) == 0.0


@pytest.mark.parametrize(
    "equity",
    [[100.0], [100.0, 100.0], [100.0, 100.0, 100.0], [100.0, 110.0], [100.0, 101.0, 102.01]],
)
def test_degenerate_cases_are_finite_zero(equity: list[float]) -> None:
    # no returns, one return, zero variance, or no downside: Sharpe/Sortino defined as 0.0
    m = compute_metrics(equity, "1h")
    assert m.sortino_ratio == 0.0
    if len(equity) < 3 or len(set(returns(equity).tolist())) == 1:
        assert m.sharpe_ratio == 0.0
    assert all(math.isfinite(v) for v in m.as_dict().values())


def test_win_rate_and_exposure() -> None:
    assert win_rate([]) == 0.0
    assert win_rate([1.0, -2.0, 0.0, 3.0]) == 0.5
    assert exposure_pct(3, 4) == 75.0
    assert exposure_pct(0, 0) == 0.0
    with pytest.raises(InvalidParameterError, match="exposed_steps"):
        exposure_pct(5, 4)


def test_compute_metrics_as_dict() -> None:
    m = compute_metrics([100.0, 90.0, 99.0], "4h", total_trades=2, realized_pnls=[-1.0], exposed_steps=1)
    assert isinstance(m, Metrics)
    d = m.as_dict()
    assert d["total_trades"] == 2 and d["win_rate"] == 0.0 and d["exposure_pct"] == 50.0
    assert d["steps"] == 2 and d["final_equity"] == 99.0
    assert set(d) >= {"roi_pct", "sharpe_ratio", "sortino_ratio", "max_drawdown_pct", "total_trades"}


@pytest.mark.parametrize("bad", [[], [[1.0, 2.0]], [1.0, math.nan], [1.0, math.inf]])
def test_bad_equity_is_rejected(bad: list[float]) -> None:
    with pytest.raises(InvalidParameterError, match="equity"):
        compute_metrics(bad, "1h")


def test_unknown_timeframe_names_allowed_values() -> None:
    with pytest.raises(InvalidParameterError, match="'1m', '5m'"):
        sharpe_ratio([1.0, 2.0, 3.0], "2h")


def test_against_empyrical_on_real_btc_candles() -> None:
    df = pd.read_csv(MARKET / "BTCUSDT-1h.csv")
    close = df["close"].to_numpy(dtype=np.float64)[:5_000]
    equity = 10_000.0 * close / close[0]  # buy-and-hold equity curve
    r = np.diff(equity) / equity[:-1]
    annual = bars_per_year("1h")
    assert sharpe_ratio(equity, "1h") == pytest.approx(empyrical.sharpe_ratio(r, annualization=annual), rel=1e-9)
    assert sortino_ratio(equity, "1h") == pytest.approx(empyrical.sortino_ratio(r, annualization=annual), rel=1e-9)
    assert max_drawdown_pct(equity) == pytest.approx(-100.0 * empyrical.max_drawdown(r), rel=1e-9)
    assert roi_pct(equity) == pytest.approx(100.0 * empyrical.cum_returns_final(r), rel=1e-9)
