"""JSON-ready descriptions of what a run trains with: env parameters, wrappers, package versions.

Usage::

    params = env_params(env.unwrapped)          # symbols, timeframe, costs, gym.make kwargs (no secrets)
    stack = wrapper_stack()                      # from inside reset(): the wrappers around the env
    found = versions()                           # python, tradeready-*, gymnasium, numpy, SB3/torch if loaded
"""

from __future__ import annotations

import inspect
import math
import platform
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any

import gymnasium as gym

if TYPE_CHECKING:
    from tradeready_gym.envs.base import TradingEnv

__all__ = ["SECRET_PARAMS", "describe", "env_params", "iso_ms", "json_safe", "versions", "wrapper_stack"]

SECRET_PARAMS = frozenset({"api_key", "client", "data", "cache_dir", "reward_function", "render_mode"})
"""``gym.make`` arguments never copied into a run's configuration (secrets, data, objects)."""


def iso_ms(ms: int | None) -> str | None:
    """Epoch milliseconds as ISO 8601 UTC (``...Z``)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000.0, UTC).isoformat().replace("+00:00", "Z")


def json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` if it is plain JSON (finite numbers), a list/dict of such, else ``None``."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return json_safe(value.item(), depth)
    if depth < 4 and isinstance(value, list | tuple):
        return [json_safe(v, depth + 1) for v in value]
    if depth < 4 and isinstance(value, Mapping):
        return {str(k): json_safe(v, depth + 1) for k, v in value.items()}
    return None


def versions() -> dict[str, str]:
    found: dict[str, str] = {"python": platform.python_version()}
    for dist in ("tradeready-gym", "tradeready-core", "agentexchange", "gymnasium", "numpy"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    for module in ("stable_baselines3", "torch"):  # only if the trainer already imported them
        version = getattr(sys.modules.get(module), "__version__", None)
        if version:
            found[module.replace("_", "-")] = str(version)
    return found


def describe(obj: Any) -> dict[str, Any]:
    """``{"name", "params"}`` of a wrapper: its ``config()`` if it has one, else its ``__init__`` arguments."""
    config = getattr(obj, "config", None)
    if callable(config):
        try:
            described = config()
        except Exception:  # a user wrapper's config() must not break tracking
            described = None
        if isinstance(described, Mapping):
            return dict(json_safe(described))
    params: dict[str, Any] = {}
    try:
        signature = inspect.signature(type(obj).__init__)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        for name in signature.parameters:
            if name in ("self", "env", "venv") or not hasattr(obj, name):
                continue
            value = json_safe(getattr(obj, name))
            if value is not None:
                params[name] = value
    return {"name": type(obj).__name__, "params": params}


def wrapper_stack(depth: int = 1) -> list[dict[str, Any]]:
    """The wrappers around the env being reset, outermost first (read once from the call stack)."""
    frame = sys._getframe(depth)
    outer: gym.Wrapper[Any, Any, Any, Any] | None = None
    vec: list[dict[str, Any]] = []
    while frame is not None:
        obj = frame.f_locals.get("self")
        if isinstance(obj, gym.Wrapper):
            outer = obj
        elif type(obj).__module__.startswith(("stable_baselines3.common.vec_env", "gymnasium.vector")):
            name = type(obj).__name__
            if not any(v["name"] == name for v in vec):
                vec.append({"name": name, "params": {"num_envs": json_safe(getattr(obj, "num_envs", None))}})
        frame = frame.f_back  # type: ignore[assignment]
    stack: list[dict[str, Any]] = []
    env: Any = outer
    while isinstance(env, gym.Wrapper):
        stack.append(describe(env))
        env = env.env
    return list(reversed(vec)) + stack


def env_params(env: TradingEnv) -> dict[str, Any]:
    params: dict[str, Any] = {
        "symbols": list(env.symbols),
        "timeframe": env.timeframe,
        "lookback_window": env.lookback_window,
        "observation_features": list(env.pipeline.features),
        "starting_balance": env.config.starting_balance,
        "fee_rate": env.config.fee_rate,
        "slippage_bps": env.config.slippage_bps,
        "allow_short": env.allow_short,
        "episode_length": env.episode_length,
        "start_time": iso_ms(env.start_ms),
        "end_time": iso_ms(env.end_ms),
        "execution": env.execution,
    }
    spec = getattr(env, "spec", None)
    for key, value in (getattr(spec, "kwargs", None) or {}).items():
        if key in SECRET_PARAMS or key in params:
            continue
        safe = json_safe(value)
        if safe is not None or value is None:
            params[key] = safe
    for key in ("position_size",):
        if hasattr(env, key):
            params[key] = json_safe(getattr(env, key))
    return params
