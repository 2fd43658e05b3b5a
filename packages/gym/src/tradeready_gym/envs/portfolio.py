"""The multi-asset environment ``TradeReady-Portfolio-v0``.

Usage::

    env = gym.make("TradeReady-Portfolio-v0", data={"BTC": btc_df, "ETH": eth_df, "SOL": sol_df})
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(np.array([0.5, 0.3, 0.0], np.float32))

Actions: Box(0, 1, (N,)) target weights, one per symbol (default BTCUSDT, ETHUSDT, SOLUSDT, aligned
on their common candle times); when they sum to more than 1 they are divided by their sum, and
cash is the remainder. The observation concatenates every symbol's feature columns per row, then
the portfolio scalars (``position`` and ``unrealized_pnl`` give one value per symbol).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from tradeready_core.errors import InvalidParameterError
from tradeready_gym.envs.base import TradingEnv

__all__ = ["DEFAULT_PORTFOLIO", "PortfolioTradingEnv"]

DEFAULT_PORTFOLIO: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
_INF = float("inf")


class PortfolioTradingEnv(TradingEnv):
    """N assets, Box(0, 1, (N,)): target weights (normalised when they sum to more than 1)."""

    def __init__(self, symbols: Sequence[str] = DEFAULT_PORTFOLIO, **kwargs: Any) -> None:
        if isinstance(symbols, str) or not isinstance(symbols, Sequence) or not symbols:
            raise InvalidParameterError(
                f"symbols must be a non-empty list such as ['BTCUSDT', 'ETHUSDT']; got {symbols!r}"
            )
        bad = [s for s in symbols if not isinstance(s, str) or not s.isalnum() or not s.isupper()]
        if bad or len(set(symbols)) != len(symbols):
            raise InvalidParameterError(
                f"symbols must be distinct upper-case pairs such as 'BTCUSDT'; got {list(symbols)!r}"
            )
        super().__init__(tuple(symbols), **kwargs)

    def _make_action_space(self) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (self.n_assets,), np.float32)

    def _apply(self, action: Any) -> bool:
        n = self.n_assets
        try:
            ws = [float(w) for w in (action.tolist() if isinstance(action, np.ndarray) else action)]
        except (TypeError, ValueError):
            ws = []
        if len(ws) != n:
            ws = [math.nan]
        for w in ws:
            if not -_INF < w < _INF:  # also catches NaN
                raise InvalidParameterError(f"action must be {n} finite weights in [0, 1]; got {action!r}")
        weights = [0.0 if w < 0.0 else (1.0 if w > 1.0 else w) for w in ws]
        total = sum(weights)
        if total > 1.0:
            weights = [w / total for w in weights]
        base = self._k * n
        self._log[base : base + n] = weights
        self._k += 1
        return self._sim.step(weights)  # type: ignore[union-attr]  # set by reset()
