"""evaluate(): same windows for every agent, reproducible, engine-exact baselines, recorded on the platform."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from tests.support.platform import AccountKey, LiveServer, free_port
from tests.support.shared_data import MARKET

import tradeready_gym  # noqa: F401  (registers the env ids)
from agentexchange import AgentExchangeClient
from tradeready_core.data import MarketData
from tradeready_core.engine import EngineConfig, replay
from tradeready_gym.envs import TradingEnv
from tradeready_gym.evaluation import DEFAULT_BASELINES, EvaluationError, EvaluationResult, evaluate
from tradeready_gym.strategies import BuyAndHold, Strategy
from tradeready_gym.wrappers import NormalizationWrapper

EPISODE_LENGTH = 200


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    frame = pd.read_csv(MARKET / "BTCUSDT-1h.csv")
    return frame[(frame["open_time"] >= "2024-01-01") & (frame["open_time"] < "2024-03-01")].reset_index(drop=True)


def make(btc: pd.DataFrame, env_id: str = "TradeReady-BTC-v0", **kwargs: Any) -> gym.Env[Any, Any]:
    kwargs.setdefault("track_training", False)
    kwargs.setdefault("episode_length", EPISODE_LENGTH)
    return gym.make(env_id, data=btc, **kwargs)


def base(env: gym.Env[Any, Any]) -> TradingEnv:
    unwrapped = env.unwrapped
    assert isinstance(unwrapped, TradingEnv)
    return unwrapped


class StartRecorder(Strategy):
    """Stays flat and records the first bar of every episode it is reset on."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.starts: list[int] = []

    def reset(self, env: gym.Env[Any, Any], info: Mapping[str, Any]) -> None:
        super().reset(env, info)
        self.starts.append(self._start)

    def target(self, t: int, obs: Any) -> float:
        return 0.0


class Predictor:
    """A stand-in with Stable-Baselines3's ``predict``: buys when the last observed return is positive."""

    def __init__(self) -> None:
        self.flags: set[bool] = set()

    def predict(self, obs: Any, deterministic: bool = False) -> tuple[Any, None]:
        self.flags.add(deterministic)
        # default features: 12 columns per row, then balance and position; ohlcv_close is column 3
        last_return = obs[-2 - 12 + 3]
        return np.int64(1 if last_return > 0 else 2), None


# --- same episodes, reproducible -------------------------------------------------------------


def test_every_agent_trades_the_same_windows(btc: pd.DataFrame) -> None:
    env = make(btc)
    recorders = [StartRecorder("a"), StartRecorder("b")]
    result = evaluate(StartRecorder("model"), env, 6, seed=11, baselines=recorders, record=False)
    starts = [w.start_index for w in result.windows]
    assert recorders[0].starts == recorders[1].starts == starts
    assert len(set(starts)) > 1  # random windows, drawn from the seeds
    for window in result.windows:
        env.reset(seed=window.seed)
        assert window.start_index == base(env).episode_result().start
        assert window.steps == EPISODE_LENGTH and window.end_index == window.start_index + EPISODE_LENGTH
    assert [w.seed for w in result.windows] == list(range(11, 17))


def test_same_seed_same_result_and_another_seed_other_windows(btc: pd.DataFrame) -> None:
    first = evaluate(Predictor(), make(btc), 4, seed=3, record=False)
    again = evaluate(Predictor(), make(btc), 4, seed=3, record=False)
    pd.testing.assert_frame_equal(first.to_frame(), again.to_frame())
    assert first.windows == again.windows
    other = evaluate(Predictor(), make(btc), 4, seed=4, record=False)
    assert [w.start_index for w in other.windows] != [w.start_index for w in first.windows]


def test_result_holds_every_agents_metrics_and_the_summary(btc: pd.DataFrame) -> None:
    model = Predictor()
    result = evaluate(model, make(btc), 3, seed=0, record=False)
    assert model.flags == {True}
    assert list(result.agents) == ["Predictor", *DEFAULT_BASELINES]
    assert result.agents["Predictor"] == "model" and result.agents["buy_and_hold"] == "baseline"
    frame = result.to_frame()
    assert len(frame) == 3 * 4 and set(frame["episode"]) == {1, 2, 3}
    summary = {s.agent: s for s in result.summary}
    assert list(result.summary_frame().index) == list(summary)
    for agent, episodes in result.episodes.items():
        assert summary[agent].mean_roi_pct == pytest.approx(np.mean([e.roi_pct for e in episodes]))
        assert summary[agent].mean_total_trades == pytest.approx(np.mean([e.total_trades for e in episodes]))
        assert summary[agent].mean_win_rate == pytest.approx(np.mean([e.win_rate for e in episodes]))
    model_roi, hold_roi = summary["Predictor"].mean_roi_pct, summary["buy_and_hold"].mean_roi_pct
    assert result.beats_buy_and_hold is (model_roi > hold_roi)
    pairs = zip(result.episodes["Predictor"], result.episodes["buy_and_hold"], strict=True)
    assert result.episodes_beating_buy_and_hold == sum(m.roi_pct > b.roi_pct for m, b in pairs)
    text = str(result)
    assert "buy_and_hold" in text and "sma_crossover" in text and "buy-and-hold after fees" in text


def test_buy_and_hold_equals_the_engine_holding_each_window(btc: pd.DataFrame) -> None:
    env = make(btc, "TradeReady-BTC-Continuous-v0", fee_rate=0.002, slippage_bps=10.0)
    result = evaluate(BuyAndHold(name="hold_model"), env, 3, seed=5, baselines=["buy_and_hold"], record=False)
    market: MarketData = base(env).market
    config = EngineConfig(fee_rate=0.002, slippage_bps=10.0)
    for window, episode in zip(result.windows, result.episodes["buy_and_hold"], strict=True):
        targets = np.full(window.steps, np.nan)
        targets[0] = 1.0
        held = replay(market.open, market.high, market.low, market.close, config, "1h", window.start_index, targets)
        assert episode.roi_pct == held.metrics.roi_pct
        assert episode.total_fees == held.total_fees
        assert episode.total_trades == 1
    # the same strategy as the model: identical numbers, so it does not beat buy-and-hold
    assert result.episodes["hold_model"] == result.episodes["buy_and_hold"]
    assert result.beats_buy_and_hold is False
    assert result.episodes_beating_buy_and_hold == 0


def test_callables_and_strategies_are_models_too(btc: pd.DataFrame) -> None:
    def always_hold(obs: Any) -> int:
        return 0

    result = evaluate(always_hold, make(btc), 2, baselines=["buy_and_hold"], record=False)
    assert result.model == "always_hold"
    assert all(e.roi_pct == 0.0 and e.total_trades == 0 for e in result.episodes["always_hold"])
    assert "does not beat" in result.verdict() or "beats" in result.verdict()


def test_portfolio_env_baselines_split_capital_equally() -> None:
    frames = {}
    for symbol in ("BTC", "ETH", "SOL"):
        frame = pd.read_csv(MARKET / f"{symbol}USDT-1h.csv")
        frames[symbol] = frame[(frame["open_time"] >= "2024-01-01") & (frame["open_time"] < "2024-02-01")]
    env = gym.make("TradeReady-Portfolio-v0", data=frames, episode_length=100, track_training=False)
    result = evaluate(lambda obs: np.zeros(3, np.float32), env, 2, record=False, name="cash")
    assert [e.total_trades for e in result.episodes["buy_and_hold"]] == [3, 3]
    assert all(e.roi_pct == 0.0 for e in result.episodes["cash"])
    assert result.env_config["symbols"] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


# --- evaluation mode -------------------------------------------------------------------------


class RecordingTracker:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def on_reset(self, env: TradingEnv) -> None:
        self.calls.append("reset")

    def on_episode_end(self, env: TradingEnv, info: Mapping[str, Any], reward_sum: float) -> None:
        self.calls.append("episode")

    def on_close(self, env: TradingEnv) -> None:
        self.calls.append("close")


def test_tracker_is_paused_and_normalisation_frozen_then_restored(btc: pd.DataFrame) -> None:
    env = NormalizationWrapper(make(btc))
    tracker = RecordingTracker()
    base(env).attach_tracker(tracker)
    env.reset(seed=0)
    tracker.calls.clear()
    count = env.count
    evaluate(lambda obs: 0, env, 2, record=False)
    assert tracker.calls == []
    assert env.count == count and not env.frozen
    assert base(env).tracker is tracker


# --- errors ----------------------------------------------------------------------------------


def test_bad_arguments_are_refused(btc: pd.DataFrame) -> None:
    env = make(btc)
    with pytest.raises(EvaluationError, match="n_episodes must be an integer in"):
        evaluate(lambda obs: 0, env, 0)
    with pytest.raises(EvaluationError, match="unknown baseline 'macd'"):
        evaluate(lambda obs: 0, env, 1, baselines=["macd"])
    with pytest.raises(EvaluationError, match="agent names must be distinct"):
        evaluate(BuyAndHold(), env, 1)
    with pytest.raises(EvaluationError, match="policy_or_model must have predict"):
        evaluate(42, env, 1)
    with pytest.raises(EvaluationError, match=r"env must be a gymnasium\.Env"):
        evaluate(lambda obs: 0, "TradeReady-BTC-v0", 1)  # type: ignore[arg-type]
    with pytest.raises(EvaluationError, match="the env is offline"):
        evaluate(lambda obs: 0, env, 1, run_id="run_abc123")


# --- recording on the platform ---------------------------------------------------------------


def test_evaluation_is_recorded_and_linked_to_the_run(
    btc: pd.DataFrame, live_server: LiveServer, account: AccountKey, other_account: AccountKey
) -> None:
    with AgentExchangeClient(api_key=account.api_key, base_url=live_server.url) as client:
        run_id = client.create_training_run(strategy_label="ppo_v1", env_id="TradeReady-BTC-v0")["run_id"]
        result = evaluate(Predictor(), make(btc), 2, seed=1, run_id=run_id, client=client)
        assert result.evaluation_id is not None and result.record_error is None
        [listed] = client.list_evaluations(run_id=run_id)
        assert listed["evaluation_id"] == result.evaluation_id
        assert listed["beats_buy_and_hold"] is result.beats_buy_and_hold
        stored = client.get_evaluation(result.evaluation_id)
        assert stored["env_id"] == "TradeReady-BTC-v0" and stored["model"] == "Predictor"
        assert [w["start_index"] for w in stored["episodes"]] == [w.start_index for w in result.windows]
        local = {s.agent: s for s in result.summary}
        for agent in stored["agents"]:
            assert [e["roi_pct"] for e in agent["episodes"]] == [e.roi_pct for e in result.episodes[agent["name"]]]
            # the platform's summary agrees with the gym's
            mine = local[agent["name"]].as_dict()
            for key, value in agent["summary"].items():
                assert value == pytest.approx(mine[key], rel=1e-12, abs=1e-12), key
        assert stored["env_config"]["engine"]["fee_rate"] == 0.001
        # recording again is idempotent
        assert result.record(client) == result.evaluation_id
        assert len(client.list_evaluations()) == 1
        # an env created with the account's api_key is connected: evaluate() records on its own
        keyed = make(btc, api_key=account.api_key, base_url=live_server.url)
        second = evaluate(lambda obs: 0, keyed, 1, baselines=["buy_and_hold"], run_id=run_id)
        assert second.evaluation_id is not None and second.model == "model"  # a lambda has no usable name
        assert {e["evaluation_id"] for e in client.list_evaluations(run_id=run_id)} == {
            result.evaluation_id,
            second.evaluation_id,
        }
    with AgentExchangeClient(api_key=other_account.api_key, base_url=live_server.url) as other:
        with pytest.raises(EvaluationError, match="no training run"):
            evaluate(Predictor(), make(btc), 1, run_id=run_id, client=other)
        assert other.list_evaluations() == []


def test_an_offline_env_is_not_recorded(btc: pd.DataFrame) -> None:
    result = evaluate(lambda obs: 0, make(btc), 1, baselines=["buy_and_hold"])
    assert result.evaluation_id is None and result.record_error is None


def test_an_unreachable_platform_keeps_the_result(btc: pd.DataFrame, caplog: pytest.LogCaptureFixture) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    with (
        AgentExchangeClient(api_key="ak_live_x", base_url=unreachable, max_retries=0) as client,
        caplog.at_level(logging.WARNING, logger="tradeready_gym.evaluation"),
    ):
        result = evaluate(lambda obs: 0, make(btc), 1, client=client)
    assert isinstance(result, EvaluationResult)
    assert result.evaluation_id is None and result.record_error
    assert "not recorded" in caplog.text
