"""PPO on the multi-asset env ``TradeReady-Portfolio-v0``: target weights for BTC, ETH and SOL.

Shows the portfolio action space (``Box(0, 1, (3,))``: one target weight per asset, divided by
their sum when it exceeds 1, cash is the rest), the per-asset portfolio scalars in the
observation (``position`` and ``unrealized_pnl`` give one value per asset), a composite reward
(Sharpe ratio with a drawdown penalty), and reading the final holdings from ``info``.

Run it against a platform with BTCUSDT, ETHUSDT and SOLUSDT 1h candles::

    tradeready data import BTCUSDT-1h.csv ETHUSDT-1h.csv SOLUSDT-1h.csv
    TRADEREADY_API_KEY=ak_live_... python examples/portfolio.py

Environment variables: ``TRADEREADY_API_KEY`` (required), ``TRADEREADY_BASE_URL``,
``TOTAL_TIMESTEPS`` (default 50 000), ``EPISODE_LENGTH`` (default 720 steps).
"""

import os

import gymnasium as gym
import numpy as np
from stable_baselines3 import PPO

import tradeready_gym  # noqa: F401  (registers the environments)
from tradeready_gym.rewards import CompositeReward, DrawdownPenaltyReward, SharpeReward
from tradeready_gym.tracking import TrainingTrackerCallback
from tradeready_gym.wrappers import NormalizationWrapper

TOTAL_TIMESTEPS = int(os.environ.get("TOTAL_TIMESTEPS", 50_000))
EPISODE_LENGTH = int(os.environ.get("EPISODE_LENGTH", 720))

env = gym.make(
    "TradeReady-Portfolio-v0",
    api_key=os.environ["TRADEREADY_API_KEY"],
    symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT"],
    timeframe="1h",
    lookback_window=24,
    observation_features=["ohlcv", "rsi_14", "balance", "position", "unrealized_pnl"],
    reward_function=CompositeReward([(SharpeReward(window=48), 0.8), (DrawdownPenaltyReward(coef=2.0), 0.2)]),
    start_time="2024-07-01T00:00:00Z",
    end_time="2025-07-01T00:00:00Z",
    episode_length=EPISODE_LENGTH,
    strategy_label="ppo_portfolio_v1",
)
env = NormalizationWrapper(env)

model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, learning_rate=3e-4, verbose=0, seed=0)
model.learn(total_timesteps=TOTAL_TIMESTEPS, callback=TrainingTrackerCallback())

# One deterministic episode with the trained policy: where does it put the money?
obs, info = env.reset(seed=123)
done = False
while not done:
    action, _ = model.predict(obs, deterministic=True)
    obs, reward, terminated, truncated, info = env.step(action)
    done = terminated or truncated
holdings = np.round(np.asarray(info["position"]), 6)  # quantities held, in units of each asset
print(f"final holdings (BTC, ETH, SOL): {holdings}  cash: {info['cash']:.2f} USDT  equity: {info['equity']:.2f} USDT")
print(f"episode ROI: {info['episode_metrics']['roi_pct']:+.2f}%  trades: {info['episode_metrics']['total_trades']}")
env.close()  # marks the training run complete
