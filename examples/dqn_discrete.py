"""DQN (Stable-Baselines3) on the discrete env ``TradeReady-BTC-v0``: hold / buy / sell.

Shows a value-based agent on ``Discrete(3)`` actions, training on random 30-day windows
(``episode_length``) of the first half of 2025, with the gym's ``TrainingTrackerCallback`` so the
run's registration also carries the algorithm, its hyperparameters and ``total_timesteps`` (the
dashboard's progress bar then shows overall progress). The trained model is saved to
``dqn_btc.zip``; ``examples/evaluate_saved_model.py`` evaluates it on a held-out period.

Run it against a platform with BTCUSDT 1h candles::

    TRADEREADY_API_KEY=ak_live_... python examples/dqn_discrete.py

Environment variables: ``TRADEREADY_API_KEY`` (required), ``TRADEREADY_BASE_URL``,
``TOTAL_TIMESTEPS`` (default 50 000), ``EPISODE_LENGTH`` (default 720 steps).
"""

import os

import gymnasium as gym
from stable_baselines3 import DQN

import tradeready_gym  # noqa: F401  (registers the environments)
from tradeready_gym.rewards import LogReturnReward
from tradeready_gym.tracking import TrainingTrackerCallback
from tradeready_gym.wrappers import NormalizationWrapper

TOTAL_TIMESTEPS = int(os.environ.get("TOTAL_TIMESTEPS", 50_000))
EPISODE_LENGTH = int(os.environ.get("EPISODE_LENGTH", 720))

env = gym.make(
    "TradeReady-BTC-v0",
    api_key=os.environ["TRADEREADY_API_KEY"],
    timeframe="1h",
    lookback_window=24,
    reward_function=LogReturnReward(),
    start_time="2025-01-01T00:00:00Z",
    end_time="2025-07-01T00:00:00Z",
    episode_length=EPISODE_LENGTH,
    position_size=1.0,  # "buy" targets 100 % of equity in BTC, "sell" goes flat
    strategy_label="dqn_btc_v1",
)
env = NormalizationWrapper(env)

model = DQN(
    "MlpPolicy",
    env,
    learning_rate=1e-4,
    buffer_size=50_000,
    learning_starts=min(1_000, TOTAL_TIMESTEPS // 2),
    batch_size=64,
    exploration_fraction=0.3,
    verbose=0,
    seed=0,
)
model.learn(total_timesteps=TOTAL_TIMESTEPS, callback=TrainingTrackerCallback())
model.save("dqn_btc")
env.save("dqn_btc_obs_stats.npz")  # the observation statistics belong with the model
env.close()  # marks the training run complete
print("saved dqn_btc.zip and dqn_btc_obs_stats.npz")
