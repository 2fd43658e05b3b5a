"""Vectorised training reports ONE run with uniquely numbered episodes, in-process and across processes."""

from __future__ import annotations

import functools
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv
from tests.gym.tracking.helpers import Platform, worker_env

SAME_STEP = gym.vector.AutoresetMode.SAME_STEP  # a finished sub-env resets inside the step: steps = env steps


def _check_one_run(platform: Platform, label: str, ended: int, steps: int, workers: int) -> None:
    """One run; episodes numbered 1..N without gaps; every env step of every worker in exactly one episode."""
    runs = platform.client().get_training_runs(strategy_label=label)
    assert len(runs) == 1, [r["run_id"] for r in runs]
    run = platform.client().get_training_run(runs[0]["run_id"])
    assert run["status"] == "completed"
    numbers = [e["episode"] for e in run["episodes"]]
    assert numbers == list(range(1, len(numbers) + 1))
    assert ended <= len(numbers) <= ended + workers  # + the episodes still running at close
    assert sum(e["steps"] for e in run["episodes"]) == steps * workers
    assert len({e["session_id"] for e in run["episodes"]}) == len(numbers)
    assert run["final_stats"]["workers"] == workers


def _fns(platform: Platform, label: str, n: int) -> list[Any]:
    return [functools.partial(worker_env, platform.account.api_key, platform.server.url, label, 7) for _ in range(n)]


def _run_sb3(vec: Any, steps: int) -> int:
    vec.reset()
    ended = 0
    for _ in range(steps):
        actions = np.stack([vec.action_space.sample() for _ in range(vec.num_envs)])
        _, _, dones, _ = vec.step(actions)
        ended += int(np.sum(dones))
    vec.close()
    return ended


def _run_gymnasium(vec: gym.vector.VectorEnv[Any, Any, Any], steps: int) -> int:
    vec.reset(seed=0)
    ended = 0
    for _ in range(steps):
        _, _, terminated, truncated, _ = vec.step(vec.action_space.sample())
        ended += int(np.sum(terminated | truncated))
    vec.close()
    return ended


def test_dummy_vec_env_is_one_run(platform: Platform) -> None:
    ended = _run_sb3(DummyVecEnv(_fns(platform, "vec_dummy", 3)), 40)
    assert ended >= 15
    _check_one_run(platform, "vec_dummy", ended, 40, 3)


def test_sync_vector_env_is_one_run(platform: Platform) -> None:
    ended = _run_gymnasium(gym.vector.SyncVectorEnv(_fns(platform, "vec_sync", 2), autoreset_mode=SAME_STEP), 30)
    assert ended >= 6
    _check_one_run(platform, "vec_sync", ended, 30, 2)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["SubprocVecEnv", "AsyncVectorEnv"])
def test_worker_processes_are_one_run(platform: Platform, kind: str) -> None:
    label = f"vec_{kind}"
    fns = _fns(platform, label, 2)
    if kind == "SubprocVecEnv":
        ended = _run_sb3(SubprocVecEnv(fns, start_method="spawn"), 30)
    else:
        ended = _run_gymnasium(gym.vector.AsyncVectorEnv(fns, context="spawn", autoreset_mode=SAME_STEP), 30)
    assert ended >= 6
    _check_one_run(platform, label, ended, 30, 2)
