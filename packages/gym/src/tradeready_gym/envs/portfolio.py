"""The multi-asset environment ``TradeReady-Portfolio-v0``.

Usage::

    env = gym.make("TradeReady-Portfolio-v0", data={"BTC": btc_df, "ETH": eth_df, "SOL": sol_df})
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(np.array([0.5, 0.3, 0.0], np.float32))

Actions: Box(0, 1, (N,)) target weights, one per symbol (default BTCUSDT, ETHUSDT, SOLUSDT, aligned
on their common candle times); when they sum to more than 1 the engine divides them by their sum
(:mod:`tradeready_core.engine`, targets), and cash is the remainder. The observation concatenates
every symbol's feature columns per row, then the portfolio scalars (``position`` and
``unrealized_pnl`` give one value per symbol).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from tradeready_core.engine import Simulator
from tradeready_core.errors import InvalidParameterError
from tradeready_gym.envs.base import OBS_CLIP, TradingEnv
from tradeready_gym.rewards import _LOG_MIN, _MIN_LOG_RATIO, MAX_STEP_RETURN

__all__ = ["DEFAULT_PORTFOLIO", "PortfolioTradingEnv"]

DEFAULT_PORTFOLIO: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
_INF = float("inf")
_log = math.log


class PortfolioTradingEnv(TradingEnv):
    """N assets, Box(0, 1, (N,)): target weights (divided by their sum when it is more than 1)."""

    __slots__ = ()

    multi_asset: ClassVar[bool] = True

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

    def step(self, action: Any) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """Execute one decision: :meth:`TradingEnv.step` for N assets, written out inline (the same contract).

        An agent's usual action, an array of N weights already in [0, 1], is taken as it is; any
        other goes through :meth:`_resolve` (converted, clipped, or refused). Weights that sum to more
        than 1 are divided by their sum by the engine (its gross limit), the same arithmetic the
        platform applies when it replays the action log.
        """
        if self._needs_reset:
            raise gym.error.ResetNeeded("call reset() before step(), and again after an episode ends")
        sim: Simulator = self._sim  # type: ignore[assignment]  # set by reset()
        # an agent's usual action, an array of N weights within [0, 1], is checked by the engine; any
        # other is resolved (converted, clipped or refused) and stepped again
        target = action.tolist() if type(action) is np.ndarray else action
        report = sim.advance(target, self._scalar_codes, OBS_CLIP, 0.0, 1.0)
        if report is None:
            target = self._resolve(action)
            report = sim.advance(target, self._scalar_codes, OBS_CLIP, 0.0, 1.0)
            assert report is not None  # _resolve() gives N floats within [0, 1]
        done, prev_equity, equity, cash, holdings, fills, fees, t, fractions = report
        self._k += 1
        self._log += target
        if self._log_return and prev_equity > 0.0 and -1.0 <= (r := equity / prev_equity - 1.0) <= MAX_STEP_RETURN:
            # the default LogReturnReward, inline: the operations of its __call__ for this case
            x = 1.0 + r
            reward = _log(x) if x >= _MIN_LOG_RATIO else _LOG_MIN
        else:
            reward = self._reward_function.__call__(prev_equity, equity, self)
        self._reward_sum += reward
        views = self._views
        obs = (views[t] if views is not None else self._window_view(t)).copy()  # type: ignore[union-attr]
        if fractions:  # the portfolio scalars, as _write_scalars() writes them
            self._pack_scalars(obs, self._scalars_at, *fractions)  # type: ignore[arg-type]  # an ndarray is a writable buffer
        info: dict[str, Any] = {
            "equity": equity,
            "cash": cash,
            "position": holdings,
            "fills": fills,
            "fees": fees,
            "timestamp": self._close_times[t],
        }
        if done:
            self._end_episode(sim, info)
            terminated = sim.bankrupt
            return obs, reward, terminated, not terminated, info
        return obs, reward, False, False, info

    def _resolve(self, action: Any) -> list[float]:
        """Any action: weights converted one by one, clipped to [0, 1], refused when not finite."""
        n = self.n_assets
        weights: list[float] = []
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
        except (TypeError, ValueError):
            raise InvalidParameterError(f"action must be {n} finite weights in [0, 1]; got {action!r}") from None
        return weights
