"""Single-asset environments: ``TradeReady-{BTC,ETH,SOL}-v0`` and ``-Continuous-v0``.

Usage::

    import gymnasium as gym
    import tradeready_gym  # registers the ids

    env = gym.make("TradeReady-BTC-v0", data="BTCUSDT-1h.csv", track_training=False)
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(1)   # buy

Discrete(3) actions: 0 = hold (keep the position), 1 = buy (target ``position_size`` of equity in
the asset), 2 = sell (target flat, or ``-position_size`` with ``allow_short=True``).
Continuous Box(-1, 1, (1,)) actions: the target fraction of equity in the asset; negative values
are clipped to flat unless ``allow_short=True``. Every other parameter is that of
:class:`~tradeready_gym.envs.base.TradingEnv`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import spaces

from tradeready_core.errors import InvalidParameterError
from tradeready_gym.envs.base import TradingEnv

__all__ = ["ContinuousTradingEnv", "DiscreteTradingEnv"]

_HOLD, _BUY, _SELL = 0, 1, 2
_INF = math.inf


def _check_symbol(symbol: object) -> str:
    if not isinstance(symbol, str) or not symbol.isalnum() or not symbol.isupper():
        raise InvalidParameterError(f"symbol must be an upper-case pair such as 'BTCUSDT'; got {symbol!r}")
    return symbol


class DiscreteTradingEnv(TradingEnv):
    """One asset, Discrete(3): hold / buy to ``position_size`` / sell to flat (or short)."""

    __slots__ = ("_targets",)

    def __init__(self, symbol: str = "BTCUSDT", *, position_size: float = 1.0, **kwargs: Any) -> None:
        if (
            isinstance(position_size, bool)
            or not isinstance(position_size, int | float)
            or not math.isfinite(position_size)
            or not 0.0 < position_size <= 1.0
        ):
            raise InvalidParameterError(f"position_size must be a fraction of equity in (0, 1]; got {position_size!r}")
        self.position_size = float(position_size)
        super().__init__((_check_symbol(symbol),), **kwargs)
        sell = -self.position_size if self.allow_short else 0.0
        self._targets: dict[int, float] = {_HOLD: math.nan, _BUY: self.position_size, _SELL: sell}

    def _make_action_space(self) -> spaces.Discrete:
        return spaces.Discrete(3)

    def _resolve(self, action: Any) -> float:
        try:
            return self._targets[action]
        except (KeyError, TypeError):
            return self._lookup(action)

    def _lookup(self, action: Any) -> float:
        arr = np.asarray(action)
        if arr.size == 1 and arr.dtype.kind in "iu" and int(arr.reshape(())) in self._targets:
            return self._targets[int(arr.reshape(()))]
        raise InvalidParameterError(f"action must be 0 (hold), 1 (buy) or 2 (sell); got {action!r}")


class ContinuousTradingEnv(TradingEnv):
    """One asset, Box(-1, 1, (1,)): the target fraction of equity held in the asset."""

    __slots__ = ("_low",)

    def __init__(self, symbol: str = "BTCUSDT", **kwargs: Any) -> None:
        super().__init__((_check_symbol(symbol),), **kwargs)
        self._low = -1.0 if self.allow_short else 0.0

    def _make_action_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (1,), np.float32)

    def _resolve(self, action: Any) -> float:
        try:
            # the Box action is a one-element array: .item() is the cheapest way to its float
            target = action.item() if type(action) is np.ndarray else action[0]
            if type(target) is not float:
                if isinstance(target, str | bytes):
                    raise TypeError
                target = float(target)
        except (TypeError, IndexError, ValueError):
            raise InvalidParameterError(
                f"action must be an array of shape (1,) with the target fraction in [-1, 1]; got {action!r}"
            ) from None
        if target > 1.0:
            if target == _INF:
                raise InvalidParameterError(f"action must be finite; got {action!r}")
            return 1.0
        if target < self._low:
            if target == -_INF:
                raise InvalidParameterError(f"action must be finite; got {action!r}")
            return self._low
        if target != target:
            raise InvalidParameterError(f"action must be finite; got {action!r}")
        return target
