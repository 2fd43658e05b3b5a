"""Vectorised training with ``SubprocVecEnv``: N worker processes, ONE tracked training run.

Shows how to train on several environments in parallel with Stable-Baselines3. Each worker
process builds its own env (and its own tracker); the trackers of one training session find each
other and report a single run whose episode numbers are unique across workers, so the dashboard
shows one learning curve, not N. Nothing to configure: the workers' tracker sees that they were
started by this script. (Set ``TRADEREADY_TRACKING_SESSION`` to group envs started some other
way.)

Each worker trains on different random 30-day windows because ``SubprocVecEnv`` seeds worker
``i`` with ``seed + i``.

Run it against a platform with BTCUSDT 1h candles::

    TRADEREADY_API_KEY=ak_live_... python examples/vectorized_training.py

Environment variables: ``TRADEREADY_API_KEY`` (required), ``TRADEREADY_BASE_URL``,
``N_ENVS`` (default 4), ``TOTAL_TIMESTEPS`` (default 100 000), ``N_STEPS`` (PPO rollout length
per worker, default 512), ``EPISODE_LENGTH`` (default 720 steps).
"""

import os

import gymnasium as gym
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import SubprocVecEnv

import tradeready_gym  # noqa: F401  (registers the environments)
from tradeready_gym.rewards import SharpeReward
from tradeready_gym.tracking import TrainingTrackerCallback
from tradeready_gym.wrappers import NormalizationWrapper

N_ENVS = int(os.environ.get("N_ENVS", 4))
TOTAL_TIMESTEPS = int(os.environ.get("TOTAL_TIMESTEPS", 100_000))
N_STEPS = int(os.environ.get("N_STEPS", 512))
EPISODE_LENGTH = int(os.environ.get("EPISODE_LENGTH", 720))


def make_env() -> gym.Env:
    """Runs in each worker process."""
    env = gym.make(
        "TradeReady-BTC-Continuous-v0",
        api_key=os.environ["TRADEREADY_API_KEY"],
        timeframe="1h",
        lookback_window=24,
        reward_function=SharpeReward(window=48),
        start_time="2024-01-01T00:00:00Z",
        end_time="2025-07-01T00:00:00Z",
        episode_length=EPISODE_LENGTH,
        strategy_label="ppo_vec_btc",
    )
    return NormalizationWrapper(env)


if __name__ == "__main__":  # required: the workers import this module
    vec_env = make_vec_env(make_env, n_envs=N_ENVS, seed=0, vec_env_cls=SubprocVecEnv)
    model = PPO("MlpPolicy", vec_env, n_steps=N_STEPS, batch_size=64, verbose=0, seed=0)
    model.learn(total_timesteps=TOTAL_TIMESTEPS, callback=TrainingTrackerCallback())
    model.save("ppo_vec_btc")
    vec_env.close()  # closes every worker's env; the last one to close completes the run
    print(f"trained on {N_ENVS} workers; saved ppo_vec_btc.zip")
