"""Rule-based strategies: signals on synthetic candles, no look-ahead, action mapping, engine fidelity."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
import talib
from tests.support.shared_data import MARKET

import tradeready_gym  # noqa: F401  (registers the env ids)
from tradeready_core.data import MarketData, load_candles
from tradeready_core.engine import EngineConfig, replay
from tradeready_gym.envs import TradingEnv
from tradeready_gym.strategies import (
    BuyAndHold,
    CandleStrategy,
    RSIMeanReversion,
    SMACrossover,
    Strategy,
    StrategyError,
    check_no_lookahead,
    from_candles,
    from_observation,
    make_strategy,
)

HOUR_MS = 3_600_000


def frame(close: np.ndarray) -> pd.DataFrame:
    """Candles whose open is the previous close (first open = first close), tight highs and lows."""
    close = np.asarray(close, dtype=np.float64)
    open_ = np.concatenate(([close[0]], close[:-1]))
    return pd.DataFrame(
        {
            "open_time": pd.to_datetime(np.arange(close.size) * HOUR_MS + 1_704_067_200_000, unit="ms", utc=True),
            "open": open_,
            "high": np.maximum(open_, close) * 1.001,
            "low": np.minimum(open_, close) * 0.999,
            "close": close,
            "volume": np.full(close.size, 100.0),
        }
    )


def v_shape(n_down: int = 60, n_up: int = 60) -> np.ndarray:
    """Falls steadily from 100, then rises steadily: one golden cross on the way up."""
    down = 100.0 - 0.5 * np.arange(n_down)
    up = down[-1] + 0.8 * np.arange(1, n_up + 1)
    return np.concatenate((down, up))


def make(env_id: str, data: Any, **kwargs: Any) -> gym.Env[Any, Any]:
    kwargs.setdefault("track_training", False)
    kwargs.setdefault("lookback_window", 1)
    kwargs.setdefault("observation_features", ["returns", "position"])
    return gym.make(env_id, data=data, **kwargs)


def run(env: gym.Env[Any, Any], strategy: Strategy, seed: int | None = None) -> tuple[list[Any], dict[str, Any]]:
    obs, info = env.reset(seed=seed)
    strategy.reset(env, info)
    actions = []
    while True:
        action = strategy.act(obs, info)
        actions.append(action)
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return actions, info


def base(env: gym.Env[Any, Any]) -> TradingEnv:
    unwrapped = env.unwrapped
    assert isinstance(unwrapped, TradingEnv)
    return unwrapped


# --- SMA crossover ---------------------------------------------------------------------------


@pytest.mark.parametrize("env_id", ["TradeReady-BTC-v0", "TradeReady-BTC-Continuous-v0"])
def test_sma_crossover_buys_after_the_golden_cross_not_before(env_id: str) -> None:
    close = v_shape()
    fast, slow = talib.SMA(close, 3), talib.SMA(close, 8)
    above = fast > slow
    cross = int(np.flatnonzero(above[8:] & ~above[7:-1])[0]) + 8  # first bar where fast closes above slow
    env = make(env_id, frame(close))
    _, info = run(env, SMACrossover(fast=3, slow=8))
    fills = base(env).episode_result().fills
    assert [f.side for f in fills] == ["buy"]
    # the decision after candle `cross` closed fills at the next candle's open
    assert fills[0].bar == cross + 1
    assert fills[0].price == pytest.approx(close[cross] * (1 + 5 / 10_000))
    assert info["episode_metrics"]["total_trades"] == 1


def test_sma_crossover_sells_after_the_death_cross() -> None:
    close = np.concatenate((v_shape(), v_shape()[::-1][1:] * 1.0))
    fast, slow = talib.SMA(close, 3), talib.SMA(close, 8)
    above = fast > slow
    env = make("TradeReady-BTC-v0", frame(close))
    run(env, SMACrossover(fast=3, slow=8))
    fills = base(env).episode_result().fills
    changes = [t for t in range(9, close.size - 1) if above[t] != above[t - 1]]
    assert [f.bar for f in fills] == [t + 1 for t in changes]
    assert [f.side for f in fills] == ["buy" if above[t] else "sell" for t in changes]


def test_sma_crossover_stays_flat_before_the_slow_average_exists() -> None:
    signals = SMACrossover(fast=3, slow=8).signals(MarketData.from_candles([load_frame(v_shape())]))
    assert np.isnan(signals[:7]).all() and not np.isnan(signals[7:]).any()


def load_frame(close: np.ndarray) -> Any:
    return load_candles(frame(close), symbol="BTCUSDT")


# --- RSI mean reversion ----------------------------------------------------------------------


def test_rsi_mean_reversion_buys_oversold_and_sells_overbought() -> None:
    rng = np.random.default_rng(3)
    close = v_shape(40, 40) + rng.normal(0, 0.3, 80)
    rsi = talib.RSI(close, 14)
    env = make("TradeReady-BTC-v0", frame(close))
    run(env, RSIMeanReversion(period=14, oversold=30, overbought=70))
    fills = base(env).episode_result().fills
    first_oversold = int(np.flatnonzero(rsi < 30)[0])
    first_overbought_after = int(np.flatnonzero((rsi > 70) & (np.arange(80) > first_oversold))[0])
    assert [f.side for f in fills][:2] == ["buy", "sell"]
    assert fills[0].bar == first_oversold + 1
    assert fills[1].bar == first_overbought_after + 1


def test_rsi_thresholds_between_hold_the_position() -> None:
    market = MarketData.from_candles([load_frame(v_shape())])
    signals = RSIMeanReversion().signals(market)[:, 0]
    rsi = talib.RSI(market.close[:, 0], 14)
    with np.errstate(invalid="ignore"):
        middle = (rsi >= 30) & (rsi <= 70)
    assert np.isnan(signals[middle]).all()
    assert np.isnan(signals[:14]).all()


# --- no look-ahead ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def btc() -> MarketData:
    candles = load_candles(MARKET / "BTCUSDT-1h.csv").slice("2024-01-01", "2024-03-01")
    return MarketData.from_candles([candles])


@pytest.mark.parametrize("name", ["sma_crossover", "rsi_mean_reversion"])
def test_builtin_strategies_never_look_ahead(btc: MarketData, name: str) -> None:
    strategy = make_strategy(name)
    assert isinstance(strategy, CandleStrategy)
    check_no_lookahead(strategy, btc)


def test_a_strategy_that_peeks_at_the_next_candle_is_caught(btc: MarketData) -> None:
    def peek(market: MarketData) -> np.ndarray:
        close = market.close[:, 0]
        rising = np.append(close[1:] > close[:-1], False)
        return rising.astype(float)

    with pytest.raises(StrategyError, match="looks ahead"):
        check_no_lookahead(from_candles(peek, name="peek"), btc)


def test_signals_see_only_candles_up_to_the_episode_end() -> None:
    seen: list[int] = []

    def record(market: MarketData) -> np.ndarray:
        seen.append(len(market))
        return np.zeros(len(market))

    env = make("TradeReady-BTC-v0", frame(v_shape()), episode_length=20)
    strategy = from_candles(record, name="record")
    for seed in range(5):
        _, info = run(env, strategy, seed=seed)
        start = int(info["episode_start_index"])
        assert seen[-1] == start + 20 + 1


def test_actions_before_a_change_in_later_candles_are_unchanged() -> None:
    close = v_shape()
    changed = close.copy()
    changed[90:] *= 0.5
    actions = [run(make("TradeReady-BTC-v0", frame(c)), SMACrossover(fast=3, slow=8))[0] for c in (close, changed)]
    # the action at step k is decided after candle k closed (the env starts at bar 1 here)
    assert actions[0][:89] == actions[1][:89]
    assert actions[0] != actions[1]


# --- action mapping --------------------------------------------------------------------------


def test_discrete_env_trades_only_on_target_changes() -> None:
    actions, _ = run(make("TradeReady-BTC-v0", frame(v_shape())), BuyAndHold())
    assert actions[0] == 1 and set(actions[1:]) == {0}


def test_continuous_env_gets_the_target_then_the_held_weight() -> None:
    env = make("TradeReady-BTC-Continuous-v0", frame(v_shape()))
    actions, info = run(env, BuyAndHold())
    assert all(a.dtype == np.float32 and a.shape == (1,) and env.action_space.contains(a) for a in actions)
    assert actions[0].tolist() == [1.0]
    assert [a.item() for a in actions[1:]] == pytest.approx([1.0] * (len(actions) - 1), abs=1e-6)
    assert info["episode_metrics"]["total_trades"] == 1


def test_portfolio_buy_and_hold_buys_equal_weights_once_and_lets_them_drift() -> None:
    data = {s: frame(v_shape() * k) for s, k in (("BTCUSDT", 1.0), ("ETHUSDT", 0.1), ("SOLUSDT", 0.01))}
    data["ETHUSDT"]["close"] = data["ETHUSDT"]["close"].to_numpy()[::-1]  # a different path: weights drift
    data["ETHUSDT"]["open"] = np.concatenate(([data["ETHUSDT"]["close"].iloc[0]], data["ETHUSDT"]["close"][:-1]))
    data["ETHUSDT"]["high"] = np.maximum(data["ETHUSDT"]["open"], data["ETHUSDT"]["close"]) * 1.001
    data["ETHUSDT"]["low"] = np.minimum(data["ETHUSDT"]["open"], data["ETHUSDT"]["close"]) * 0.999
    env = make("TradeReady-Portfolio-v0", data)
    actions, info = run(env, BuyAndHold())
    assert actions[0] == pytest.approx([1 / 3] * 3)
    assert actions[-1][1] < 0.3  # ETH fell: its weight drifted down and was not topped up
    assert info["episode_metrics"]["total_trades"] == 3


def test_observation_strategy_acts_on_the_observation() -> None:
    env = make("TradeReady-BTC-Continuous-v0", frame(v_shape()), observation_features=["returns"])
    # long after a rising candle, flat after a falling one
    strategy = from_observation(lambda obs: 1.0 if obs[-1] > 0 else 0.0, name="follow")
    actions, _ = run(env, strategy)
    assert {a.item() for a in actions[:55]} == {0.0}
    assert {a.item() for a in actions[65:]} == {1.0}


def test_nan_target_keeps_the_position_on_a_continuous_env() -> None:
    targets = iter([0.5, math.nan, math.nan, 0.0])
    env = make("TradeReady-BTC-Continuous-v0", frame(v_shape()))
    strategy = from_observation(lambda obs: next(targets, math.nan), name="scripted")
    actions, info = run(env, strategy)
    sent = [a.item() for a in actions[:6]]
    assert sent[0] == 0.5 and sent[3] == 0.0 and sent[4:] == [0.0, 0.0]
    assert sent[1:3] == pytest.approx([0.5, 0.5], abs=0.01)  # the held weight after the price moved
    fills = base(env).episode_result().fills
    assert [f.side for f in fills] == ["buy", "sell"]
    assert info["episode_metrics"]["total_trades"] == 2


# --- fidelity with the engine ----------------------------------------------------------------


@pytest.mark.parametrize("env_id", ["TradeReady-BTC-v0", "TradeReady-BTC-Continuous-v0"])
def test_buy_and_hold_roi_is_the_engines_roi_for_holding_the_window(btc: MarketData, env_id: str) -> None:
    candles = btc.candles("BTCUSDT")
    env = make(env_id, candles, episode_length=300)
    _, info = run(env, BuyAndHold(), seed=7)
    start = int(info["episode_start_index"])
    targets = np.full(300, np.nan)
    targets[0] = 1.0
    config = EngineConfig()
    held = replay(btc.open, btc.high, btc.low, btc.close, config, "1h", start, targets)
    assert info["episode_metrics"] == held.metrics.as_dict()
    # by hand: all cash into the asset at the next open (slippage and fee), marked at the last close
    price = btc.open[start + 1, 0] * (1 + config.slippage_bps / 10_000)
    quantity = config.starting_balance / (1 + config.fee_rate) / price
    expected = 100 * (quantity * btc.close[start + 300, 0] / config.starting_balance - 1)
    assert info["episode_metrics"]["roi_pct"] == pytest.approx(expected, rel=1e-12)


# --- errors ----------------------------------------------------------------------------------


def test_bad_parameters_name_the_value() -> None:
    with pytest.raises(StrategyError, match="fast must be shorter than slow; got fast=50, slow=20"):
        SMACrossover(fast=50, slow=20)
    with pytest.raises(StrategyError, match="period must be an integer"):
        RSIMeanReversion(period=1)
    with pytest.raises(StrategyError, match="oversold must be below overbought"):
        RSIMeanReversion(oversold=80, overbought=20)
    with pytest.raises(StrategyError, match="unknown strategy 'macd'"):
        make_strategy("macd")
    with pytest.raises(StrategyError, match="fn must be callable"):
        from_candles(42, name="x")  # type: ignore[arg-type]


def test_act_before_reset_and_short_discrete_env_are_refused() -> None:
    with pytest.raises(StrategyError, match="call reset"):
        BuyAndHold().act(np.zeros(2), {"timestamp": 0})
    env = make("TradeReady-BTC-v0", frame(v_shape()), allow_short=True)
    _, info = env.reset()
    with pytest.raises(StrategyError, match="no 'flat' action"):
        BuyAndHold().reset(env, info)


def test_signals_of_the_wrong_shape_are_refused() -> None:
    env = make("TradeReady-BTC-v0", frame(v_shape()))
    _, info = env.reset()
    expected = r"must return shape \(120,\) or \(120, 1\) \(one row per candle\); got \(3,\)"
    with pytest.raises(StrategyError, match=expected):
        from_candles(lambda market: np.zeros(3), name="short").reset(env, info)
