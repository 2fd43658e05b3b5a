"""Engine invariants, proven with hypothesis over random candles, costs and actions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.engine_source import interpreted_engine

from tradeready_core.engine import EngineConfig, Fill, Simulator, replay

_py = interpreted_engine()  # engine.py run by the interpreter: the oracle below subclasses it


@dataclass
class Case:
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    config: EngineConfig
    targets: np.ndarray  # (steps, N), NaN = hold


@st.composite
def cases(draw: st.DrawFn, max_assets: int = 2) -> Case:
    n_assets = draw(st.integers(1, max_assets))
    bars = draw(st.integers(2, 25))
    moves = st.floats(-0.3, 0.3, allow_nan=False)
    wicks = st.floats(0.0, 0.1, allow_nan=False)
    cols = []
    for _ in range(n_assets):
        price = draw(st.floats(0.5, 50_000.0))
        o, h, lo, c = [], [], [], []
        for _ in range(bars):
            op = price * math.exp(draw(moves) / 3)  # gaps between bars
            cl = op * math.exp(draw(moves))
            o.append(op)
            c.append(cl)
            h.append(max(op, cl) * (1 + draw(wicks)))
            lo.append(min(op, cl) * (1 - draw(wicks)))
            price = cl
        cols.append((o, h, lo, c))
    arr = [np.array([col[k] for col in cols]).T for k in range(4)]
    allow_short = draw(st.booleans())
    config = EngineConfig(
        starting_balance=draw(st.floats(1.0, 1e6)),
        fee_rate=draw(st.sampled_from([0.0, 0.001, 0.01, 0.05])),
        slippage_bps=draw(st.sampled_from([0.0, 5.0, 50.0])),
        allow_short=allow_short,
        max_leverage=draw(st.sampled_from([0.5, 1.0, 3.0])),
        borrow_rate_annual=draw(st.sampled_from([0.0, 0.1, 5.0])),
        maintenance_margin=draw(st.sampled_from([0.0, 0.05, 0.5])),
        min_trade_value=draw(st.sampled_from([0.0, 10.0])),
    )
    weight = st.one_of(st.just(math.nan), st.floats(-3.0, 3.0), st.sampled_from([0.0, 1.0, -1.0]))
    targets = np.array([[draw(weight) for _ in range(n_assets)] for _ in range(bars - 1)], dtype=np.float64)
    return Case(*arr, config, targets)


def _run(case: Case, fast: bool) -> Simulator:
    sim = Simulator(case.open, case.high, case.low, case.close, case.config, "1h")
    for row in case.targets.tolist():
        done = sim.step1(row[0]) if fast else sim.step(row)
        if done:
            break
    return sim


@settings(max_examples=200, deadline=None)
@given(cases())
def test_accounting_invariants_hold_at_every_step(case: Case) -> None:
    cfg = case.config
    sim = Simulator(case.open, case.high, case.low, case.close, cfg, "1h")
    for row in case.targets.tolist():
        t, n = sim.t, sim.t + 1
        q_before = sim.positions
        e_before = sim.equity
        n_fills = len(sim.fills)
        sim.step(row)
        new: list[Fill] = sim.fills[n_fills:]
        assert sim.step_fills == len(new)
        assert sim.step_fees >= 0.0 and sim.step_slippage >= 0.0 and sim.step_borrow >= 0.0
        rebalance = [f for f in new if f.kind == "target"]  # each asset traded at most once, sells first
        assert len({f.asset for f in rebalance}) == len(rebalance)
        assert [f.side for f in rebalance] == sorted((f.side for f in rebalance), key="sell".__ne__)
        # position x price change along each asset's fill path, minus every cost
        explained = 0.0
        scale = abs(e_before) + abs(sim.equity)
        for i in range(sim.n_assets):
            q, price = q_before[i], float(case.close[t, i])
            for f in (f for f in new if f.asset == i):
                ref = _reference_price(f, case, cfg, n)
                explained += q * (ref - price)
                q += f.quantity if f.side == "buy" else -f.quantity
                price = ref
                scale += f.quantity * f.price
            explained += q * (float(case.close[n, i]) - price)
            assert q == sim.positions[i]
            scale += abs(q) * float(case.close[n, i])
        explained -= sim.step_fees + sim.step_slippage + sim.step_borrow
        assert math.isclose(sim.equity - e_before, explained, rel_tol=0.0, abs_tol=1e-9 * scale + 1e-12)
        if not sim.bankrupt:
            assert sim.cash >= 0.0  # cash never negative (only a forced liquidation may leave a deficit)
        if not cfg.allow_short:
            assert all(q >= 0.0 for q in sim.positions)  # nothing sold that is not held
            assert sim.cash >= 0.0
        if sim.done:
            break


def _reference_price(f: Fill, case: Case, cfg: EngineConfig, bar: int) -> float:
    """Undo slippage: the price the fill would have had without slippage."""
    if f.kind in ("limit", "take_profit"):
        return f.price
    s = cfg.slippage_bps / 10_000.0
    return f.price / (1.0 + s) if f.side == "buy" else f.price / (1.0 - s)


@settings(max_examples=200, deadline=None)
@given(cases(max_assets=3))
def test_identical_inputs_give_bit_identical_outputs(case: Case) -> None:
    a, b = _run(case, fast=False), _run(case, fast=False)
    assert a.equity_curve().tobytes() == b.equity_curve().tobytes()
    assert a.fills == b.fills
    assert a.result().metrics == b.result().metrics
    steps = a.t - a.start
    result = replay(case.open, case.high, case.low, case.close, case.config, "1h", 0, case.targets[:steps])
    assert result.equity.tobytes() == a.equity_curve().tobytes()
    assert result.fills == a.fills


@settings(max_examples=200, deadline=None)
@given(cases(max_assets=1))
def test_fast_path_general_path_and_replay_are_bit_identical(case: Case) -> None:
    fast, slow = _run(case, fast=True), _run(case, fast=False)
    assert fast.equity_curve().tobytes() == slow.equity_curve().tobytes()
    assert fast.fills == slow.fills
    steps = fast.t - fast.start
    result = replay(case.open, case.high, case.low, case.close, case.config, "1h", 0, case.targets[:steps])
    assert result.equity.tobytes() == fast.equity_curve().tobytes()
    assert result.fills == fast.fills
    assert result.metrics == fast.metrics()


class _PlainSimulator(_py.Simulator):  # type: ignore[misc, name-defined]
    """The rebalance written plainly on the general ``_trade`` (orders and liquidations use it): the
    oracle of the fast paths ``Simulator.step1`` and ``Simulator._rebalance``.

    It subclasses the interpreted engine (a compiled class cannot be subclassed from Python), so the
    test below also checks the compiled fast paths against interpreted code.
    """

    def step1(self, target: float) -> bool:
        return self.step((target,))

    def _rebalance(self, n: int, targets: Sequence[float] | np.ndarray) -> None:
        ws = [float(w) for w in targets]
        qs = self.holdings
        opens = [self._open[i][n] for i in range(self.n_assets)]
        pv = 0.0
        for qi, oi in zip(qs, opens, strict=True):
            pv += qi * oi
        eq = self.cash + pv
        if eq <= 0.0:
            return
        clipped = self._clip_targets(ws, opens, eq)
        deltas = [(i, w * eq / opens[i] - qs[i]) for i, w in enumerate(clipped) if w == w]  # NaN: hold
        for i, dq in deltas:
            if dq < 0.0:
                self._trade(i, dq, opens[i], n, "target", None, True)
        for i, dq in deltas:
            if dq > 0.0:
                self._trade(i, dq, opens[i], n, "target", None, True)


@settings(max_examples=300, deadline=None)
@given(cases(max_assets=3))
def test_fast_target_trades_equal_the_general_trade(case: Case) -> None:
    fast = Simulator(case.open, case.high, case.low, case.close, case.config, "1h")
    plain = _PlainSimulator(case.open, case.high, case.low, case.close, _py.EngineConfig(**case.config.as_dict()), "1h")
    for row in case.targets.tolist():
        done = [sim.step1(row[0]) if sim.n_assets == 1 else sim.step(row) for sim in (fast, plain)]
        assert done[0] == done[1]
        state = [
            (sim.cash, sim.equity, sim.positions, sim.step_fees, sim.step_fills, sim.step_slippage, sim.step_borrow)
            for sim in (fast, plain)
        ]
        assert state[0] == state[1]
        if done[0]:
            break
    assert fast.equity_curve().tobytes() == plain.equity_curve().tobytes()
    assert fast.fills == plain.fills
    assert (fast.total_fees, fast.bankrupt) == (plain.total_fees, plain.bankrupt)
    assert fast.result().metrics == plain.result().metrics


@settings(max_examples=100, deadline=None)
@given(cases(max_assets=1), st.data())
def test_explicit_orders_keep_cash_and_holdings_valid(case: Case, data: st.DataObject) -> None:
    sim = Simulator(case.open, case.high, case.low, case.close, case.config, "1h")
    for _ in range(len(case.targets)):
        price = float(case.close[sim.t, 0])
        for _ in range(data.draw(st.integers(0, 2))):
            kind = data.draw(st.sampled_from(["market", "limit", "stop_loss", "take_profit"]))
            side = data.draw(st.sampled_from(["buy", "sell"]))
            qty = data.draw(st.floats(1e-3, 2.0)) * case.config.starting_balance / price
            level = None if kind == "market" else price * data.draw(st.floats(0.8, 1.2))
            sim.submit_order(0, side, qty, kind, level)
        sim.step()
        if not sim.bankrupt:
            assert sim.cash >= 0.0
        if not case.config.allow_short:
            assert sim.positions[0] >= 0.0
        if sim.done:
            break
    for order in sim.orders:
        assert order.status in ("pending", "filled", "rejected")
        if order.status == "filled":
            assert 0.0 < order.filled_quantity <= order.quantity * (1 + 1e-12)
