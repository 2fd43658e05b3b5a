"""NormalizationWrapper on a small test environment."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from numpy.typing import NDArray

from tradeready_core.errors import InvalidParameterError
from tradeready_gym.wrappers import NormalizationWrapper

SHAPE = (2, 3)
LOC = np.array([[100.0, -3.0, 0.5], [0.0, 1e4, -7.0]])
SCALE = np.array([[10.0, 0.1, 2.0], [1.0, 500.0, 0.0]])  # the last dimension is constant


class RandomBoxEnv(gym.Env[NDArray[np.float32], np.int64]):
    """Observations ``LOC + SCALE * normal`` from ``np_random``; every raw observation is kept."""

    def __init__(self, episode_length: int = 25) -> None:
        self.metadata = {"render_modes": []}
        self.observation_space = gym.spaces.Box(-1e6, 1e6, shape=SHAPE, dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.episode_length = episode_length
        self.emitted: list[NDArray[np.float32]] = []
        self._t = 0

    def _obs(self) -> NDArray[np.float32]:
        obs = (LOC + SCALE * self.np_random.standard_normal(SHAPE)).astype(np.float32)
        self.emitted.append(obs.copy())
        return obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        super().reset(seed=seed)
        self._t = 0
        return self._obs(), {}

    def step(self, action: np.int64) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        self._t += 1
        return self._obs(), 0.0, self._t >= self.episode_length, False, {}


def rollout(env: gym.Env[Any, Any], episodes: int, seed: int) -> list[NDArray[np.float32]]:
    out = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        out.append(obs)
        done = False
        while not done:
            obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
            out.append(obs)
            done = terminated or truncated
    return out


def test_statistics_are_the_mean_and_variance_of_the_observations_seen() -> None:
    base = RandomBoxEnv()
    env = NormalizationWrapper(base)
    outputs = rollout(env, episodes=8, seed=0)
    seen = np.array(base.emitted, dtype=np.float64)
    assert env.count == len(seen) == 8 * 26
    np.testing.assert_allclose(env.mean, seen.mean(axis=0), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(env.var, seen.var(axis=0), rtol=1e-9, atol=1e-9)
    # Each output used the statistics of everything seen up to and including it.
    for k in (0, 1, 10, len(seen) - 1):
        prefix = seen[: k + 1]
        expected = np.clip((seen[k] - prefix.mean(axis=0)) / np.sqrt(prefix.var(axis=0) + 1e-8), -5, 5)
        np.testing.assert_allclose(outputs[k], expected.astype(np.float32), rtol=1e-5, atol=1e-5)


def test_output_space_is_the_clip_range() -> None:
    env = NormalizationWrapper(RandomBoxEnv(), clip=2.0)
    assert env.observation_space == gym.spaces.Box(-2.0, 2.0, shape=SHAPE, dtype=np.float32)
    outputs = np.array(rollout(env, episodes=4, seed=1))
    assert outputs.dtype == np.float32
    assert (np.abs(outputs) <= 2.0).all()
    assert (np.abs(outputs) == 2.0).any()  # the first steps' outliers are clipped
    assert (outputs[:, 1, 2] == 0.0).all()  # a constant dimension maps to 0
    assert outputs[0].tolist() == np.zeros(SHAPE).tolist()  # the first observation is its own mean


def test_freeze_stops_the_statistics_and_unfreeze_resumes() -> None:
    base = RandomBoxEnv()
    env = NormalizationWrapper(base)
    rollout(env, episodes=3, seed=0)
    env.freeze()
    assert env.frozen
    before = env.state_dict()
    frozen_outputs = rollout(env, episodes=2, seed=50)
    after = env.state_dict()
    for key in before:
        np.testing.assert_array_equal(after[key], before[key])
    raw = np.array(base.emitted[-len(frozen_outputs) :], dtype=np.float64)
    expected = np.clip((raw - before["mean"]) / np.sqrt(before["var"] + 1e-8), -5, 5).astype(np.float32)
    np.testing.assert_allclose(np.array(frozen_outputs), expected, rtol=1e-6, atol=1e-6)
    # Frozen: the same episode gives the same observations.
    np.testing.assert_array_equal(np.array(rollout(env, episodes=2, seed=50)), np.array(frozen_outputs))

    env.unfreeze()
    assert not env.frozen
    rollout(env, episodes=1, seed=99)
    assert env.count == before["count"] + 26


def test_state_dict_and_save_load_round_trip(tmp_path: Path) -> None:
    trained = NormalizationWrapper(RandomBoxEnv(), clip=3.0)
    rollout(trained, episodes=5, seed=3)
    written = trained.save(tmp_path / "obs_stats")
    assert written == tmp_path / "obs_stats.npz"
    assert written.is_file()

    evaluation = NormalizationWrapper(RandomBoxEnv(), clip=3.0)
    evaluation.load(written)
    evaluation.freeze()
    for key, value in trained.state_dict().items():
        np.testing.assert_array_equal(evaluation.state_dict()[key], value)
    trained.freeze()
    np.testing.assert_array_equal(
        np.array(rollout(evaluation, episodes=2, seed=7)), np.array(rollout(trained, episodes=2, seed=7))
    )

    copy = NormalizationWrapper(RandomBoxEnv())
    copy.load_state_dict(trained.state_dict())
    np.testing.assert_array_equal(copy.mean, trained.mean)
    assert copy.count == trained.count


def test_state_dict_is_a_copy() -> None:
    env = NormalizationWrapper(RandomBoxEnv())
    rollout(env, episodes=1, seed=0)
    state = env.state_dict()
    state["mean"][...] = 123.0
    assert not (env.mean == 123.0).any()


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"mean": np.zeros(SHAPE), "var": np.ones(SHAPE)}, "state is missing ['count']"),
        ({"mean": np.zeros(6), "var": np.ones(SHAPE), "count": 3.0}, "got mean (6,), var (2, 3), count ()"),
        ({"mean": np.zeros(SHAPE), "var": -np.ones(SHAPE), "count": 3.0}, "var >= 0"),
        ({"mean": np.zeros(SHAPE), "var": np.ones(SHAPE), "count": -1.0}, "count must be a finite number >= 0"),
    ],
)
def test_bad_states_are_rejected(state: dict[str, Any], message: str) -> None:
    env = NormalizationWrapper(RandomBoxEnv())
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        env.load_state_dict(state)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"clip": 0.0}, "clip must be a finite number > 0; got 0.0"),
        ({"clip": float("inf")}, "clip must be a finite number > 0; got inf"),
        ({"epsilon": -1e-8}, "epsilon must be a finite number > 0; got -1e-08"),
    ],
)
def test_bad_parameters_are_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        NormalizationWrapper(RandomBoxEnv(), **kwargs)


def test_a_non_box_space_is_rejected() -> None:
    class DiscreteObsEnv(RandomBoxEnv):
        def __init__(self) -> None:
            super().__init__()
            self.observation_space = gym.spaces.Discrete(4)  # type: ignore[assignment]

    with pytest.raises(InvalidParameterError, match="needs a Box observation space; got Discrete"):
        NormalizationWrapper(DiscreteObsEnv())


def test_frozen_wrapper_passes_gymnasium_check_env() -> None:
    env = NormalizationWrapper(RandomBoxEnv(), clip=5.0)
    rollout(env, episodes=4, seed=0)
    env.freeze()
    with warnings.catch_warnings():
        # check_env always notes that a wrapped env is not its unwrapped env; any other warning fails.
        warnings.filterwarnings("ignore", message=r".*is different from the unwrapped version")
        check_env(env, skip_render_check=True)


def test_unfrozen_wrapper_is_not_reset_deterministic_by_design() -> None:
    """Statistics move between two identically seeded episodes, so check_env's determinism check fails."""
    env = NormalizationWrapper(RandomBoxEnv())
    first = rollout(env, episodes=1, seed=0)
    second = rollout(env, episodes=1, seed=0)
    assert not np.array_equal(np.array(first), np.array(second))


def test_constructor_arguments_are_recorded_in_the_spec() -> None:
    env_id = "tests/RandomBox-v0"
    gym.register(env_id, entry_point=lambda **kwargs: RandomBoxEnv(**kwargs), disable_env_checker=True)
    try:
        env = NormalizationWrapper(gym.make(env_id), clip=3.0)
    finally:
        del gym.registry[env_id]  # leave the global registry as it was
    assert env.spec is not None
    assert env.spec.additional_wrappers[-1].name == "NormalizationWrapper"
    assert env.spec.additional_wrappers[-1].kwargs == {"clip": 3.0, "epsilon": 1e-8}
