"""A custom reward: subclass ``tradeready_gym.rewards.RewardFunction`` and train PPO with it.

Shows the reward contract: store every ``__init__`` parameter on an attribute of the same name
(``config()`` reports them when the run is registered, so runs with different rewards can be
compared), keep per-episode state in ``reset(starting_equity)``, and return a finite float from
``__call__(prev_equity, equity, state)``, where ``state`` exposes ``step_fees``, ``step_fills``,
``position_fraction``, ``equity`` and ``starting_balance``.

The reward here pays the log return of equity, minus a penalty on the fees paid (discouraging
churn) and a small penalty for each step spent more than ``max_exposure`` invested.

Run it against a platform with BTCUSDT 1h candles::

    TRADEREADY_API_KEY=ak_live_... python examples/custom_reward.py

Environment variables: ``TRADEREADY_API_KEY`` (required), ``TRADEREADY_BASE_URL``,
``TOTAL_TIMESTEPS`` (default 50 000), ``EPISODE_LENGTH`` (default 720 steps).
"""

import math
import os

import gymnasium as gym
from stable_baselines3 import PPO

import tradeready_gym  # noqa: F401  (registers the environments)
from tradeready_gym.rewards import RewardFunction, StepState

TOTAL_TIMESTEPS = int(os.environ.get("TOTAL_TIMESTEPS", 50_000))
EPISODE_LENGTH = int(os.environ.get("EPISODE_LENGTH", 720))


class FeeAwareLogReturn(RewardFunction):
    """``log(equity / prev_equity) - fee_penalty * fees / prev_equity - exposure_penalty * excess``.

    ``excess`` is how far the position is above ``max_exposure`` (as a fraction of equity).
    """

    def __init__(self, fee_penalty: float = 2.0, max_exposure: float = 0.8, exposure_penalty: float = 1e-4) -> None:
        self.fee_penalty = fee_penalty
        self.max_exposure = max_exposure
        self.exposure_penalty = exposure_penalty
        self.fees_paid = 0.0

    def reset(self, starting_equity: float) -> None:
        super().reset(starting_equity)  # validates starting_equity
        self.fees_paid = 0.0

    def __call__(self, prev_equity: float, equity: float, state: StepState) -> float:
        if prev_equity <= 0.0 or equity <= 0.0:  # bankrupt: nothing more to earn
            return 0.0
        self.fees_paid += state.step_fees
        excess = max(0.0, abs(state.position_fraction) - self.max_exposure)
        return (
            math.log(equity / prev_equity)
            - self.fee_penalty * state.step_fees / prev_equity
            - self.exposure_penalty * excess
        )


reward = FeeAwareLogReturn(fee_penalty=2.0, max_exposure=0.8)
print("reward registered with the run:", reward.config())

env = gym.make(
    "TradeReady-BTC-Continuous-v0",
    api_key=os.environ["TRADEREADY_API_KEY"],
    timeframe="1h",
    lookback_window=24,
    reward_function=reward,  # each env works on its own copy
    start_time="2025-01-01T00:00:00Z",
    end_time="2025-07-01T00:00:00Z",
    episode_length=EPISODE_LENGTH,
    strategy_label="ppo_fee_aware",
)

model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, verbose=0, seed=0)
model.learn(total_timesteps=TOTAL_TIMESTEPS)
env.close()  # marks the training run complete
