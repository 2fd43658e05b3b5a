"""The "Full Training Loop Example" of the training-tracking guide, as written.

Only two things differ from the guide: the API key is read from ``TRADEREADY_API_KEY`` (the base
URL from ``TRADEREADY_BASE_URL`` as usual, default ``http://localhost:8000``), and
``TOTAL_TIMESTEPS`` may be overridden from the environment (the test suite trains for less).

Run it against a platform that has BTCUSDT 1h candles for the first half of 2025::

    tradeready serve &                          # the platform
    tradeready data import BTCUSDT-1h.csv       # or: tradeready data fetch BTCUSDT 1h ...
    TRADEREADY_API_KEY=ak_live_... python examples/full_training_loop.py

then open /training in the dashboard.
"""

# ruff: noqa: I001  (the imports stay in the guide's order)

import os

import gymnasium as gym
import tradeready_gym  # noqa: F401  (registers the environments)
from tradeready_gym.rewards import SharpeReward
from tradeready_gym.wrappers import NormalizationWrapper
from stable_baselines3 import PPO

# Create environment with tracking
env = gym.make(
    "TradeReady-BTC-Continuous-v0",
    api_key=os.environ["TRADEREADY_API_KEY"],
    starting_balance=10000,
    timeframe="1h",
    lookback_window=50,
    observation_features=["ohlcv", "rsi_14", "macd", "bollinger", "balance", "position"],
    reward_function=SharpeReward(window=50),
    start_time="2025-01-01T00:00:00Z",
    end_time="2025-07-01T00:00:00Z",
    track_training=True,
    strategy_label="ppo_sharpe_v1",
)

# Normalize observations
env = NormalizationWrapper(env)

# Train with PPO
model = PPO(
    "MlpPolicy",
    env,
    verbose=1,
    learning_rate=3e-4,
    n_steps=2048,
    batch_size=64,
    n_epochs=10,
)
model.learn(total_timesteps=int(os.environ.get("TOTAL_TIMESTEPS", 100_000)))
model.save("ppo_btc_sharpe")

# env.close() marks the training run complete in the dashboard
env.close()
