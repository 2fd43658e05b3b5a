"""Rule-based strategies: baselines that trade through an environment's own action space.

A strategy is an agent like a trained model: it sees each observation (and ``info``) and returns
an action of the environment it was reset on, so its orders go through the same engine with the
same fees and slippage. Usage::

    import gymnasium as gym
    import tradeready_gym
    from tradeready_gym.strategies import SMACrossover

    env = gym.make("TradeReady-BTC-v0", data="BTCUSDT-1h.csv", episode_length=500, track_training=False)
    agent = SMACrossover(fast=20, slow=50)
    obs, info = env.reset(seed=0)
    agent.reset(env, info)
    done = False
    while not done:
        obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
        done = terminated or truncated
    print(info["episode_metrics"]["roi_pct"])

Targets, not actions
    A strategy decides a *target*: the wanted fraction of equity in each asset (NaN = keep what is
    held). :class:`Strategy` turns it into the environment's action:

    - ``TradeReady-*-v0`` (Discrete(3)): a target that differs from the previous one becomes
      ``1`` (buy, to ``position_size``) when positive and ``2`` (sell, to flat) when zero or
      negative; an unchanged or NaN target is ``0`` (hold), so a position is never topped up;
    - ``TradeReady-*-Continuous-v0`` and ``TradeReady-Portfolio-v0``: the target weight(s) as the
      action; a NaN is replaced by the asset's current weight (its value at the last close over
      equity), which leaves the position as it is (any drift is below the engine's minimum trade).

Writing one's own
    * a function of the candles: subclass :class:`CandleStrategy` and implement
      :meth:`~CandleStrategy.signals`, or wrap a function with :func:`from_candles`. ``signals``
      gets the episode's candles (:class:`~tradeready_core.data.MarketData`, rows up to the
      episode's last bar, computed once per episode) and returns one target per bar, shape ``(T,)``
      or ``(T, N)``. Row ``t`` is the decision taken after candle ``t`` closed and must use only
      rows ``0..t`` (TA-Lib's indicators do); :func:`check_no_lookahead` verifies it::

          import talib
          from tradeready_gym.strategies import from_candles

          def momentum(market):
              close = market.close[:, 0]
              return (talib.ROC(close, timeperiod=24) > 0).astype(float)

          agent = from_candles(momentum, name="momentum_24h")

    * a function of the observation: :func:`from_observation` (``fn(obs) -> target``), or
      subclass :class:`Strategy` and implement :meth:`~Strategy.target`.

Built-in baselines (also by name through :func:`make_strategy`): :class:`BuyAndHold`,
:class:`SMACrossover`, :class:`RSIMeanReversion`. With several assets, a candle strategy's
per-asset signal in ``[0, 1]`` is scaled by ``1 / N`` (equal capital per asset).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import gymnasium as gym
import numpy as np
import talib
from numpy.typing import ArrayLike, NDArray

from tradeready_core.data import MarketData
from tradeready_core.timeframes import timeframe_ms
from tradeready_gym.envs import ContinuousTradingEnv, DiscreteTradingEnv, PortfolioTradingEnv, TradingEnv
from tradeready_gym.errors import TradeReadyGymError

__all__ = [
    "STRATEGIES",
    "BuyAndHold",
    "CandleStrategy",
    "RSIMeanReversion",
    "SMACrossover",
    "Strategy",
    "StrategyError",
    "check_no_lookahead",
    "from_candles",
    "from_observation",
    "make_strategy",
]

_HOLD, _BUY, _SELL = 0, 1, 2


class StrategyError(TradeReadyGymError, ValueError):
    """A strategy was misconfigured, used before ``reset()``, or produced unusable targets."""


def _unwrapped(env: gym.Env[Any, Any]) -> TradingEnv:
    base = env.unwrapped
    if not isinstance(base, TradingEnv):
        raise StrategyError(
            f"strategies trade TradeReady environments (tradeready_gym.envs.TradingEnv); got {type(base).__name__}"
        )
    return base


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise StrategyError(f"name must be a non-empty string of at most 100 characters; got {name!r}")
    return name


class Strategy(abc.ABC):
    """Base class of rule-based agents: decide a target per step, act through the env's action space.

    Subclasses implement :meth:`target` (and may extend :meth:`reset` to prepare per-episode
    state). Call :meth:`reset` after every ``env.reset()``, then :meth:`act` once per step.
    """

    name: str = "strategy"
    """Name shown in evaluation tables (``snake_case``); instances may override it."""

    def __init__(self, name: str | None = None) -> None:
        if name is not None:
            self.name = _check_name(name)
        self._env: TradingEnv | None = None
        self._close_times: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._last: list[float] = []  # last target sent to a discrete env
        self._start = 0  # bar of the episode's first decision

    # ------------------------------------------------------------------ to implement
    @abc.abstractmethod
    def target(self, t: int, obs: NDArray[Any]) -> float | Sequence[float] | NDArray[np.float64]:
        """The target weight(s) after candle ``t`` closed (NaN = keep); ``obs`` is the env's observation."""

    # ------------------------------------------------------------------ episode lifecycle
    def reset(self, env: gym.Env[Any, Any], info: Mapping[str, Any]) -> None:
        """Bind to ``env`` for the episode that ``env.reset()`` just started (``info`` is its info)."""
        base = _unwrapped(env)
        if isinstance(base, DiscreteTradingEnv) and base.allow_short:
            raise StrategyError(
                "TradeReady-*-v0 with allow_short=True has no 'flat' action (sell goes short), so a "
                "rule-based strategy cannot exit; use the continuous env or allow_short=False"
            )
        market = base.market
        self._env = base
        self._close_times = market.open_time + timeframe_ms(market.timeframe)
        self._last = [0.0] * base.n_assets
        self._start = self._bar(info)

    def act(self, obs: NDArray[Any], info: Mapping[str, Any]) -> Any:
        """The action for the current step (``info`` is the one returned with ``obs``)."""
        env = self._env
        if env is None:
            raise StrategyError(f"{self.name}: call reset(env, info) after env.reset() before act()")
        t = self._bar(info)
        weights = self._weights(self.target(t, obs), env.n_assets)
        return self._to_action(env, weights, t, info)

    def _bar(self, info: Mapping[str, Any]) -> int:
        try:
            stamp = int(info["timestamp"])
        except (KeyError, TypeError, ValueError):
            raise StrategyError(
                f"{self.name}: info must carry the env's 'timestamp' (close time of the last candle); "
                f"got keys {sorted(info)}"
            ) from None
        t = int(np.searchsorted(self._close_times, stamp))
        if t >= self._close_times.size or self._close_times[t] != stamp:
            raise StrategyError(f"{self.name}: timestamp {stamp} is not a candle close time of this env")
        return t

    def _weights(self, raw: Any, n: int) -> list[float]:
        arr = np.asarray(raw, dtype=np.float64).reshape(-1)
        if arr.size != n:
            raise StrategyError(f"{self.name}: target must have {n} weight(s) (one per asset); got {raw!r}")
        weights = arr.tolist()
        if any(w in (math.inf, -math.inf) for w in weights):
            raise StrategyError(f"{self.name}: targets must be finite or NaN (keep); got {raw!r}")
        return weights

    def _to_action(self, env: TradingEnv, weights: list[float], t: int, info: Mapping[str, Any]) -> Any:
        if isinstance(env, DiscreteTradingEnv):
            w = weights[0]
            if w != w or w == self._last[0]:
                return _HOLD
            self._last[0] = w
            return _BUY if w > 0.0 else _SELL
        if isinstance(env, ContinuousTradingEnv | PortfolioTradingEnv):
            if any(w != w for w in weights):
                held = self._held_weights(env, t, info)
                weights = [h if w != w else w for w, h in zip(weights, held, strict=True)]
            return np.asarray(weights, dtype=np.float32)
        raise StrategyError(f"{self.name}: no action mapping for {type(env).__name__}")

    @staticmethod
    def _held_weights(env: TradingEnv, t: int, info: Mapping[str, Any]) -> list[float]:
        """The current weight of each asset (value at the last close / equity): targeting it trades ~nothing."""
        equity = float(info["equity"])
        position = info["position"]
        quantities = [float(q) for q in position] if env.multi_asset else [float(position)]
        if equity <= 0.0:
            return [0.0] * env.n_assets
        closes = env.market.close[t]
        return [q * float(c) / equity for q, c in zip(quantities, closes, strict=True)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class CandleStrategy(Strategy):
    """A strategy defined by a vectorised signal over the candles, computed once per episode.

    Implement :meth:`signals`. ``reset`` passes it the candles up to the episode's last bar, so no
    row past the episode can leak in; within the episode row ``t`` must use rows ``0..t`` only.
    """

    @abc.abstractmethod
    def signals(self, market: MarketData) -> ArrayLike:
        """One target per candle: shape ``(T,)`` (one asset) or ``(T, N)``; NaN = keep."""

    def reset(self, env: gym.Env[Any, Any], info: Mapping[str, Any]) -> None:
        """Bind to ``env`` and compute the episode's signals over its candles (once)."""
        super().reset(env, info)
        base = self._env
        assert base is not None
        market = base.market
        end = len(market) - 1
        if base.episode_length is not None:
            end = min(end, self._start + base.episode_length)
        prefix = market.slice(None, int(market.open_time[end]) + 1)
        self._signals = self._checked(self.signals(prefix), len(prefix), market.n_assets)

    def _checked(self, raw: ArrayLike, rows: int, n: int) -> NDArray[np.float64]:
        arr = np.asarray(raw, dtype=np.float64)
        shape = arr.shape
        if arr.ndim == 1 and n == 1:
            arr = arr.reshape(-1, 1)
        if arr.shape != (rows, n):
            raise StrategyError(
                f"{self.name}: signals() must return shape ({rows},) or ({rows}, {n}) (one row per candle); got {shape}"
            )
        if np.isinf(arr).any():
            raise StrategyError(f"{self.name}: signals must be finite or NaN (keep)")
        return arr

    def target(self, t: int, obs: NDArray[Any]) -> NDArray[np.float64]:
        """The precomputed signal of candle ``t``."""
        row: NDArray[np.float64] = self._signals[t]
        return row


class BuyAndHold(Strategy):
    """Buy at the episode's first step (equal weights over the assets), then hold to the end."""

    name = "buy_and_hold"

    def target(self, t: int, obs: NDArray[Any]) -> list[float]:
        """``1 / N`` per asset at the first step, then NaN (keep)."""
        env = self._env
        assert env is not None
        n = env.n_assets
        return [1.0 / n] * n if t == self._start else [math.nan] * n


class SMACrossover(CandleStrategy):
    """Long while the ``fast`` simple moving average of the close is above the ``slow`` one, else flat.

    After a golden cross (fast crosses above slow at candle ``t``) it buys at the next open; after a
    death cross it sells. Before ``slow`` candles exist the average is undefined and it stays flat.
    """

    name = "sma_crossover"

    def __init__(self, fast: int = 20, slow: int = 50, *, name: str | None = None) -> None:
        for label, value in (("fast", fast), ("slow", slow)):
            if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= 10_000:
                raise StrategyError(f"{label} must be an integer in [2, 10000]; got {value!r}")
        if fast >= slow:
            raise StrategyError(f"fast must be shorter than slow; got fast={fast}, slow={slow}")
        super().__init__(name)
        self.fast, self.slow = fast, slow

    def signals(self, market: MarketData) -> NDArray[np.float64]:
        """``1/N`` where SMA(fast) > SMA(slow), 0 where not, NaN while SMA(slow) is undefined."""
        out = np.full(market.close.shape, np.nan)
        for j in range(market.n_assets):
            close = np.ascontiguousarray(market.close[:, j])
            fast, slow = talib.SMA(close, timeperiod=self.fast), talib.SMA(close, timeperiod=self.slow)
            defined = ~np.isnan(slow)
            out[defined, j] = np.where(fast[defined] > slow[defined], 1.0 / market.n_assets, 0.0)
        return out

    def __repr__(self) -> str:
        return f"SMACrossover(fast={self.fast}, slow={self.slow}, name={self.name!r})"


class RSIMeanReversion(CandleStrategy):
    """Buy when RSI(``period``) closes below ``oversold``; sell when it closes above ``overbought``.

    Between the thresholds the position is kept (NaN target). RSI is TA-Lib's (Wilder smoothing).
    """

    name = "rsi_mean_reversion"

    def __init__(
        self, period: int = 14, oversold: float = 30.0, overbought: float = 70.0, *, name: str | None = None
    ) -> None:
        if isinstance(period, bool) or not isinstance(period, int) or not 2 <= period <= 10_000:
            raise StrategyError(f"period must be an integer in [2, 10000]; got {period!r}")
        for label, value in (("oversold", oversold), ("overbought", overbought)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < value < 100.0:
                raise StrategyError(f"{label} must be a number in (0, 100); got {value!r}")
        if oversold >= overbought:
            raise StrategyError(f"oversold must be below overbought; got oversold={oversold}, overbought={overbought}")
        super().__init__(name)
        self.period, self.oversold, self.overbought = period, float(oversold), float(overbought)

    def signals(self, market: MarketData) -> NDArray[np.float64]:
        """``1/N`` where RSI < oversold, 0 where RSI > overbought, NaN otherwise."""
        out = np.full(market.close.shape, np.nan)
        for j in range(market.n_assets):
            rsi = talib.RSI(np.ascontiguousarray(market.close[:, j]), timeperiod=self.period)
            with np.errstate(invalid="ignore"):
                out[rsi < self.oversold, j] = 1.0 / market.n_assets
                out[rsi > self.overbought, j] = 0.0
        return out

    def __repr__(self) -> str:
        return (
            f"RSIMeanReversion(period={self.period}, oversold={self.oversold}, "
            f"overbought={self.overbought}, name={self.name!r})"
        )


class _CandleFunction(CandleStrategy):
    def __init__(self, fn: Callable[[MarketData], ArrayLike], name: str) -> None:
        super().__init__(name)
        self._fn = fn

    def signals(self, market: MarketData) -> ArrayLike:
        return self._fn(market)


class _ObservationFunction(Strategy):
    def __init__(self, fn: Callable[[NDArray[Any]], Any], name: str) -> None:
        super().__init__(name)
        self._fn = fn

    def target(self, t: int, obs: NDArray[Any]) -> Any:
        return self._fn(obs)


def _check_callable(fn: object) -> None:
    if not callable(fn):
        raise StrategyError(f"fn must be callable; got {fn!r}")


def from_candles(fn: Callable[[MarketData], ArrayLike], *, name: str) -> CandleStrategy:
    """A strategy from ``fn(market) -> targets per candle`` (see the module docstring)."""
    _check_callable(fn)
    return _CandleFunction(fn, _check_name(name))


def from_observation(fn: Callable[[NDArray[Any]], Any], *, name: str) -> Strategy:
    """A strategy from ``fn(obs) -> target`` (a float, or one weight per asset; NaN = keep)."""
    _check_callable(fn)
    return _ObservationFunction(fn, _check_name(name))


STRATEGIES: Final[Mapping[str, Callable[..., Strategy]]] = {
    "buy_and_hold": BuyAndHold,
    "sma_crossover": SMACrossover,
    "rsi_mean_reversion": RSIMeanReversion,
}
"""The built-in baselines by name."""


def make_strategy(name: str, **params: Any) -> Strategy:
    """A built-in strategy by name, e.g. ``make_strategy("sma_crossover", fast=10, slow=30)``."""
    if name not in STRATEGIES:
        raise StrategyError(f"unknown strategy {name!r}; built-in ones are {sorted(STRATEGIES)}")
    return STRATEGIES[name](**params)


def check_no_lookahead(strategy: CandleStrategy, market: MarketData, cuts: Sequence[int] | None = None) -> None:
    """Raise :class:`StrategyError` if ``strategy``'s signal at a candle changes when later candles change.

    For each cut ``c`` the signals over ``market`` rows ``0..c`` must equal the first ``c + 1``
    rows of the signals over the whole ``market`` (default: ten cuts spread over the data).
    """
    n = len(market)
    full = strategy._checked(strategy.signals(market), n, market.n_assets)
    points = list(cuts) if cuts is not None else sorted({int(x) for x in np.linspace(1, n - 2, 10)})
    for c in points:
        if not 0 <= c < n:
            raise StrategyError(f"cuts must be candle indices in [0, {n - 1}]; got {c}")
        part = market.slice(None, int(market.open_time[c]) + 1)
        head = strategy._checked(strategy.signals(part), c + 1, market.n_assets)
        expected = full[: c + 1]
        same = (head == expected) | (np.isnan(head) & np.isnan(expected))
        if not same.all():
            bad = int(np.flatnonzero(~same.all(axis=1))[0])
            raise StrategyError(
                f"{strategy.name} looks ahead: its signal at candle {bad} changes when the candles after {c} "
                "are removed"
            )
