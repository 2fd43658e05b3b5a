"""SAC (Stable-Baselines3) on the continuous env ``TradeReady-ETH-Continuous-v0``.

Shows an off-policy agent choosing the target fraction of equity held in ETH (``Box(-1, 1)``;
negative targets are clipped to flat because ``allow_short`` is off), trained on a Sortino reward
that penalises only downside volatility, with a 5 bps slippage and 0.1 % fee per trade. The
run is tracked under the label ``sac_eth_sortino``.

Run it against a platform with ETHUSDT 1h candles::

    tradeready data import ETHUSDT-1h.csv
    TRADEREADY_API_KEY=ak_live_... python examples/sac_continuous.py

Environment variables: ``TRADEREADY_API_KEY`` (required), ``TRADEREADY_BASE_URL``,
``TOTAL_TIMESTEPS`` (default 30 000), ``EPISODE_LENGTH`` (default 720 steps).
"""

import os

import gymnasium as gym
from stable_baselines3 import SAC

import tradeready_gym  # noqa: F401  (registers the environments)
from tradeready_gym.rewards import SortinoReward
from tradeready_gym.tracking import TrainingTrackerCallback
from tradeready_gym.wrappers import NormalizationWrapper

TOTAL_TIMESTEPS = int(os.environ.get("TOTAL_TIMESTEPS", 30_000))
EPISODE_LENGTH = int(os.environ.get("EPISODE_LENGTH", 720))

env = gym.make(
    "TradeReady-ETH-Continuous-v0",
    api_key=os.environ["TRADEREADY_API_KEY"],
    timeframe="1h",
    lookback_window=24,
    observation_features=["ohlcv", "rsi_14", "atr", "balance", "position"],
    reward_function=SortinoReward(window=48),
    start_time="2024-01-01T00:00:00Z",
    end_time="2025-01-01T00:00:00Z",
    episode_length=EPISODE_LENGTH,
    fee_rate=0.001,
    slippage_bps=5.0,
    strategy_label="sac_eth_sortino",
)
env = NormalizationWrapper(env)

model = SAC(
    "MlpPolicy",
    env,
    learning_rate=3e-4,
    buffer_size=100_000,
    learning_starts=min(1_000, TOTAL_TIMESTEPS // 2),
    batch_size=128,
    train_freq=4,
    verbose=0,
    seed=0,
)
model.learn(total_timesteps=TOTAL_TIMESTEPS, callback=TrainingTrackerCallback())
model.save("sac_eth")
env.close()  # marks the training run complete
print("saved sac_eth.zip")
