"""The Stable-Baselines3 callback adds total_timesteps, the algorithm, its hyperparameters and losses."""

from __future__ import annotations

import subprocess
import sys

from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv
from tests.gym.tracking.helpers import Platform, make_env, tracker_of
from tests.support.shared_data import BTC_1H

from tradeready_gym.tracking.sb3 import TrainingTrackerCallback


def test_callback_adds_algorithm_progress_and_losses(platform: Platform) -> None:
    client = platform.client()
    env = make_env(client, label="ppo_cb", episode_length=16)
    vec = DummyVecEnv([lambda: env])
    model = PPO("MlpPolicy", vec, n_steps=32, batch_size=16, n_epochs=1, learning_rate=3e-4, seed=0, device="cpu")
    model.learn(total_timesteps=96, callback=TrainingTrackerCallback(interval=0.0))
    vec.close()

    run = client.get_training_run(tracker_of(env).run_id or "")
    config = run["config"]
    assert config["algorithm"] == "PPO"
    hyper = config["hyperparameters"]
    assert (hyper["n_steps"], hyper["batch_size"], hyper["n_epochs"], hyper["learning_rate"]) == (32, 16, 1, 3e-4)
    assert hyper["policy"] == "ActorCriticPolicy" and hyper["n_envs"] == 1
    assert run["total_timesteps"] == 96 and run["timesteps_done"] == 96
    assert run["progress_pct"] == 100.0
    losses = run["train_metrics"] or {}
    assert {"train/loss", "train/value_loss", "train/policy_gradient_loss"} <= set(losses)
    assert run["total_episodes"] == 96 // 16 and run["status"] == "completed"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_importing_the_gym_never_imports_torch() -> None:
    done = _run(
        "import sys, gymnasium, tradeready_gym, tradeready_gym.tracking\n"
        f"gymnasium.make('TradeReady-BTC-v0', data={str(BTC_1H)!r}).close()\n"
        "assert 'torch' not in sys.modules and 'stable_baselines3' not in sys.modules, 'heavy import'\n"
    )
    assert done.returncode == 0, done.stderr


def test_callback_is_exported_lazily() -> None:
    done = _run(
        "from tradeready_gym.tracking import TrainingTrackerCallback as a\n"
        "from tradeready_gym import TrainingTrackerCallback as b\n"
        "assert a is b and a.__module__ == 'tradeready_gym.tracking.sb3'\n"
    )
    assert done.returncode == 0, done.stderr
