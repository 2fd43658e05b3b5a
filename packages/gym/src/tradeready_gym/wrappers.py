"""Observation wrappers for the TradeReady environments.

Usage::

    from tradeready_gym.wrappers import NormalizationWrapper

    env = NormalizationWrapper(gym.make("TradeReady-BTC-v0"), clip=5.0)
    model = PPO("MlpPolicy", env).learn(100_000)
    env.save("obs_stats.npz")                      # keep the statistics next to the model

    eval_env = NormalizationWrapper(gym.make("TradeReady-BTC-v0"))
    eval_env.load("obs_stats.npz")
    eval_env.freeze()                              # evaluation must not move the statistics
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import gymnasium as gym
import numpy as np
from gymnasium.core import ActType
from gymnasium.wrappers.utils import RunningMeanStd
from numpy.typing import NDArray

from tradeready_core.errors import InvalidParameterError

__all__ = ["NormalizationWrapper"]

_STATE_KEYS: Final = ("mean", "var", "count")


class NormalizationWrapper(
    gym.ObservationWrapper[NDArray[np.float32], ActType, NDArray[Any]],
    gym.utils.RecordConstructorArgs,
):
    """Standardises each observation dimension with running statistics, then clips.

    ``obs_out = clip((obs - mean) / sqrt(var + epsilon), -clip, clip)`` as float32, where ``mean``
    and ``var`` are the per-dimension mean and population variance of every observation seen so
    far (the one being returned included), updated with the parallel (Chan et al.) form of
    Welford's algorithm by :class:`gymnasium.wrappers.utils.RunningMeanStd` in float64. The new
    observation space is ``Box(-clip, clip)``: the default ``clip=5.0`` keeps values within five
    running standard deviations, which leaves ordinary observations untouched and only bounds
    outliers (the first observation is always 0, as it equals the mean).

    :meth:`freeze` stops updating the statistics (for evaluation: the same observation then
    always gives the same output); :meth:`unfreeze` resumes. :meth:`state_dict` /
    :meth:`load_state_dict` and :meth:`save` / :meth:`load` (a ``.npz`` file) move the statistics
    between environments and keep them with a trained model.

    Args:
        env: an environment whose observation space is a :class:`gymnasium.spaces.Box`.
        clip: bound of the output, > 0, in running standard deviations.
        epsilon: added to the variance before the square root, > 0 (a constant dimension maps to 0).
    """

    def __init__(self, env: gym.Env[NDArray[Any], ActType], clip: float = 5.0, epsilon: float = 1e-8) -> None:
        for name, value in (("clip", clip), ("epsilon", epsilon)):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (math.isfinite(value) and value > 0)
            ):
                raise InvalidParameterError(f"{name} must be a finite number > 0; got {value!r}")
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box):
            raise InvalidParameterError(f"NormalizationWrapper needs a Box observation space; got {space!r}")
        gym.utils.RecordConstructorArgs.__init__(self, clip=clip, epsilon=epsilon)
        gym.ObservationWrapper.__init__(self, env)
        self.clip = float(clip)
        self.epsilon = float(epsilon)
        self.observation_space = gym.spaces.Box(-self.clip, self.clip, shape=space.shape, dtype=np.float32)
        # count starts at 0 (not gymnasium's default prior of 1e-4), so the statistics are exactly
        # the mean and variance of the observations seen.
        self._rms = RunningMeanStd(epsilon=0.0, shape=space.shape, dtype=np.float64)  # type: ignore[no-untyped-call]
        self._zero_var = np.zeros(space.shape, dtype=np.float64)
        self._frozen = False
        self._scale: NDArray[np.float64] | None = None

    @property
    def frozen(self) -> bool:
        """Whether the statistics are frozen (not updated by new observations)."""
        return self._frozen

    @property
    def mean(self) -> NDArray[np.float64]:
        """Running mean per dimension."""
        mean: NDArray[np.float64] = self._rms.mean
        return mean

    @property
    def var(self) -> NDArray[np.float64]:
        """Running population variance per dimension."""
        var: NDArray[np.float64] = self._rms.var
        return var

    @property
    def count(self) -> float:
        """Number of observations the statistics were computed from."""
        return float(self._rms.count)

    def freeze(self) -> None:
        """Stop updating the statistics (evaluation mode)."""
        self._frozen = True
        self._scale = None

    def unfreeze(self) -> None:
        """Resume updating the statistics with every observation (training mode)."""
        self._frozen = False
        self._scale = None

    def observation(self, observation: NDArray[Any]) -> NDArray[np.float32]:
        """Update the statistics (unless frozen) and return the normalised, clipped observation."""
        obs = np.asarray(observation, dtype=np.float64)
        rms = self._rms
        if self._frozen:
            scale = self._scale
            if scale is None:
                scale = self._scale = 1.0 / np.sqrt(rms.var + self.epsilon)
        else:
            rms.update_from_moments(obs, self._zero_var, 1)  # type: ignore[no-untyped-call]
            scale = 1.0 / np.sqrt(rms.var + self.epsilon)
        normalised = (obs - rms.mean) * scale
        np.clip(normalised, -self.clip, self.clip, out=normalised)
        return normalised.astype(np.float32)

    def state_dict(self) -> dict[str, NDArray[np.float64]]:
        """A copy of the statistics: ``{"mean": array, "var": array, "count": 0-d array}``."""
        return {
            "mean": np.array(self._rms.mean, dtype=np.float64),
            "var": np.array(self._rms.var, dtype=np.float64),
            "count": np.array(self._rms.count, dtype=np.float64),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replace the statistics with ``state`` (as returned by :meth:`state_dict`); frozen stays as is."""
        missing = [key for key in _STATE_KEYS if key not in state]
        if missing:
            raise InvalidParameterError(f"state is missing {missing}; expected keys {list(_STATE_KEYS)}")
        shape = self.observation_space.shape
        mean = np.array(state["mean"], dtype=np.float64)
        var = np.array(state["var"], dtype=np.float64)
        count = np.array(state["count"], dtype=np.float64)
        if mean.shape != shape or var.shape != shape or count.shape != ():
            raise InvalidParameterError(
                f"state shapes must be mean {shape}, var {shape} and a scalar count; "
                f"got mean {mean.shape}, var {var.shape}, count {count.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(var).all() and (var >= 0).all()):
            raise InvalidParameterError("state mean and var must be finite and var >= 0")
        if not (math.isfinite(float(count)) and float(count) >= 0):
            raise InvalidParameterError(f"state count must be a finite number >= 0; got {float(count)!r}")
        self._rms.mean, self._rms.var, self._rms.count = mean, var, float(count)
        self._scale = None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the statistics to a ``.npz`` file (suffix added if missing); returns the path written."""
        target = Path(path)
        if target.suffix != ".npz":
            target = target.with_name(target.name + ".npz")
        state = self.state_dict()
        np.savez(target, mean=state["mean"], var=state["var"], count=state["count"])
        return target

    def load(self, path: str | os.PathLike[str]) -> None:
        """Read statistics written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as data:
            self.load_state_dict({key: data[key] for key in data.files})
