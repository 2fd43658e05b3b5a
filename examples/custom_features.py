"""A custom observation: choose the feature set, then add a feature of your own with a wrapper.

Shows the two ways to shape what the agent sees:

1. ``observation_features``: any of the built-in candle features (``ohlcv``, ``rsi_14``,
   ``macd``, ``bollinger``, ``atr``, ``adx``, ``returns``, ``volume``; TA-Lib, computed once per
   dataset, no look-ahead) and portfolio scalars (``balance``, ``position``,
   ``unrealized_pnl``), over a ``lookback_window`` of candles. ``FeaturePipeline`` tells which
   columns a selection produces.
2. A ``gymnasium.Wrapper`` that appends your own values: here the hour of day and the day of the
   week of the candle just closed (from ``info["timestamp"]``), as sine/cosine pairs.

Then it trains A2C for a moment, tracked under ``a2c_custom_features``.

Run it against a platform with SOLUSDT 1h candles::

    tradeready data import SOLUSDT-1h.csv
    TRADEREADY_API_KEY=ak_live_... python examples/custom_features.py

Environment variables: ``TRADEREADY_API_KEY`` (required), ``TRADEREADY_BASE_URL``,
``TOTAL_TIMESTEPS`` (default 50 000), ``EPISODE_LENGTH`` (default 720 steps).
"""

import math
import os
from datetime import UTC, datetime
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3 import A2C

import tradeready_gym  # noqa: F401  (registers the environments)
from tradeready_gym.features import FeaturePipeline

TOTAL_TIMESTEPS = int(os.environ.get("TOTAL_TIMESTEPS", 50_000))
EPISODE_LENGTH = int(os.environ.get("EPISODE_LENGTH", 720))
FEATURES = ["returns", "atr", "adx", "volume", "bollinger", "balance", "position", "unrealized_pnl"]
LOOKBACK = 12


class CalendarFeatures(gym.Wrapper):
    """Appends sin/cos of the hour of day and of the day of week of the last closed candle."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        box = env.observation_space
        assert isinstance(box, gym.spaces.Box)
        self.observation_space = gym.spaces.Box(
            np.append(box.low, [-1.0] * 4).astype(np.float32),
            np.append(box.high, [1.0] * 4).astype(np.float32),
            dtype=np.float32,
        )

    @staticmethod
    def _calendar(timestamp_ms: int) -> list[float]:
        when = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
        hour, day = 2 * math.pi * when.hour / 24, 2 * math.pi * when.weekday() / 7
        return [math.sin(hour), math.cos(hour), math.sin(day), math.cos(day)]

    def _extend(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        return np.append(obs, self._calendar(info["timestamp"])).astype(np.float32)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        return self._extend(obs, info), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._extend(obs, info), float(reward), terminated, truncated, info


pipeline = FeaturePipeline(FEATURES)
print("candle columns per row:", pipeline.columns)
print("portfolio scalars:", pipeline.portfolio_features)

env = gym.make(
    "TradeReady-SOL-Continuous-v0",
    api_key=os.environ["TRADEREADY_API_KEY"],
    timeframe="1h",
    lookback_window=LOOKBACK,
    observation_features=FEATURES,
    start_time="2025-01-01T00:00:00Z",
    end_time="2025-07-01T00:00:00Z",
    episode_length=EPISODE_LENGTH,
    strategy_label="a2c_custom_features",
)
env = CalendarFeatures(env)
print("observation size:", env.observation_space.shape[0], "=", LOOKBACK, "x", len(pipeline.columns), "+ scalars + 4")

model = A2C("MlpPolicy", env, n_steps=16, verbose=0, seed=0)
model.learn(total_timesteps=TOTAL_TIMESTEPS)
env.close()  # marks the training run complete
