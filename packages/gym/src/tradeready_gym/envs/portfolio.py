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

    __slots__ = ("_asset_ids",)

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
        self._asset_ids = tuple(range(self.n_assets))

    def _make_action_space(self) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (self.n_assets,), np.float32)

    def _resolve(self, action: Any) -> list[float]:
        n = self.n_assets
        weights: list[float] = []
        total = 0.0
        try:
            ws = action.tolist() if type(action) is np.ndarray else list(action)
            if len(ws) != n:
                raise TypeError
            for w in ws:
                if type(w) is not float:
                    w = float(w)  # a nested list (not 1-D) raises TypeError
                if not 0.0 <= w <= 1.0:  # clip, unless NaN or infinite
                    if not -_INF < w < _INF:
                        raise TypeError
                    w = 0.0 if w < 0.0 else 1.0
                weights.append(w)
                total += w
        except (TypeError, ValueError):
            raise InvalidParameterError(f"action must be {n} finite weights in [0, 1]; got {action!r}") from None
        if total > 1.0:
            for i in self._asset_ids:
                weights[i] /= total
        return weights
