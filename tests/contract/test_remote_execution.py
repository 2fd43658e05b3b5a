"""``execution="remote"`` against the real platform on loopback (SQLite and PostgreSQL).

The same actions through a local env and a remote env (every step one ``POST /backtests/{id}/step``)
give bit-identical observations, rewards, equity curves and fills and identical metrics, for the
discrete, continuous (long-only and shorting) and portfolio envs; sessions never leak; and the
platform's failures (changed candles, a cancelled session, a refused key) are clear errors.
Candles are real Binance BTC/ETH/SOL 1h bars, imported into the live server's market store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from numpy.typing import NDArray
from tests.support.platform import AccountKey, LiveServer
from tests.support.shared_data import MARKET

from agentexchange import AgentExchangeClient
from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.store.market import MarketStore, clear_cache
from tradeready_core.data import Candles, MarketData, load_candles
from tradeready_gym.envs import (
    ContinuousTradingEnv,
    DatasetMismatchError,
    DiscreteTradingEnv,
    PortfolioTradingEnv,
    RemoteExecutionError,
    RemoteSimulator,
    TradingEnv,
)
from tradeready_gym.rewards import DrawdownPenaltyReward, SharpeReward
from tradeready_gym.tracking import TrainingTracker

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
FIRST, END = "2024-03-01", "2024-03-17"  # 384 real 1h bars per symbol


@pytest.fixture(scope="module")
def candles() -> dict[str, Candles]:
    return {s: load_candles(MARKET / f"{s}-1h.csv", symbol=s).slice(FIRST, END) for s in SYMBOLS}


@pytest.fixture
def platform(live_server: LiveServer, candles: dict[str, Candles]) -> LiveServer:
    """The live server with the candles in its market store."""
    engine = make_engine(live_server.settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as db:
            for c in candles.values():
                MarketStore(db).insert_candles(c)
            db.commit()
    finally:
        engine.dispose()
    clear_cache()
    return live_server


@pytest.fixture
def client(platform: LiveServer, account: AccountKey) -> Iterator[AgentExchangeClient]:
    with AgentExchangeClient(api_key=account.api_key, base_url=platform.url, max_retries=0) as sdk:
        yield sdk


def _envs(kind: str, candles: dict[str, Candles], client: AgentExchangeClient, **kw: Any) -> list[TradingEnv]:
    """A local and a remote env of ``kind`` over the same candles and parameters."""
    kw = {"lookback_window": 20, "track_training": False, "episode_length": 90, **kw}
    out: list[TradingEnv] = []
    for execution in ("local", "remote"):
        extra: dict[str, Any] = {"execution": execution}
        if execution == "remote":
            extra["client"] = client
        if kind == "portfolio":
            out.append(PortfolioTradingEnv(SYMBOLS, data=dict(candles), **kw, **extra))
        elif kind == "discrete":
            out.append(DiscreteTradingEnv("BTCUSDT", data=candles["BTCUSDT"], position_size=0.8, **kw, **extra))
        else:
            out.append(ContinuousTradingEnv("ETHUSDT", data=candles["ETHUSDT"], **kw, **extra))
    return out


def _actions(kind: str, n: int, seed: int) -> list[Any]:
    rng = np.random.default_rng(seed)
    if kind == "discrete":
        return [int(a) for a in rng.integers(0, 3, n)]
    if kind == "portfolio":
        weights = rng.uniform(0.0, 0.7, (n, 3)).astype(np.float32)  # sums above 1 are normalised
        weights[rng.random((n, 3)) < 0.2] = 0.0
        return list(weights)
    return list(rng.uniform(-1.0, 1.0, (n, 1)).astype(np.float32))


def _episode(env: TradingEnv, seed: int, actions: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    """Every output of one episode (observations as bytes), and the last step's info."""
    obs, info = env.reset(seed=seed)
    trace: list[Any] = [obs.tobytes(), sorted(info.items())]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        step_info = {k: v for k, v in info.items() if k not in ("action_log", "session_id")}
        trace.append((obs.tobytes(), reward, terminated, truncated, sorted(step_info.items())))
        if terminated or truncated:
            return trace, info
    raise AssertionError("the episode did not end within the actions given")


def _equity(env: TradingEnv) -> NDArray[np.float64]:
    return env.episode_result().equity


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("discrete", {}),
        ("continuous", {"reward_function": SharpeReward(window=20)}),
        (
            "continuous",
            {
                "allow_short": True,
                "reward_function": DrawdownPenaltyReward(coef=0.5),
                "observation_features": ["ohlcv", "rsi_14", "balance", "position", "unrealized_pnl"],
            },
        ),
        (
            "portfolio",
            {"fee_rate": 0.0005, "slippage_bps": 2.0, "observation_features": ["ohlcv", "position", "unrealized_pnl"]},
        ),
    ],
    ids=["discrete", "continuous", "continuous-short", "portfolio"],
)
def test_local_and_remote_execution_are_bit_identical(
    kind: str, options: dict[str, Any], client: AgentExchangeClient, candles: dict[str, Candles], db_backend: str
) -> None:
    local, remote = _envs(kind, candles, client, **options)
    try:
        for seed in (3, 11):
            actions = _actions(kind, 90, seed)
            ours, info_local = _episode(local, seed, actions)
            theirs, info_remote = _episode(remote, seed, actions)
            assert theirs == ours  # observations (bytes), rewards, flags, equity, cash, positions, fills, fees
            assert info_remote["episode_metrics"] == info_local["episode_metrics"]
            assert info_remote["action_log"].tobytes() == info_local["action_log"].tobytes()
            result_local, result_remote = local.episode_result(), remote.episode_result()
            assert result_remote.equity.tobytes() == result_local.equity.tobytes()  # bit for bit
            assert result_remote.metrics == result_local.metrics
            assert result_remote.fills == result_local.fills and len(result_local.fills) > 10
            assert result_remote.total_fees == result_local.total_fees

            # what the platform stored for the session is the same, and it is labelled and finished
            session_id = info_remote["session_id"]
            curve = np.array(client.get_equity_curve(session_id)["equity"], dtype=np.float64)
            assert curve.tobytes() == result_local.equity.tobytes()
            stored = client.get_backtest(session_id)
            assert stored["status"] == "completed" and stored["source"] == "training"
            assert stored["metrics"] == info_local["episode_metrics"]
            assert stored["strategy_label"] == type(remote).__name__
            assert stored["total_steps"] == 90
    finally:
        local.close()
        remote.close()


def test_remote_env_downloads_candles_from_the_platform_and_passes_check_env(
    client: AgentExchangeClient, candles: dict[str, Candles], tmp_path: Path, account: AccountKey, platform: LiveServer
) -> None:
    # api_key/base_url (not client=): gymnasium's checker rebuilds the env from its spec's kwargs
    made = gym.make(
        "TradeReady-SOL-v0", execution="remote", api_key=account.api_key, base_url=platform.url,
        cache_dir=tmp_path, lookback_window=20, render_mode="ansi",
        episode_length=60, start_time=FIRST, end_time=END, track_training=False, strategy_label="remote-check",
    )  # fmt: skip
    remote = made.unwrapped
    assert isinstance(remote, DiscreteTradingEnv) and remote.market == MarketData.from_candles([candles["SOLUSDT"]])
    local = DiscreteTradingEnv(
        "SOLUSDT", data=candles["SOLUSDT"], lookback_window=20, episode_length=60, track_training=False
    )
    check_env(remote)  # warnings are errors (pyproject filterwarnings)
    actions = _actions("discrete", 60, 5)
    assert _episode(remote, 5, actions)[0] == _episode(local, 5, actions)[0]
    assert _equity(remote).tobytes() == _equity(local).tobytes()
    remote.close()
    local.close()
    sessions = client.list_backtests(strategy_label="remote-check", limit=500)
    assert len(sessions) >= 3  # check_env resets several times: one session per episode
    assert {s["status"] for s in sessions} <= {"completed", "cancelled"}  # none left running


def test_sessions_are_cancelled_on_reset_and_close(client: AgentExchangeClient, candles: dict[str, Candles]) -> None:
    _, env = _envs("discrete", candles, client, strategy_label="leak-check")
    env.reset(seed=1)
    for _ in range(5):
        env.step(1)
    cut_short = env._sim.session_id if isinstance(env._sim, RemoteSimulator) else None
    env.reset(seed=2)  # the unfinished episode's session is cancelled, a new one created
    env.step(2)
    open_id = env._sim.session_id if isinstance(env._sim, RemoteSimulator) else None
    assert client.get_backtest(str(cut_short))["status"] == "cancelled"
    assert client.get_backtest(str(open_id))["status"] == "running"
    env.close()
    env.close()  # idempotent
    assert client.get_backtest(str(open_id))["status"] == "cancelled"
    statuses = [s["status"] for s in client.list_backtests(strategy_label="leak-check")]
    assert sorted(statuses) == ["cancelled", "cancelled"]
    assert client.get_portfolio(str(cut_short))["step"] == 5  # the results so far are kept


def test_candles_that_differ_from_the_platform_s_are_refused(
    client: AgentExchangeClient, candles: dict[str, Candles]
) -> None:
    btc = candles["BTCUSDT"]
    close = btc.close.copy()
    close[200:] *= 1.0001  # a quiet edit inside every possible episode window
    high = np.maximum(btc.high, close)
    changed = Candles(btc.symbol, btc.timeframe, btc.open_time, btc.open, high, btc.low, close, btc.volume, btc.source)
    env = DiscreteTradingEnv(
        "BTCUSDT", data=changed, execution="remote", client=client, lookback_window=20, track_training=False,
        strategy_label="mismatch",
    )  # fmt: skip
    with pytest.raises(DatasetMismatchError, match=r"holds different BTCUSDT 1h candles .*`tradeready data import`"):
        env.reset(seed=0)
    [session] = client.list_backtests(strategy_label="mismatch")
    assert session["status"] == "cancelled"  # the refused session is not left running
    env.close()


def test_a_session_cancelled_elsewhere_and_a_refused_key_are_clear_errors(
    client: AgentExchangeClient, candles: dict[str, Candles], platform: LiveServer
) -> None:
    _, env = _envs("continuous", candles, client)
    env.reset(seed=0)
    assert isinstance(env._sim, RemoteSimulator) and env._sim.session_id is not None
    client.cancel_backtest(env._sim.session_id)
    with pytest.raises(RemoteExecutionError, match=r"could not step the backtest session .* cancelled"):
        env.step(np.array([0.5], np.float32))
    env.close()

    with AgentExchangeClient(api_key="ak_live_" + "0" * 40, base_url=platform.url, max_retries=0) as wrong:
        env = ContinuousTradingEnv("ETHUSDT", data=candles["ETHUSDT"], execution="remote", client=wrong,
                                   lookback_window=20, track_training=False)  # fmt: skip
        with pytest.raises(RemoteExecutionError, match=r"refused the API key .*`tradeready keys create`"):
            env.reset()
        env.close()


def test_sessions_are_linked_to_the_training_run_once_the_tracker_has_one(
    client: AgentExchangeClient, candles: dict[str, Candles], tmp_path: Path
) -> None:
    _, env = _envs("discrete", candles, client, strategy_label="linked", episode_length=30)
    tracker = TrainingTracker(client=client, spool_dir=tmp_path, replay=False)
    env._tracker = tracker  # what the env does with track_training=True
    sessions = []
    for seed in (1, 2):
        env.reset(seed=seed)
        info: dict[str, Any] = {}
        for action in _actions("discrete", 30, seed):
            *_, info = env.step(action)
        sessions.append(client.get_backtest(info["session_id"]))
    env.close()
    assert tracker.run_id is not None
    # the run is registered by the first reset, after that episode's session was created
    assert [s["training_run_id"] for s in sessions] == [None, tracker.run_id]
    assert all(s["strategy_label"] == "linked" and s["status"] == "completed" for s in sessions)
