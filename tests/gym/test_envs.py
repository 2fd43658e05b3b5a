"""The registered environments: API compliance, determinism, no look-ahead, replay fidelity, errors."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from tests.support.shared_data import MARKET

import tradeready_gym
from tradeready_core.engine import replay
from tradeready_core.errors import InsufficientDataError, InvalidParameterError
from tradeready_gym.envs import DiscreteTradingEnv, NullTracker, TradingEnv
from tradeready_gym.envs import base as base_module
from tradeready_gym.envs.base import DEFAULT_FEATURES
from tradeready_gym.rewards import LogReturnReward, SharpeReward, StepState

SINGLE_IDS = [i for i in tradeready_gym.ENV_IDS if "Portfolio" not in i]


def real_1h(symbol: str, start: str = "2024-01-01", end: str = "2024-03-01") -> pd.DataFrame:
    frame = pd.read_csv(MARKET / f"{symbol}USDT-1h.csv")
    return frame[(frame["open_time"] >= start) & (frame["open_time"] < end)].reset_index(drop=True)


@pytest.fixture(scope="module")
def candles() -> dict[str, pd.DataFrame]:
    """Two months of real 1h candles per symbol (about 1,440 bars, common time grid)."""
    return {s: real_1h(s) for s in ("BTC", "ETH", "SOL")}


def data_for(env_id: str, candles: Mapping[str, pd.DataFrame]) -> Any:
    asset = env_id.split("-")[1]
    return dict(candles) if asset == "Portfolio" else candles[asset]


def make(env_id: str, candles: Mapping[str, pd.DataFrame], **kwargs: Any) -> gym.Env[Any, Any]:
    kwargs.setdefault("track_training", False)
    return gym.make(env_id, data=data_for(env_id, candles), **kwargs)


def test_registered_ids() -> None:
    assert set(tradeready_gym.ENV_IDS) == {
        "TradeReady-BTC-v0",
        "TradeReady-ETH-v0",
        "TradeReady-SOL-v0",
        "TradeReady-BTC-Continuous-v0",
        "TradeReady-ETH-Continuous-v0",
        "TradeReady-SOL-Continuous-v0",
        "TradeReady-Portfolio-v0",
    }
    for env_id in tradeready_gym.ENV_IDS:
        assert env_id in gym.registry


@pytest.mark.parametrize("render_mode", [None, "ansi"])
@pytest.mark.parametrize("env_id", tradeready_gym.ENV_IDS)
def test_gymnasium_check_env(env_id: str, render_mode: str | None, candles: dict[str, pd.DataFrame]) -> None:
    env = make(env_id, candles, episode_length=300, render_mode=render_mode)
    check_env(env.unwrapped)  # warnings are errors (pyproject filterwarnings)


@pytest.mark.parametrize("env_id", SINGLE_IDS)
def test_sb3_check_env_no_warnings(env_id: str, candles: dict[str, pd.DataFrame]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_check_env(make(env_id, candles, episode_length=300).unwrapped)


def test_sb3_check_env_portfolio_only_warns_about_its_specified_action_range(
    candles: dict[str, pd.DataFrame],
) -> None:
    # SPEC fixes the portfolio action space to Box(0, 1, N) (weights); SB3 merely recommends [-1, 1].
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(make("TradeReady-Portfolio-v0", candles, episode_length=300).unwrapped)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "symmetric and normalized Box action space" in messages[0]


def rollout(env: gym.Env[Any, Any], seed: int, steps: int) -> list[tuple[Any, ...]]:
    obs, info = env.reset(seed=seed)
    out: list[tuple[Any, ...]] = [(obs.tobytes(), sorted(info.items()))]
    env.action_space.seed(seed)
    for _ in range(steps):
        action = env.action_space.sample()
        obs, reward, terminated, truncated, info = env.step(action)
        plain = {k: v for k, v in info.items() if k != "action_log"}
        out.append((obs.tobytes(), reward, terminated, truncated, sorted(plain.items())))
        if terminated or truncated:
            obs, info = env.reset()
            out.append((obs.tobytes(), sorted(info.items())))
    return out


@pytest.mark.parametrize("env_id", ["TradeReady-BTC-v0", "TradeReady-ETH-Continuous-v0", "TradeReady-Portfolio-v0"])
def test_seeded_rollouts_are_deterministic(env_id: str, candles: dict[str, pd.DataFrame]) -> None:
    a = rollout(make(env_id, candles, episode_length=120, allow_short=True), seed=7, steps=500)
    b = rollout(make(env_id, candles, episode_length=120, allow_short=True), seed=7, steps=500)
    assert a == b
    c = rollout(make(env_id, candles, episode_length=120, allow_short=True), seed=8, steps=500)
    assert a != c


def test_random_windows_come_from_np_random(candles: dict[str, pd.DataFrame]) -> None:
    env = make("TradeReady-BTC-v0", candles, episode_length=50)
    starts = {env.reset(seed=s)[1]["timestamp"] for s in range(8)}
    assert len(starts) > 1
    assert env.reset(seed=3)[1]["timestamp"] == env.reset(seed=3)[1]["timestamp"]


def perturbed_after(frame: pd.DataFrame, cut: int, seed: int) -> pd.DataFrame:
    """Candles after row ``cut`` rescaled by random factors (OHLC stays consistent)."""
    out = frame.copy()
    rng = np.random.default_rng(seed)
    factor = rng.uniform(0.5, 2.0, size=len(out) - cut - 1)
    for col in ("open", "high", "low", "close", "volume"):
        out.loc[cut + 1 :, col] = out.loc[cut + 1 :, col].to_numpy() * factor
    return out


@pytest.mark.parametrize("env_id", ["TradeReady-BTC-v0", "TradeReady-SOL-Continuous-v0", "TradeReady-Portfolio-v0"])
def test_no_look_ahead(env_id: str, candles: dict[str, pd.DataFrame]) -> None:
    cut = 700  # row index in the data frames (same grid for every symbol)
    changed = {s: perturbed_after(f, cut, seed=i) for i, (s, f) in enumerate(candles.items())}
    env_a, env_b = make(env_id, candles), make(env_id, changed)
    obs_a, _ = env_a.reset(seed=0)
    obs_b, _ = env_b.reset(seed=0)
    sim = env_a.unwrapped._sim  # type: ignore[attr-defined]
    env_a.action_space.seed(1)
    compared = 0
    while sim.t < cut:
        assert obs_a.tobytes() == obs_b.tobytes()
        action = env_a.action_space.sample()
        obs_a, r_a, *_, info_a = env_a.step(action)
        obs_b, r_b, *_, info_b = env_b.step(action)
        if sim.t <= cut:  # every bar used so far is unchanged
            assert r_a == r_b and info_a == info_b
            compared += 1
    assert compared > 500
    fills_a = env_a.unwrapped.episode_result().fills  # type: ignore[attr-defined]
    fills_b = env_b.unwrapped.episode_result().fills  # type: ignore[attr-defined]
    assert fills_a == fills_b and len(fills_a) > 10
    obs_a, *_ = env_a.step(action)
    obs_b, *_ = env_b.step(action)
    assert obs_a.tobytes() != obs_b.tobytes()  # the perturbation is visible once its bar has closed


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [
        ("TradeReady-BTC-v0", {}),
        ("TradeReady-BTC-v0", {"allow_short": True, "position_size": 0.5}),
        ("TradeReady-ETH-Continuous-v0", {"allow_short": True}),
        ("TradeReady-Portfolio-v0", {"observation_features": ["ohlcv", "balance", "position", "unrealized_pnl"]}),
    ],
)
def test_env_equity_equals_replay_of_its_action_log(
    env_id: str, kwargs: dict[str, Any], candles: dict[str, pd.DataFrame]
) -> None:
    env = make(env_id, candles, episode_length=400, fee_rate=0.002, slippage_bps=7.0, **kwargs)
    env.reset(seed=11)
    env.action_space.seed(11)
    done = False
    while not done:
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        done = terminated or truncated
    base: TradingEnv = env.unwrapped  # type: ignore[assignment]
    market = base.market
    result = replay(
        market.open,
        market.high,
        market.low,
        market.close,
        base.config,
        base.timeframe,
        info["episode_start_index"],
        info["action_log"],
    )
    mine = base.episode_result()
    assert result.equity.tobytes() == mine.equity.tobytes()
    assert result.fills == mine.fills and len(result.fills) > 20
    assert result.metrics.as_dict() == info["episode_metrics"]
    assert info["action_log"].shape == (400, base.n_assets)
    assert info["episode_start_time"] == int(market.open_time[info["episode_start_index"]])


def test_info_and_episode_end(candles: dict[str, pd.DataFrame]) -> None:
    env = make("TradeReady-BTC-v0", candles, episode_length=30, reward_function=SharpeReward(window=10))
    obs, info = env.reset(seed=0)
    assert set(info) == {"equity", "cash", "position", "fills", "fees", "timestamp"}
    assert info["equity"] == 10_000.0 and info["position"] == 0.0
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    obs, reward, terminated, truncated, info = env.step(1)  # buy
    assert info["fills"] == 1 and info["fees"] > 0 and info["position"] > 0 and info["cash"] >= 0
    assert isinstance(reward, float) and not (terminated or truncated)
    for _ in range(29):
        obs, reward, terminated, truncated, info = env.step(0)
        assert info["fills"] == 0
    assert truncated and not terminated
    metrics = info["episode_metrics"]
    assert metrics["total_trades"] == 1 and metrics["steps"] == 30 and metrics["exposure_pct"] == 100.0
    assert all(math.isfinite(v) for v in metrics.values())
    assert math.isnan(info["action_log"][1, 0]) and info["action_log"][0, 0] == 1.0
    with pytest.raises(gym.error.ResetNeeded):
        env.unwrapped.step(0)


def test_discrete_semantics(candles: dict[str, pd.DataFrame]) -> None:
    env = make("TradeReady-BTC-v0", candles, position_size=0.5, allow_short=True, slippage_bps=0.0, fee_rate=0.0)
    env.reset(seed=0)
    base: TradingEnv = env.unwrapped  # type: ignore[assignment]
    env.step(1)
    assert base.position_fraction == pytest.approx(0.5, rel=0.05)
    env.step(0)
    env.step(2)
    assert base.position_fraction == pytest.approx(-0.5, rel=0.05)
    long_only = make("TradeReady-BTC-v0", candles)
    long_only.reset(seed=0)
    long_only.step(2)
    assert long_only.unwrapped.position_fraction == 0.0  # type: ignore[attr-defined]
    with pytest.raises(InvalidParameterError, match=r"0 \(hold\), 1 \(buy\) or 2 \(sell\)"):
        long_only.unwrapped.step(3)


def test_continuous_and_portfolio_action_mapping(candles: dict[str, pd.DataFrame]) -> None:
    env = make("TradeReady-BTC-Continuous-v0", candles)
    env.reset(seed=0)
    *_, info = env.step(np.array([-0.7], dtype=np.float32))
    assert info["position"] == 0.0 and info["fills"] == 0  # negative clipped to flat (long-only)
    env.step(np.array([0.25], dtype=np.float32))
    assert env.unwrapped.position_fraction == pytest.approx(0.25, rel=0.05)  # type: ignore[attr-defined]
    port = make("TradeReady-Portfolio-v0", candles)
    port.reset(seed=0)
    *_, info = port.step(np.array([1.0, 1.0, 0.0], dtype=np.float32))  # sum 2 -> divided by 2: 0.5 / 0.5
    sim = port.unwrapped.simulator  # type: ignore[attr-defined]
    values = [sim.position_value(i) / info["equity"] for i in range(3)]
    assert values[0] == pytest.approx(0.5, rel=0.02) and values[1] == pytest.approx(0.5, rel=0.02)
    assert info["position"][2] == 0.0 and info["cash"] >= 0.0


def test_render_modes(candles: dict[str, pd.DataFrame]) -> None:
    text_env = make("TradeReady-BTC-v0", candles, render_mode="ansi", episode_length=20)
    text_env.reset(seed=0)
    text_env.step(1)
    line = text_env.render()
    assert isinstance(line, str) and "BTCUSDT" in line and "equity" in line
    chart_env = make("TradeReady-BTC-v0", candles, render_mode="rgb_array", episode_length=20)
    chart_env.reset(seed=0)
    for a in (1, 0, 2):
        chart_env.step(a)
    frame = chart_env.render()
    assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.shape == (500, 800, 3)
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 3
    check_env(chart_env.unwrapped)  # the checker's render checks, in rgb_array mode


def test_tracker_hook_is_called_outside_the_engine(candles: dict[str, pd.DataFrame]) -> None:
    calls: list[str] = []

    class Recorder(NullTracker):
        def on_reset(self, env: TradingEnv) -> None:
            calls.append("reset")

        def on_episode_end(self, env: TradingEnv, info: Mapping[str, Any], reward_sum: float) -> None:
            calls.append(f"end:{info['episode_metrics']['steps']}")

        def on_close(self, env: TradingEnv) -> None:
            calls.append("close")

    env = make("TradeReady-BTC-v0", candles, episode_length=5)
    env.unwrapped.attach_tracker(Recorder())  # type: ignore[attr-defined]
    env.reset(seed=0)
    for _ in range(5):
        env.step(0)
    env.close()
    assert calls == ["reset", "end:5", "close"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"timeframe": "2h"}, r"timeframe must be one of \('1m'"),
        ({"lookback_window": 0}, r"lookback_window must be an integer in \[1, 10000\]; got 0"),
        ({"observation_features": ["ohlcv", "vwap"]}, r"unknown feature name\(s\) \['vwap'\]; valid names"),
        ({"reward_function": "sharpe"}, "reward_function must be None or a tradeready_gym.rewards.RewardFunction"),
        ({"starting_balance": 0}, r"starting_balance must be a finite number in \(0.0"),
        ({"fee_rate": 0.5}, r"fee_rate must be a finite number in \[0.0, 0.1\]; got 0.5"),
        ({"slippage_bps": -1}, "slippage_bps must be a finite number"),
        ({"episode_length": 0}, "episode_length must be None or an integer"),
        ({"episode_length": 10**6}, "episode_length must be at most"),
        ({"position_size": 1.5}, r"position_size must be a fraction of equity in \(0, 1\]; got 1.5"),
        ({"allow_short": "yes"}, "allow_short must be True or False; got 'yes'"),
        ({"track_training": 1}, "track_training must be True or False"),
        ({"strategy_label": ""}, "strategy_label must be None or a non-empty string"),
        ({"render_mode": "svg"}, r"render_mode must be one of \(None, 'ansi', 'rgb_array'\); got 'svg'"),
        ({"execution": "cloud"}, r"execution must be one of \('local', 'remote'\); got 'cloud'"),
        ({"start_time": "not a time"}, "start_time must be epoch ms, an ISO-8601 string or a datetime"),
        ({"start_time": "2024-02-01", "end_time": "2024-01-01"}, "end_time must be after start_time"),
        ({"start_time": "2030-01-01"}, r"0 candle\(s\) in \[start_time, end_time\)"),
        ({"client": object()}, "client must be an agentexchange.AgentExchangeClient"),
    ],
)
def test_bad_parameters_name_the_allowed_values(
    kwargs: dict[str, Any], match: str, candles: dict[str, pd.DataFrame]
) -> None:
    kwargs.setdefault("track_training", False)
    with pytest.raises(InvalidParameterError, match=match):
        DiscreteTradingEnv("BTCUSDT", data=candles["BTC"], **kwargs)


def test_other_construction_errors(candles: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(InvalidParameterError, match="needs an API key"):
        make("TradeReady-BTC-v0", candles, execution="remote")
    with pytest.raises(InvalidParameterError, match="pass data as a mapping with one entry per symbol"):
        gym.make("TradeReady-Portfolio-v0", data=candles["BTC"], track_training=False)
    with pytest.raises(InvalidParameterError, match="data has no candles for SOLUSDT"):
        gym.make("TradeReady-Portfolio-v0", data={"BTC": candles["BTC"], "ETH": candles["ETH"]})
    with pytest.raises(InvalidParameterError, match="cannot make timeframe='15m'"):
        make("TradeReady-BTC-v0", candles, timeframe="15m")
    with pytest.raises(InsufficientDataError, match="leave no step after the feature warm-up"):
        gym.make("TradeReady-BTC-v0", data=candles["BTC"].iloc[:80], track_training=False)
    with pytest.raises(gym.error.ResetNeeded):
        make("TradeReady-BTC-v0", candles).unwrapped.step(0)
    with pytest.raises(gym.error.ResetNeeded):  # registered without OrderEnforcing: the env enforces it
        make("TradeReady-Portfolio-v0", candles).step([0.5, 0.0, 0.0])
    cont = make("TradeReady-BTC-Continuous-v0", candles)
    cont.reset(seed=0)
    with pytest.raises(InvalidParameterError, match="action must be finite"):
        cont.unwrapped.step(np.array([np.nan], dtype=np.float32))


def test_observation_bounds_hold_over_a_full_episode(candles: dict[str, pd.DataFrame]) -> None:
    env = make(
        "TradeReady-BTC-Continuous-v0",
        candles,
        allow_short=True,
        observation_features=[
            "ohlcv",
            "rsi_14",
            "macd",
            "bollinger",
            "atr",
            "adx",
            "returns",
            "volume",
            "balance",
            "position",
            "unrealized_pnl",
        ],
    )
    obs, _ = env.reset(seed=0)
    space = env.observation_space
    env.action_space.seed(0)
    done = False
    while not done:
        assert space.contains(obs) and np.all(np.isfinite(obs))
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        done = terminated or truncated


class _CalledLogReturn(LogReturnReward):
    """The default reward, but always called (step() computes the plain LogReturnReward inline)."""

    def __call__(self, prev_equity: float, equity: float, state: StepState) -> float:
        return super().__call__(prev_equity, equity, state)


@pytest.mark.parametrize("env_id", ["TradeReady-ETH-Continuous-v0", "TradeReady-Portfolio-v0"])
def test_inline_default_reward_equals_calling_it(env_id: str, candles: dict[str, pd.DataFrame]) -> None:
    kwargs = {"episode_length": 400, "allow_short": True, "fee_rate": 0.01}
    inline = make(env_id, candles, **kwargs)
    called = make(env_id, candles, reward_function=_CalledLogReturn(), **kwargs)
    assert inline.unwrapped._log_return and not called.unwrapped._log_return  # type: ignore[attr-defined]
    inline.reset(seed=3)
    called.reset(seed=3)
    inline.action_space.seed(3)
    rewards = []
    for _ in range(400):
        action = inline.action_space.sample()
        _, r_inline, *_ = inline.step(action)
        _, r_called, *_ = called.step(action)
        assert r_inline == r_called
        rewards.append(r_inline)
    assert len(set(rewards)) > 300
    with pytest.raises(InvalidParameterError, match=r"reward_function must be a tradeready_gym\.rewards\.Reward"):
        inline.unwrapped.reward_function = "log"  # type: ignore[attr-defined]
    inline.unwrapped.reward_function = SharpeReward(window=5)  # type: ignore[attr-defined]
    assert not inline.unwrapped._log_return  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("env_id", "features"),
    [
        ("TradeReady-BTC-v0", list(DEFAULT_FEATURES)),
        ("TradeReady-SOL-Continuous-v0", ["ohlcv", "unrealized_pnl", "position", "macd", "balance"]),
        ("TradeReady-Portfolio-v0", ["position", "ohlcv", "balance", "unrealized_pnl"]),
    ],
)
def test_step_observation_equals_the_general_path(
    env_id: str, features: list[str], candles: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    # step() writes the observation inline from a cache of window views; _observe() slices and writes
    # the scalars the general way; without the cache (large datasets) step() slices too
    env = make(env_id, candles, observation_features=features, allow_short=True, episode_length=300)
    monkeypatch.setattr(base_module, "_VIEW_CACHE_MAX_BARS", 10)
    uncached = make(env_id, candles, observation_features=features, allow_short=True, episode_length=300)
    base: TradingEnv = env.unwrapped  # type: ignore[assignment]
    assert base._views is not None and uncached.unwrapped._views is None  # type: ignore[attr-defined]
    obs, _ = env.reset(seed=5)
    assert obs.tobytes() == uncached.reset(seed=5)[0].tobytes()
    env.action_space.seed(5)
    scalars = set()
    for _ in range(300):
        action = env.action_space.sample()
        obs, *_ = env.step(action)
        assert obs.tobytes() == base._observe(base._sim.t).tobytes()  # type: ignore[union-attr]
        assert obs.tobytes() == uncached.step(action)[0].tobytes()
        scalars.add(obs[base._window :].tobytes())
    assert len(scalars) > 100  # the portfolio scalars moved


def test_action_validation(candles: dict[str, pd.DataFrame]) -> None:
    cont = make("TradeReady-BTC-Continuous-v0", candles).unwrapped
    cont.reset(seed=0)
    for bad in (np.array([0.5, 0.5], dtype=np.float32), 0.5, "0.5x", [None], np.array([np.inf], dtype=np.float32)):
        with pytest.raises(InvalidParameterError, match="action must be"):
            cont.step(bad)
    cont.step([0.5])  # any one-element sequence
    cont.step(np.array([2], dtype=np.int64))  # clipped to 1
    assert cont._log[:2] == [0.5, 1.0]  # type: ignore[attr-defined]
    port = make("TradeReady-Portfolio-v0", candles).unwrapped
    port.reset(seed=0)
    for bad in (
        np.ones((1, 3), dtype=np.float32),
        np.ones((3, 1), dtype=np.float32),
        np.array([0.1, 0.2], dtype=np.float32),
        [0.1, math.nan, 0.2],
        [0.1, "x", 0.2],
        None,
    ):
        with pytest.raises(InvalidParameterError, match="action must be 3 finite weights"):
            port.step(bad)
    port.step(np.array([1, 0, 3], dtype=np.int64))  # integers: clipped to [0, 1] (the engine divides by the sum)
    port.step([0.2, -1.0, 0.3])
    assert port._log[:6] == [1.0, 0.0, 1.0, 0.2, 0.0, 0.3]  # type: ignore[attr-defined]
    assert all(isinstance(w, float) for w in port._log[:6])  # type: ignore[attr-defined]


def test_a_one_symbol_portfolio_is_still_a_portfolio(candles: dict[str, pd.DataFrame]) -> None:
    env = gym.make(
        "TradeReady-Portfolio-v0", symbols=["BTCUSDT"], data={"BTCUSDT": candles["BTC"]}, track_training=False
    )
    _, info = env.reset(seed=0)
    assert info["position"] == (0.0,)
    *_, info = env.step(np.array([0.5], dtype=np.float32))
    assert len(info["position"]) == 1 and info["position"][0] > 0.0
    *_, info = env.step([2.0])  # a list, clipped to 1
    assert info["position"][0] > 0.0
    with pytest.raises(InvalidParameterError, match="action must be 1 finite weights"):
        env.step(0.5)

    class _Pair(DiscreteTradingEnv):  # a single-asset env handed two symbols
        def __init__(self, **kwargs: Any) -> None:
            TradingEnv.__init__(self, ("BTCUSDT", "ETHUSDT"), **kwargs)

    with pytest.raises(InvalidParameterError, match=r"_Pair trades one symbol; got \['BTCUSDT', 'ETHUSDT'\]"):
        _Pair(data=candles["BTC"], track_training=False)
