"""The compiled engine (mypyc, built at install) gives the interpreted source's results, bit for bit."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.core.test_engine_properties import Case, cases
from tests.support.engine_source import ENGINE_SOURCE, engine_is_compiled, interpreted_engine

from tradeready_core import engine

_py = interpreted_engine()


def test_the_engine_is_compiled_unless_the_install_asked_for_pure_python() -> None:
    pure = os.environ.get("TRADEREADY_PURE_PYTHON", "") in ("1", "true", "yes")
    assert engine_is_compiled() is not pure, f"tradeready_core.engine was loaded from {engine.__file__}; " + (
        "expected the interpreted source" if pure else "expected the mypyc-compiled module: run `make install`"
    )
    assert _py.__file__ == str(ENGINE_SOURCE)
    assert _py.Simulator is not engine.Simulator


def _state(sim: Any) -> tuple[Any, ...]:
    """Everything a step changes, read through the public API both engines share."""
    return (
        sim.t,
        sim.cash,
        sim.equity,
        sim.positions,
        sim.step_fees,
        sim.step_fills,
        sim.step_slippage,
        sim.step_borrow,
        sim.done,
        sim.bankrupt,
        sim.total_fees,
        [sim.unrealized_pnl(i) for i in range(sim.n_assets)],
    )


@settings(max_examples=300, deadline=None)
@given(cases(max_assets=3), st.data())
def test_compiled_and_interpreted_engines_are_bit_identical(case: Case, data: st.DataObject) -> None:
    compiled = engine.Simulator(case.open, case.high, case.low, case.close, case.config, "1h")
    source = _py.Simulator(case.open, case.high, case.low, case.close, _py.EngineConfig(**case.config.as_dict()), "1h")
    single = compiled.n_assets == 1
    for row in case.targets.tolist():
        # explicit orders now and then (every kind, either side), then the step's targets
        for _ in range(data.draw(st.integers(0, 2))):
            asset = data.draw(st.integers(0, compiled.n_assets - 1))
            price = float(case.close[compiled.t, asset])
            kind = data.draw(st.sampled_from(["market", "limit", "stop_loss", "take_profit"]))
            side = data.draw(st.sampled_from(["buy", "sell"]))
            qty = data.draw(st.floats(1e-3, 2.0)) * case.config.starting_balance / price
            level = None if kind == "market" else price * data.draw(st.floats(0.8, 1.2))
            orders = [sim.submit_order(asset, side, qty, kind, level) for sim in (compiled, source)]
            assert orders[0].as_dict() == orders[1].as_dict()
        mode = data.draw(st.sampled_from(["targets", "advance", "hold"] + (["step1"] if single else [])))
        if mode == "advance":  # the step and its report in one call, within bounds drawn (None otherwise)
            n = compiled.n_assets
            codes = tuple((code, i) for code in (0, 1, 2) for i in range(n) if code or not i)
            low, high = data.draw(st.sampled_from([(0.0, 1.0), (-1.0, 1.0), (-0.5, 0.5)]))
            reports = [sim.advance(list(row), codes, 10.0, low, high) for sim in (compiled, source)]
            assert repr(reports[0]) == repr(reports[1])
            stepped = reports[0] is not None and reports[1] is not None
            done = [reports[0][0], reports[1][0]] if stepped else [compiled.step(row), source.step(row)]
        elif mode == "step1":
            done = [compiled.step1(row[0]), source.step1(row[0])]
        elif mode == "targets":
            done = [compiled.step(row), source.step(row)]
        else:
            done = [compiled.step(), source.step()]
        assert done[0] == done[1]
        assert _state(compiled) == _state(source)
        if done[0]:
            break
    assert [o.as_dict() for o in compiled.orders] == [o.as_dict() for o in source.orders]
    a, b = compiled.result(), source.result()
    assert a.equity.tobytes() == b.equity.tobytes()
    assert a.fills == b.fills
    assert a.metrics == b.metrics
    assert (a.total_fees, a.bankrupt, a.final_positions) == (b.total_fees, b.bankrupt, b.final_positions)


def _sim(module: Any) -> Any:
    flat = [[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]
    return module.Simulator(flat, flat, flat, flat)


def test_both_engines_take_any_integer_type_as_bars_and_assets() -> None:
    """numpy integers (``np.searchsorted``, ``argmax``) are indices to both; mypyc's ``int`` would refuse them."""
    for module in (engine, _py):
        sim = _sim(module)
        sim.reset(np.int64(1), np.int64(2))
        assert (sim.start, sim.end) == (1, 2)
        order = sim.submit_order(np.int64(1), "buy", 1.0)
        assert order.asset == 1 and type(order.asset) is int


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda sim: sim.reset(1.5), r"need 0 <= start < end <= 2 \(integers\); got start=1.5, end=None"),
        (lambda sim: sim.reset("0", 2), r"got start='0', end=2"),
        (lambda sim: sim.reset(2, 1), r"got start=2, end=1"),
        (lambda sim: sim.submit_order(1.0, "buy", 1.0), r"asset must be an index in \[0, 1\]; got 1.0"),
        (lambda sim: sim.submit_order(True, "buy", 1.0), r"asset must be an index in \[0, 1\]; got True"),
        (lambda sim: sim.submit_order(np.int64(2), "buy", 1.0), r"an index in \[0, 1\]; got np.int64\(2\)"),
    ],
)
def test_both_engines_refuse_bad_bars_and_assets_with_the_same_error(call: Any, message: str) -> None:
    for module in (engine, _py):
        with pytest.raises(module.InvalidParameterError, match=message):
            call(_sim(module))
