"""Shared pieces of the tracking tests: a platform with real BTCUSDT 1h candles, envs, episode loops."""

from __future__ import annotations

import functools
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from tests.support import shared_data
from tests.support.platform import AccountKey, LiveServer

import tradeready_gym  # noqa: F401  (registers the env ids)
from agentexchange import AgentExchangeClient
from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.store.market import MarketStore
from tradeready_core.data import Candles, load_candles
from tradeready_gym.envs import TradingEnv
from tradeready_gym.tracking import TrainingTracker

__all__ = [
    "BTC_1H",
    "END",
    "START",
    "BlackHole",
    "Platform",
    "btc_candles",
    "insert_candles",
    "make_env",
    "run_episodes",
    "trading_env",
]

BTC_1H = str(shared_data.BTC_1H)
START, END = "2025-01-01T00:00:00Z", "2025-01-06T00:00:00Z"


@functools.cache
def btc_candles() -> Candles:
    return load_candles(BTC_1H)


def insert_candles(server: LiveServer, candles: Candles) -> None:
    """Put candles in the platform's market store (what `tradeready data import` does)."""
    engine = make_engine(server.settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            MarketStore(session).insert_candles(candles)
            session.commit()
    finally:
        engine.dispose()


@dataclass
class Platform:
    server: LiveServer
    account: AccountKey
    clients: list[AgentExchangeClient] = field(default_factory=list)

    def client(self, url: str | None = None) -> AgentExchangeClient:
        made = AgentExchangeClient(api_key=self.account.api_key, base_url=url or self.server.url, timeout=30.0)
        self.clients.append(made)
        return made

    def close(self) -> None:
        for made in self.clients:
            made.close()


def make_env(
    client: AgentExchangeClient,
    *,
    label: str = "test_tracking",
    tracker: bool = True,
    env_id: str = "TradeReady-BTC-Continuous-v0",
    close_timeout: float = 10.0,
    tracker_client: AgentExchangeClient | None = None,
    **kwargs: Any,
) -> gym.Env[Any, Any]:
    """A BTC env on the platform's candles (through ``client``), with a TrainingTracker plugged into its hook.

    The tracker reports through ``tracker_client`` (default ``client``), e.g. a platform that is down.
    """
    kwargs.setdefault("start_time", START)
    kwargs.setdefault("end_time", END)
    kwargs.setdefault("lookback_window", 10)
    env = gym.make(env_id, client=client, strategy_label=label, track_training=tracker, **kwargs)
    if tracker:
        trading_env(env).attach_tracker(
            TrainingTracker(
                tracker_client or client, close_timeout=close_timeout, heartbeat_interval=0.2, request_timeout=5.0
            )
        )
    return env


def trading_env(env: gym.Env[Any, Any]) -> TradingEnv:
    """The TradingEnv inside ``env``'s wrappers."""
    base = env.unwrapped
    assert isinstance(base, TradingEnv)
    return base


def tracker_of(env: gym.Env[Any, Any]) -> TrainingTracker:
    tracker = trading_env(env).tracker
    assert isinstance(tracker, TrainingTracker)
    return tracker


def run_episodes(env: gym.Env[Any, Any], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Play ``n`` whole episodes with random actions; the client's view of each (metrics and reward sum)."""
    out = []
    env.action_space.seed(seed)
    for k in range(n):
        env.reset(seed=seed + k)
        done, reward_sum, steps = False, 0.0, 0
        info: dict[str, Any] = {}
        while not done:
            _, reward, terminated, truncated, info = env.step(env.action_space.sample())
            reward_sum += float(reward)
            steps += 1
            done = terminated or truncated
        # An episode cut short by a wrapper (TimeLimit) has no episode_metrics yet: read the engine's.
        metrics = info.get("episode_metrics") or env.unwrapped.episode_result().metrics.as_dict()  # type: ignore[attr-defined]
        out.append({**metrics, "reward_sum": reward_sum, "steps_seen": steps})
    return out


def trailing_mean(values: list[float], window: int) -> list[float]:
    arr = np.asarray(values, dtype=np.float64)
    return [float(arr[max(0, i + 1 - window) : i + 1].mean()) for i in range(len(arr))]


class BlackHole:
    """A TCP server on loopback that accepts connections and never answers (a hung platform)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self._conns.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._conns:
            conn.close()
        self.sock.close()

    def __enter__(self) -> BlackHole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_journals(home: Any) -> Iterator[Any]:
    spool = home / "spool"
    return iter(sorted(spool.glob("run_*.jsonl")) if spool.is_dir() else [])


def worker_env(api_key: str, url: str, label: str, episode_length: int) -> gym.Env[Any, Any]:
    """An env built inside a vectorised worker (picklable by reference: a top-level function).

    The env and its tracker each make (and close) their own client from ``api_key`` and ``url``.
    """
    env = gym.make(
        "TradeReady-BTC-Continuous-v0",
        api_key=api_key,
        base_url=url,
        strategy_label=label,
        start_time=START,
        end_time=END,
        lookback_window=10,
        episode_length=episode_length,
    )
    trading_env(env).attach_tracker(TrainingTracker(heartbeat_interval=0.2, request_timeout=5.0))
    return env
