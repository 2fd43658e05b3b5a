"""``execution="remote"`` without a platform: the errors a user meets first (the platform-backed
behaviour, bit-identical to local execution, is proven in ``tests/contract/test_remote_execution.py``).
"""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
from tests.support.shared_data import MARKET

from agentexchange import AgentExchangeClient
from tradeready_core.data import Candles, MarketData, load_candles
from tradeready_core.engine import EngineConfig
from tradeready_core.errors import EpisodeFinishedError, InvalidParameterError
from tradeready_gym.envs import ContinuousTradingEnv, DiscreteTradingEnv, RemoteExecutionError, RemoteSimulator
from tradeready_gym.errors import DataSourceError, TradeReadyGymError


@pytest.fixture(scope="module")
def btc() -> Candles:
    return load_candles(MARKET / "BTCUSDT-1h.csv", symbol="BTCUSDT").slice("2024-01-01", "2024-01-15")


@pytest.fixture
def dead_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_unreachable_platform_is_one_clear_error_at_reset(btc: Candles, dead_url: str) -> None:
    env = DiscreteTradingEnv(
        "BTCUSDT", data=btc, execution="remote", api_key="ak_live_test", base_url=dead_url, track_training=False
    )  # construction needs no network
    with pytest.raises(RemoteExecutionError) as caught:
        env.reset(seed=0)
    message = str(caught.value)
    assert f"{dead_url}/api/v1 could not be reached" in message
    assert "`tradeready serve`" in message and "execution='local'" in message
    assert isinstance(caught.value, TradeReadyGymError)
    env.close()  # nothing to cancel, the owned client is closed; twice is fine
    env.close()


def test_unreachable_platform_without_data_names_the_url_at_reset(dead_url: str, tmp_path: Path) -> None:
    env = DiscreteTradingEnv(
        "BTCUSDT", execution="remote", api_key="ak_live_test", base_url=dead_url, cache_dir=tmp_path,
        track_training=False,
    )  # fmt: skip
    with pytest.raises(DataSourceError, match=rf"{dead_url}/api/v1 could not be reached.*`tradeready serve`"):
        env.reset()
    env.close()


def test_remote_needs_an_api_key_at_construction(btc: Candles, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRADEREADY_API_KEY", raising=False)
    with pytest.raises(InvalidParameterError, match=r"needs an API key: pass api_key=.*got none"):
        DiscreteTradingEnv("BTCUSDT", data=btc, execution="remote", track_training=False)
    with AgentExchangeClient(api_key=None) as keyless, pytest.raises(InvalidParameterError, match="needs an API key"):
        DiscreteTradingEnv("BTCUSDT", data=btc, execution="remote", client=keyless, track_training=False)
    monkeypatch.setenv("TRADEREADY_API_KEY", "ak_live_from_env")
    DiscreteTradingEnv("BTCUSDT", data=btc, execution="remote", track_training=False).close()


def test_remote_accepts_every_observation_feature(btc: Candles) -> None:
    env = ContinuousTradingEnv(
        "BTCUSDT", data=btc, execution="remote", api_key="ak_live_test", track_training=False,
        observation_features=("ohlcv", "position", "unrealized_pnl", "balance"),
    )  # fmt: skip
    env.close()  # nothing was sent: no session was created


def test_remote_simulator_checks_its_arguments_before_any_request(btc: Candles, dead_url: str) -> None:
    sim = RemoteSimulator(MarketData.from_candles([btc]), EngineConfig(), "1h", api_key="ak_live_x", base_url=dead_url)
    assert (sim.t, sim.equity, sim.cash, sim.positions, sim.done, sim.session_id) == (0, 10_000.0, 10_000.0, [0.0],
                                                                                      False, None)  # fmt: skip
    assert sim.equity_curve().tolist() == [10_000.0] and sim.unrealized_pnl(0) == 0.0
    with pytest.raises(InvalidParameterError, match=r"need 0 <= start < end <= 335 \(integers\); got start=5, end=5"):
        sim.reset(5, 5)
    with pytest.raises(InvalidParameterError, match="targets must have 1 values; got 2"):
        sim.step([0.5, 0.5])
    with pytest.raises(EpisodeFinishedError, match="call reset"):
        sim.step1(np.nan)
    sim.close()
