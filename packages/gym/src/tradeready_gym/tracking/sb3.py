"""Stable-Baselines3 callback: adds the algorithm, its hyperparameters, ``total_timesteps`` and losses.

Usage::

    from tradeready_gym.tracking.sb3 import TrainingTrackerCallback   # or: from tradeready_gym import ...

    model = PPO("MlpPolicy", env)
    model.learn(total_timesteps=100_000, callback=TrainingTrackerCallback())

The callback never talks to the network and never touches the env: it publishes the trainer's
context (algorithm name, hyperparameters, ``total_timesteps``, timesteps done, and the latest
``train/*`` values of SB3's logger, read at the end of each rollout) through a small file of the
training session (:func:`tradeready_gym.tracking.tracker.write_context`, at most every
``interval`` seconds). The trackers of that session, in this process or in ``SubprocVecEnv``
workers, add the algorithm and hyperparameters to the run's registration once and send the rest
with their heartbeats, so the dashboard's progress bar shows overall progress.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from tradeready_gym.tracking.group import session_token
from tradeready_gym.tracking.spool import default_spool_dir
from tradeready_gym.tracking.tracker import write_context

__all__ = ["TrainingTrackerCallback", "hyperparameters"]

logger = logging.getLogger("tradeready_gym.tracking")

_SKIPPED = frozenset({"self", "env", "policy", "tensorboard_log", "verbose", "_init_setup_model", "device"})


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return _plain(value.item())
    if callable(value):  # an SB3 schedule: report its value at the start of training
        try:
            return _plain(value(1.0))
        except Exception:
            return getattr(value, "__name__", type(value).__name__)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return type(value).__name__ if isinstance(value, type) else str(value)


def hyperparameters(model: Any) -> dict[str, Any]:
    """The constructor arguments of an SB3 algorithm as JSON-ready values (schedules at their start value)."""
    params: dict[str, Any] = {"policy": type(model.policy).__name__ if getattr(model, "policy", None) else None}
    for name in inspect.signature(type(model).__init__).parameters:
        if name in _SKIPPED:
            continue
        if hasattr(model, name):
            params[name] = _plain(getattr(model, name))
        elif hasattr(model, f"_{name}"):
            params[name] = _plain(getattr(model, f"_{name}"))
    params["n_envs"] = getattr(model, "n_envs", None)
    return params


class TrainingTrackerCallback(BaseCallback):
    """Adds ``total_timesteps``, the algorithm, its hyperparameters and its losses to the tracked run.

    ``spool_dir`` must match the trackers' (default: the same default); ``interval`` is the most
    often (seconds) the progress file is rewritten during ``learn()``.
    """

    def __init__(self, verbose: int = 0, *, spool_dir: str | os.PathLike[str] | None = None, interval: float = 0.5):
        super().__init__(verbose)
        self.spool_dir = Path(spool_dir) if spool_dir is not None else default_spool_dir()
        self.interval = float(interval)
        self._context: dict[str, Any] = {}
        self._session = ""
        self._next = 0.0
        self._version = 0
        self._warned = False

    def _publish(self, finished: bool = False) -> None:
        self._context["timesteps_done"] = int(self.num_timesteps)
        self._context["updated_at"] = time.time()
        self._context["finished"] = finished
        try:
            write_context(self.spool_dir, self._session, self._context)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                logger.warning("tracking: cannot write the training context in %s: %s", self.spool_dir, exc)
        self._next = time.monotonic() + self.interval

    def _on_training_start(self) -> None:
        self._session = session_token()
        self._version += 1
        total = getattr(self.model, "_total_timesteps", None) or self.locals.get("total_timesteps")
        self._context = {
            "algorithm": type(self.model).__name__,
            "hyperparameters": hyperparameters(self.model),
            "total_timesteps": int(total) if total else None,
            "registration_version": self._version,
        }
        self._publish()

    def _on_step(self) -> bool:
        if time.monotonic() >= self._next:
            self._publish()
        return True

    def _on_rollout_end(self) -> None:
        values = getattr(self.model.logger, "name_to_value", {})
        losses = {
            key: float(value)
            for key, value in values.items()
            if key.startswith("train/") and isinstance(value, int | float) and math.isfinite(float(value))
        }
        if losses:
            self._context["train_metrics"] = dict(list(losses.items())[:64])
        self._publish()

    def _on_training_end(self) -> None:
        self._publish(finished=True)  # a run started after this one does not inherit its context
