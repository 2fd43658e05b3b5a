"""Engine: hand-computed fixtures for fills, fees, slippage, orders, shorts and errors."""

from __future__ import annotations

import gc
import math

import empyrical
import numpy as np
import pandas as pd
import pytest
from tests.support.shared_data import BTC_1H

from tradeready_core.engine import EngineConfig, Fill, FillLog, Simulator, replay
from tradeready_core.errors import EpisodeFinishedError, InvalidParameterError
from tradeready_core.timeframes import bars_per_year

NAN = math.nan


def make_sim(
    open_: list[float],
    high: list[float] | None = None,
    low: list[float] | None = None,
    close: list[float] | None = None,
    **cfg: float | bool,
) -> Simulator:
    close = close if close is not None else open_
    high = high if high is not None else [max(a, b) for a, b in zip(open_, close, strict=True)]
    low = low if low is not None else [min(a, b) for a, b in zip(open_, close, strict=True)]
    config = EngineConfig(**{"starting_balance": 1000.0, "min_trade_value": 0.0, **cfg})  # type: ignore[arg-type]
    return Simulator(open_, high, low, close, config, "1h")


def test_buy_fills_at_next_open_with_slippage_fee_and_cash_cap() -> None:
    sim = make_sim([100.0, 100.0, 110.0], close=[100.0, 105.0, 120.0], fee_rate=0.001, slippage_bps=10.0)
    assert sim.equity == 1000.0 and sim.t == 0
    sim.step1(1.0)
    price = 100.0 * 1.001
    notional = 1000.0 / 1.001  # capped so that notional + fee == cash
    qty = notional / price
    (fill,) = sim.fills
    assert (fill.bar, fill.side, fill.kind) == (1, "buy", "target")
    assert fill.price == pytest.approx(price)
    assert fill.quantity == pytest.approx(qty)
    assert fill.fee == pytest.approx(1000.0 - notional)
    assert sim.cash == 0.0
    assert sim.equity == pytest.approx(qty * 105.0)
    assert sim.step_slippage == pytest.approx(qty * 0.1)
    sim.step1(0.0)  # sell everything at open 110 with slippage
    sell = 110.0 * 0.999
    assert sim.positions == [0.0]
    assert sim.cash == pytest.approx(qty * sell * (1 - 0.001))
    assert sim.done and not sim.bankrupt
    m = sim.result().metrics
    assert m.total_trades == 2 and m.win_rate == 1.0 and m.exposure_pct == 50.0
    assert m.roi_pct == pytest.approx((sim.cash / 1000.0 - 1) * 100)


def test_partial_target_and_nan_holds() -> None:
    sim = make_sim([100.0, 100.0, 200.0, 200.0], fee_rate=0.0, slippage_bps=0.0)
    sim.step1(0.5)
    assert sim.positions == [5.0] and sim.cash == 500.0
    sim.step1(NAN)  # hold: no rebalance although the weight drifted to 2/3
    assert sim.positions == [5.0] and sim.fills[-1].bar == 1
    assert sim.equity == 1500.0
    sim.step1(0.5)  # rebalance back to half of 1500 at 200: 3.75 units
    assert sim.positions == [pytest.approx(3.75)]


def test_long_only_clips_negative_targets_and_never_oversells() -> None:
    sim = make_sim([100.0] * 4, fee_rate=0.0, slippage_bps=0.0)
    sim.step1(-1.0)
    assert sim.positions == [0.0] and sim.fills == []
    sim.submit_order(0, "sell", 3.0)
    sim.step()
    assert sim.orders[0].status == "rejected" and sim.positions == [0.0]
    sim.submit_order(0, "buy", 2.0)
    sim.submit_order(0, "sell", 5.0)
    sim.step()
    assert sim.positions == [0.0]
    assert [o.filled_quantity for o in sim.orders[1:]] == [2.0, 2.0]


def test_min_trade_value_skips_dust_but_allows_full_close() -> None:
    sim = make_sim([100.0] * 4, fee_rate=0.0, slippage_bps=0.0, min_trade_value=50.0)
    sim.step1(0.04)  # 40 of notional < 50
    assert sim.fills == []
    sim.step1(0.5)
    sim.step1(0.49)  # a 10 change is dust
    assert len(sim.fills) == 1
    sim2 = make_sim([100.0] * 3, fee_rate=0.0, slippage_bps=0.0, min_trade_value=50.0)
    sim2.submit_order(0, "buy", 0.6)  # 60 >= 50
    sim2.step()
    sim2.step1(0.0)  # closing 60 exactly is always allowed
    assert sim2.positions == [0.0] and len(sim2.fills) == 2


def test_limit_orders_fill_gap_aware() -> None:
    # bar 1 opens at 100 and dips to 95; bar 2 gaps down to open 90
    sim = make_sim(
        [100.0, 100.0, 90.0, 90.0],
        high=[100.0, 101.0, 92.0, 90.0],
        low=[100.0, 95.0, 88.0, 90.0],
        close=[100.0, 99.0, 91.0, 90.0],
        fee_rate=0.0,
        slippage_bps=0.0,
    )
    a = sim.submit_order(0, "buy", 1.0, kind="limit", price=96.0)
    b = sim.submit_order(0, "buy", 1.0, kind="limit", price=94.0)
    sim.step()
    assert (a.status, a.fill_price, a.filled_bar) == ("filled", 96.0, 1)
    assert b.status == "pending"
    sim.step()
    assert (b.status, b.fill_price) == ("filled", 90.0)  # gapped through: the better open


def test_stop_loss_and_take_profit() -> None:
    sim = make_sim(
        [100.0, 100.0, 100.0, 80.0, 80.0],
        high=[100.0, 100.0, 112.0, 80.0, 80.0],
        low=[100.0, 100.0, 99.0, 75.0, 80.0],
        close=[100.0, 100.0, 105.0, 78.0, 80.0],
        fee_rate=0.0,
        slippage_bps=10.0,
    )
    sim.submit_order(0, "buy", 4.0)
    sim.step()
    assert sim.fills[0].price == pytest.approx(100.1)
    tp = sim.submit_order(0, "sell", 2.0, kind="take_profit", price=110.0)
    sl = sim.submit_order(0, "sell", 2.0, kind="stop_loss", price=90.0)
    sim.step()
    assert tp.fill_price == 110.0 and sl.status == "pending"
    sim.step()  # gaps down to 80 through the stop at 90: fills at the open with slippage
    assert sl.fill_price == pytest.approx(80.0 * 0.999)
    assert sim.positions == [pytest.approx(0.0)]
    assert sim.cancel_order(sim.submit_order(0, "buy", 1.0, "limit", 1.0).order_id).status == "cancelled"
    with pytest.raises(InvalidParameterError, match="no pending order"):
        sim.cancel_order(999)


def test_short_borrow_cost_and_liquidation() -> None:
    bpy = bars_per_year("1h")
    sim = make_sim(
        [100.0, 100.0, 100.0, 180.0, 180.0],
        close=[100.0, 100.0, 100.0, 195.0, 195.0],
        fee_rate=0.0,
        slippage_bps=0.0,
        allow_short=True,
        max_leverage=1.0,
        borrow_rate_annual=0.5,
        maintenance_margin=0.05,
    )
    sim.step1(-1.0)
    assert sim.positions == [-10.0] and sim.cash == pytest.approx(2000.0 - 0.5 / bpy * 1000.0)
    assert sim.step_borrow == pytest.approx(0.5 / bpy * 1000.0)
    sim.step1(NAN)
    # close 195: equity 2000 - borrow - 1950 ~= 50 < 5 % of 1950 -> liquidated at the close
    sim.step1(NAN)
    assert sim.fills[-1].kind == "liquidation" and sim.positions == [0.0]
    assert sim.equity == pytest.approx(2000.0 - 1950.0 - 0.5 / bpy * (1000.0 * 2 + 1950.0))


def test_short_target_clipped_to_leverage_and_orders_capped() -> None:
    sim = make_sim(
        [100.0] * 4, fee_rate=0.0, slippage_bps=0.0, allow_short=True, max_leverage=2.0, borrow_rate_annual=0.0
    )
    sim.step1(-5.0)
    assert sim.positions == [-20.0]
    sim2 = make_sim(
        [100.0] * 4, fee_rate=0.0, slippage_bps=0.0, allow_short=True, max_leverage=1.0, borrow_rate_annual=0.0
    )
    sim2.submit_order(0, "sell", 50.0)
    sim2.step()
    assert sim2.positions == [-10.0]


def test_portfolio_weights_scaled_to_gross_limit() -> None:
    o = np.array([[100.0, 10.0]] * 3)
    sim = Simulator(o, o, o, o, EngineConfig(1000.0, 0.0, 0.0, min_trade_value=0.0), "1d")
    sim.step([0.8, 0.8])  # sum 1.6 > 1: scaled to 0.5 each
    assert sim.positions == [pytest.approx(5.0), pytest.approx(50.0)]
    assert sim.cash == pytest.approx(0.0, abs=1e-9)
    sim.step([NAN, 0.0])
    assert sim.positions == [pytest.approx(5.0), 0.0] and sim.done
    with pytest.raises(InvalidParameterError, match="step1"):
        Simulator(o, o, o, o).step1(1.0)


def _portfolio_sim() -> Simulator:
    o = np.array([[100.0, 10.0], [101.0, 9.0], [102.0, 11.0], [99.0, 12.0]])
    c = o * 1.01
    return Simulator(o, np.maximum(o, c), np.minimum(o, c), c, EngineConfig(1000.0, 0.001, 5.0), "1h")


ALL_CODES = ((0, 0), (1, 0), (1, 1), (2, 0), (2, 1))


def test_advance_steps_and_reports_what_step_and_the_reads_give() -> None:
    sim, twin = _portfolio_sim(), _portfolio_sim()
    for weights in ([0.5, 0.3], [0.9, 0.8], [0.0, 0.2]):  # the second is over the gross limit
        before = twin.equity
        done = twin.step(weights)
        report = sim.advance(list(weights), ALL_CODES, 10.0, 0.0, 1.0)
        expected = (
            done,
            before,
            twin.equity,
            twin.cash,
            tuple(twin.positions),
            twin.step_fills,
            twin.step_fees,
            twin.t,
            twin.equity_fractions(ALL_CODES, 10.0),
        )
        assert repr(report) == repr(expected)  # bit for bit, -0.0 included
        assert report is not None and report[5] > 0  # it traded
        inv = 1.0 / twin.equity  # the fractions' definition: each value times 1 / equity
        assert report[8] == [
            twin.cash * inv,
            twin.position_value(0) * inv,
            twin.position_value(1) * inv,
            twin.unrealized_pnl(0) * inv,
            twin.unrealized_pnl(1) * inv,
        ]
    assert sim.done and sim.fills == twin.fills and sim.result().metrics == twin.result().metrics
    clipped = _portfolio_sim().advance([1.0, 0.0], ((1, 0),), 0.25, 0.0, 1.0)
    assert clipped is not None and clipped[8] == [0.25]  # each fraction clipped to [-limit, limit]


@pytest.mark.parametrize(
    "targets",
    [
        (0.5, 0.5),  # a tuple: only a list is taken
        np.array([0.5, 0.5]),
        [0.5],  # too few
        [0.5, 0.2, 0.1],  # too many
        [1, 0.0],  # an int
        [np.float64(0.5), 0.0],  # a float subclass
        [NAN, 0.0],
        [1.5, 0.0],  # above high
        [0.5, -0.1],  # below low
        [0.5, math.inf],
        None,
        0.5,
    ],
)
def test_advance_refuses_anything_but_a_list_of_floats_within_bounds_and_changes_nothing(targets: object) -> None:
    sim = _portfolio_sim()
    state = (sim.t, sim.cash, sim.equity, sim.positions, len(sim.fills))
    assert sim.advance(targets, ALL_CODES, 10.0, 0.0, 1.0) is None
    assert (sim.t, sim.cash, sim.equity, sim.positions, len(sim.fills)) == state
    assert sim.advance([0.5, 0.5], ALL_CODES, 10.0, 0.0, 1.0) is not None  # the same simulator still steps


def test_stepping_after_done_and_bad_inputs() -> None:
    sim = make_sim([100.0, 101.0])
    sim.step1(1.0)
    with pytest.raises(EpisodeFinishedError, match="reset"):
        sim.step1(1.0)
    with pytest.raises(EpisodeFinishedError):
        sim.step([1.0])
    sim.reset(0)
    assert not sim.done and sim.fills == []
    with pytest.raises(InvalidParameterError, match="start < end"):
        sim.reset(1, 1)
    with pytest.raises(InvalidParameterError, match="side must be one of"):
        sim.submit_order(0, "hold", 1.0)
    with pytest.raises(InvalidParameterError, match="kind must be one of"):
        sim.submit_order(0, "buy", 1.0, kind="iceberg")
    with pytest.raises(InvalidParameterError, match="needs a finite price"):
        sim.submit_order(0, "buy", 1.0, kind="limit")
    with pytest.raises(InvalidParameterError, match="prices must all be finite and > 0"):
        make_sim([100.0, -1.0])
    with pytest.raises(InvalidParameterError, match="same shape"):
        Simulator([1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fee_rate", -0.1),
        ("slippage_bps", math.nan),
        ("starting_balance", 0.0),
        ("max_leverage", 0.0),
        ("maintenance_margin", 2.0),
        ("min_trade_value", -1.0),
    ],
)
def test_config_validation_names_field_and_range(field: str, value: float) -> None:
    with pytest.raises(InvalidParameterError, match=f"{field} must be a finite number in"):
        EngineConfig(**{field: value})  # type: ignore[arg-type]


def test_replay_matches_and_engine_metrics_match_empyrical_on_real_candles() -> None:
    df = pd.read_csv(BTC_1H).iloc[:3000]
    o, h, lo, c = (df[k].to_numpy() for k in ("open", "high", "low", "close"))
    targets = np.where(np.arange(2000) % 48 < 24, 1.0, 0.25)
    result = replay(o, h, lo, c, EngineConfig(), "1h", 100, targets)
    assert result.start == 100 and result.end == 2100 and result.equity.shape == (2001,)
    r = np.diff(result.equity) / result.equity[:-1]
    annual = bars_per_year("1h")
    m = result.metrics
    assert m.sharpe_ratio == pytest.approx(empyrical.sharpe_ratio(r, annualization=annual), rel=1e-9)
    assert m.sortino_ratio == pytest.approx(empyrical.sortino_ratio(r, annualization=annual), rel=1e-9)
    assert m.max_drawdown_pct == pytest.approx(-100.0 * empyrical.max_drawdown(r), rel=1e-9)
    assert m.total_trades == len(result.fills) > 80


def test_fill_log_is_a_live_read_only_sequence_of_fills() -> None:
    sim = make_sim([100.0, 100.0, 110.0, 120.0], fee_rate=0.001, slippage_bps=0.0)
    log = sim.fills
    assert isinstance(log, FillLog)
    assert len(log) == 0 and log == [] and list(log) == []
    sim.step1(0.5)
    sim.step1(0.0)
    assert len(log) == 2  # live: the same object sees the new fills
    first, second = log
    assert isinstance(first, Fill) and (first.side, first.bar, second.side, second.bar) == ("buy", 1, "sell", 2)
    assert log[0] == first and log[-1] == second and log[-1].price == 110.0
    assert log[1:] == [second] and isinstance(log[:1], list) and isinstance(log[:1][0], Fill)
    assert log == [first, second] and log == sim.fills and log != [first] and log != [second, first]
    assert sim.result().fills == [first, second]
    assert repr(log).startswith("FillLog([Fill(bar=1, asset=0, side='buy'")
    with pytest.raises(IndexError):
        log[2]
    with pytest.raises(TypeError):
        hash(log)
    with pytest.raises(AttributeError):
        log.append(first)  # type: ignore[attr-defined]
    # stored as plain tuples of atomic values: the garbage collector stops tracking them
    gc.collect()
    assert not any(gc.is_tracked(row) for row in sim._fills)
    sim.reset(0)
    assert len(sim.fills) == 0 and len(log) == 2  # a new episode starts a new log
