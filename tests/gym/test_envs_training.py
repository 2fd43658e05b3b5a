"""A short PPO training run on the real BTCUSDT 1h candles (slow, still part of the suite)."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from tests.support.shared_data import MARKET

import tradeready_gym  # noqa: F401  (registers the ids)


class EpisodeMetrics(BaseCallback):
    """Collects ``info["episode_metrics"]`` of every finished episode."""

    def __init__(self) -> None:
        super().__init__()
        self.episodes: list[dict[str, Any]] = []

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            if "episode_metrics" in info:
                self.episodes.append(info["episode_metrics"])
        return True


@pytest.mark.slow
def test_ppo_trains_on_real_btc_candles() -> None:
    torch.set_num_threads(1)
    candles = pd.read_csv(MARKET / "BTCUSDT-1h.csv")
    env = gym.make(
        "TradeReady-BTC-Continuous-v0",
        data=candles,
        start_time="2025-01-01T00:00:00Z",
        end_time="2025-07-01T00:00:00Z",
        lookback_window=50,
        observation_features=["ohlcv", "rsi_14", "macd", "bollinger", "balance", "position"],
        episode_length=500,
        track_training=False,
    )
    model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, n_epochs=2, seed=0, device="cpu")
    callback = EpisodeMetrics()
    model.learn(total_timesteps=3_072, callback=callback)
    assert len(callback.episodes) >= 5
    for metrics in callback.episodes:
        assert metrics["steps"] == 500
        assert all(math.isfinite(v) for v in metrics.values())
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(action.astype(np.float32))
    env.close()
