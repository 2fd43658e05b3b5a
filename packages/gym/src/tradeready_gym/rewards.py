"""Reward functions: what an environment pays the agent after each step.

Usage::

    from tradeready_gym.rewards import CompositeReward, DrawdownPenaltyReward, SharpeReward

    env = gym.make("TradeReady-BTC-v0", reward_function=SharpeReward(window=50))
    reward = CompositeReward([(SharpeReward(window=50), 0.7), (DrawdownPenaltyReward(coef=2.0), 0.3)])

The environment calls ``reward.reset(starting_equity)`` on every ``reset()`` and
``reward(prev_equity, equity, state)`` once per step, where ``prev_equity`` and ``equity`` are
the account's equity (in the quote currency, e.g. USDT) marked at the previous and the current
close, and ``state`` is the :class:`StepState` after the step. ``reward.config()`` describes the
reward when a training run is registered, so runs can be compared.

Units: rewards are unit-free. The step return is ``r = equity / prev_equity - 1`` (a fraction:
0.01 is +1 %), clamped to ``[-1, MAX_STEP_RETURN]`` (equity cannot be worth less than nothing
to the agent, and a thousandfold gain in one step can only be corrupt data); ``prev_equity <= 0``
(after a bankruptcy) gives ``r = 0``. ``PnLReward`` is a fraction of the starting balance.
Every reward does O(1) work per step on Python floats (rolling sums over ring buffers, no
numpy) and always returns a finite float.

Writing your own: subclass :class:`RewardFunction`, store each ``__init__`` parameter on an
attribute of the same name (that is what :meth:`RewardFunction.config` reports), keep per-episode
state in :meth:`~RewardFunction.reset` and return a float from ``__call__``::

    class FeeAwareReward(RewardFunction):
        '''Step return minus ``penalty`` times the fees paid, as a fraction of equity.'''

        def __init__(self, penalty: float = 1.0) -> None:
            self.penalty = penalty

        def __call__(self, prev_equity: float, equity: float, state: StepState) -> float:
            return (equity - prev_equity - self.penalty * state.step_fees) / prev_equity
"""

from __future__ import annotations

import abc
import inspect
import math
from collections.abc import Iterable, Sequence
from typing import Any, Final, Protocol

from tradeready_core.errors import InvalidParameterError

__all__ = [
    "MAX_STEP_RETURN",
    "CompositeReward",
    "DifferentialSharpeReward",
    "DrawdownPenaltyReward",
    "LogReturnReward",
    "PnLReward",
    "RewardFunction",
    "SharpeReward",
    "SortinoReward",
    "StepState",
]

MAX_STEP_RETURN: Final = 1_000.0
"""Step returns are clamped to at most a thousandfold gain, so squares and moving moments stay finite."""

_MIN_LOG_RATIO: Final = 1e-6
"""``LogReturnReward`` floors ``equity / prev_equity`` here: a total loss pays ``log(1e-6)`` ≈ -13.8."""

_LOG_MIN: Final = math.log(_MIN_LOG_RATIO)
_log = math.log


class StepState(Protocol):
    """What a reward may read about the step that just happened (all read-only).

    Attributes:
        step_fees: fees paid during the step, in the quote currency.
        step_fills: number of orders filled during the step.
        position_fraction: value of the open positions / equity, after the step (signed when short).
        equity: equity marked at the step's close, in the quote currency.
        starting_balance: the episode's starting balance, in the quote currency.
    """

    @property
    def step_fees(self) -> float: ...

    @property
    def step_fills(self) -> int: ...

    @property
    def position_fraction(self) -> float: ...

    @property
    def equity(self) -> float: ...

    @property
    def starting_balance(self) -> float: ...


class RewardFunction(abc.ABC):
    """Base class of every reward: ``reset`` once per episode, call once per step.

    Subclasses implement ``__call__`` and, when they keep per-episode state, ``reset``. The
    default :meth:`config` reports every ``__init__`` parameter read back from the attribute of
    the same name; override it when parameters are stored differently. See the module
    docstring for a complete example.
    """

    def reset(self, starting_equity: float) -> None:
        """Start a new episode whose equity starts at ``starting_equity`` (> 0)."""
        _check_starting_equity(starting_equity)

    @abc.abstractmethod
    def __call__(self, prev_equity: float, equity: float, state: StepState) -> float:
        """The reward for a step that moved equity from ``prev_equity`` to ``equity``."""

    def config(self) -> dict[str, Any]:
        """``{"name": class name, "params": {parameter: value}}``, JSON-ready."""
        params: dict[str, Any] = {}
        for name, parameter in inspect.signature(type(self).__init__).parameters.items():
            if name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            if hasattr(self, name):
                params[name] = getattr(self, name)
        return {"name": type(self).__name__, "params": params}

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self.config()["params"].items())
        return f"{type(self).__name__}({params})"


def _check_starting_equity(starting_equity: float) -> None:
    if not (isinstance(starting_equity, int | float) and math.isfinite(starting_equity) and starting_equity > 0):
        raise InvalidParameterError(f"starting_equity must be a finite number > 0; got {starting_equity!r}")


def _check_window(window: int) -> int:
    if isinstance(window, bool) or not isinstance(window, int) or window < 2:
        raise InvalidParameterError(f"window must be an int >= 2 (steps); got {window!r}")
    return window


def _check_positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (math.isfinite(value) and value > 0):
        raise InvalidParameterError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def _step_return(prev_equity: float, equity: float) -> float:
    """``equity / prev_equity - 1`` clamped to ``[-1, MAX_STEP_RETURN]``; 0 when undefined."""
    if prev_equity > 0.0:
        r = equity / prev_equity - 1.0
        if -1.0 <= r <= MAX_STEP_RETURN:
            return r
        if r < -1.0:
            return -1.0
        if r > MAX_STEP_RETURN:
            return MAX_STEP_RETURN
    return 0.0


class PnLReward(RewardFunction):
    """The step's equity change as a fraction of the starting balance.

    ``reward = (equity - prev_equity) / state.starting_balance``: 0.01 means the step gained 1 %
    of the starting balance (100 USDT on 10 000). Summed over an episode it is the episode's
    ROI as a fraction.
    """

    def __call__(self, prev_equity: float, equity: float, state: StepState) -> float:
        balance = state.starting_balance
        if balance > 0.0:
            pnl = (equity - prev_equity) / balance
            if math.isfinite(pnl):
                return pnl
        return 0.0


class LogReturnReward(RewardFunction):
    """The step's log return, ``log(equity / prev_equity)``.

    Summed over an episode it is the log of final over starting equity. A step that loses
    everything pays ``log(1e-6)`` ≈ -13.8 instead of -inf.
    """

    def __call__(self, prev_equity: float, equity: float, state: StepState) -> float:
        # log(max(1 + _step_return(prev_equity, equity), _MIN_LOG_RATIO)), the usual case inline
        if prev_equity > 0.0:
            r = equity / prev_equity - 1.0
            if -1.0 <= r <= MAX_STEP_RETURN:
                x = 1.0 + r
                return _log(x) if x >= _MIN_LOG_RATIO else _LOG_MIN
        return _log(max(1.0 + _step_return(prev_equity, equity), _MIN_LOG_RATIO))


class _RollingReturns:
    """The last ``window`` step returns in a ring buffer, with running sums of r, r² and min(r, 0)².

    The sums are recomputed exactly (``math.fsum``) each time the buffer wraps, so rounding from
    adding and removing never accumulates: O(1) amortised per push.
    """

    __slots__ = ("count", "index", "sum", "sum_down_sq", "sum_sq", "values", "window")

    def __init__(self, window: int) -> None:
        self.window = window
        self.values = [0.0] * window
        self.clear()

    def clear(self) -> None:
        self.index = 0
        self.count = 0
        self.sum = 0.0
        self.sum_sq = 0.0
        self.sum_down_sq = 0.0

    def push(self, r: float) -> None:
        index = self.index
        if self.count == self.window:
            old = self.values[index]
            self.sum -= old
            self.sum_sq -= old * old
            if old < 0.0:
                self.sum_down_sq -= old * old
        else:
            self.count += 1
        self.values[index] = r
        self.sum += r
        self.sum_sq += r * r
        if r < 0.0:
            self.sum_down_sq += r * r
        index += 1
        if index == self.window:
            index = 0
            values = self.values
            self.sum = math.fsum(values)
            self.sum_sq = math.fsum([v * v for v in values])
            self.sum_down_sq = math.fsum([v * v for v in values if v < 0.0])
        self.index = index


class _RatioReward(RewardFunction):
    """Shared shell of Sharpe and Sortino: reward = ratio_t - ratio_{t-1} over a rolling window.

    ``ratio = mean / sqrt(deviation_sq + mean_sq / max_ratio²)``, where ``deviation_sq`` is the
    variance (Sharpe) or the downside deviation squared (Sortino). Since ``|mean| <=
    sqrt(mean_sq)``, ``|ratio| <= max_ratio``; a window of zeros has ratio 0.
    """

    _downside = False

    def __init__(self, window: int = 50, max_ratio: float = 10.0) -> None:
        self.window = _check_window(window)
        self.max_ratio = _check_positive("max_ratio", max_ratio)
        self._floor = 1.0 / (self.max_ratio * self.max_ratio)
        self._returns = _RollingReturns(self.window)
        self._ratio = 0.0

    def reset(self, starting_equity: float) -> None:
        _check_starting_equity(starting_equity)
        self._returns.clear()
        self._ratio = 0.0

    def __call__(self, prev_equity: float, equity: float, state: StepState) -> float:
        returns = self._returns
        returns.push(_step_return(prev_equity, equity))
        n = returns.count
        ratio = 0.0
        if n >= 2:
            mean = returns.sum / n
            mean_sq = returns.sum_sq / n
            if self._downside:
                deviation_sq = returns.sum_down_sq / n
            else:
                deviation_sq = mean_sq - mean * mean
                if deviation_sq < 0.0:
                    deviation_sq = 0.0
            denominator_sq = deviation_sq + self._floor * mean_sq
            if denominator_sq > 0.0:
                ratio = mean / math.sqrt(denominator_sq)
                bound = self.max_ratio  # only rounding can cross it
                ratio = -bound if ratio < -bound else (bound if ratio > bound else ratio)
        reward = ratio - self._ratio
        self._ratio = ratio
        return reward


class SharpeReward(_RatioReward):
    """The change in the rolling Sharpe ratio of the last ``window`` step returns.

    ``S_t = mean / sqrt(var + mean_sq / max_ratio²)`` over the window (population variance,
    ``mean_sq`` = mean of r², per step, not annualised), 0 while fewer than 2 returns are stored;
    ``reward = S_t - S_{t-1}``, so an episode's rewards sum to its last window's ratio. The
    ``mean_sq / max_ratio²`` term only matters when the window's variance is near zero (e.g. a
    run of identical returns): it bounds ``|S|`` by ``max_ratio`` and so the reward by
    ``2 * max_ratio``; with ordinary returns it lowers the ratio by about 0.5 %. A window of
    zero returns (holding cash) has ``S = 0``.
    """


class SortinoReward(_RatioReward):
    """The change in the rolling Sortino ratio of the last ``window`` step returns.

    ``S_t = mean / sqrt(dd² + mean_sq / max_ratio²)`` where ``dd² = mean(min(r, 0)²)`` is the
    downside deviation squared (target 0) and ``mean_sq`` the mean of r²; 0 while fewer than 2
    returns are stored; ``reward = S_t - S_{t-1}``.

    Bounded: a window without losses has ``dd = 0``, where the plain Sortino ratio is infinite.
    Here the denominator never falls below ``sqrt(mean_sq) / max_ratio`` and ``|mean| <=
    sqrt(mean_sq)``, so ``|S| <= max_ratio`` (a window of only gains scores exactly
    ``max_ratio``) and ``|reward| <= 2 * max_ratio``. The bound is scale-free: it does not depend
    on the timeframe or the size of returns. With ordinary returns (``dd² ≈ var / 2``) the floor
    term lowers the ratio by about 1 %.
    """

    _downside = True


class DrawdownPenaltyReward(RewardFunction):
    """The step return minus ``coef`` times the increase in drawdown, both as fractions.

    ``drawdown_t = (peak_t - equity_t) / peak_t`` with ``peak_t`` the highest equity of the
    episode so far (starting at ``starting_equity``), and
    ``reward = r_t - coef * max(drawdown_t - drawdown_{t-1}, 0)``: a loss that deepens the
    drawdown costs about ``1 + coef`` times its size, a recovery earns its return and nothing
    more. Over an episode the penalty adds up every deepening of the drawdown (not only the
    deepest point), so it acts as loss aversion while below the peak. Equity at or above its
    peak pays the plain return.
    """

    def __init__(self, coef: float = 1.0) -> None:
        if isinstance(coef, bool) or not isinstance(coef, int | float) or not (math.isfinite(coef) and coef >= 0):
            raise InvalidParameterError(f"coef must be a finite number >= 0; got {coef!r}")
        self.coef = float(coef)
        self._peak = 0.0
        self._drawdown = 0.0

    def reset(self, starting_equity: float) -> None:
        _check_starting_equity(starting_equity)
        self._peak = float(starting_equity)
        self._drawdown = 0.0

    def __call__(self, prev_equity: float, equity: float, state: StepState) -> float:
        r = _step_return(prev_equity, equity)
        if equity > self._peak:
            self._peak = equity
        peak = self._peak
        drawdown = (peak - equity) / peak if peak > 0.0 else 0.0
        if not 0.0 <= drawdown <= 1.0:
            drawdown = 0.0 if drawdown < 0.0 else 1.0
        increase = drawdown - self._drawdown
        self._drawdown = drawdown
        return r - self.coef * increase if increase > 0.0 else r


class DifferentialSharpeReward(RewardFunction):
    """Moody and Saffell's differential Sharpe ratio (1998, 2001), an online Sharpe reward.

    With ``R_t`` the step return and exponential moving moments ``A`` (of R) and ``B`` (of R²)::

        dA = R_t - A_{t-1}            dB = R_t² - B_{t-1}
        D_t = (B_{t-1} * dA - A_{t-1} * dB / 2) / (B_{t-1} - A_{t-1}²) ** 1.5
        A_t = A_{t-1} + eta * dA      B_t = B_{t-1} + eta * dB

    ``A`` and ``B`` start at 0 each episode. ``D_t`` is 0 while ``B - A² <= 0`` (the first step,
    or returns all equal), and it is a standardised return (about ``R_t / std``), so it is
    clipped to ``±clip``: only the first few steps of an episode, before the moments settle,
    come near the bound.
    """

    def __init__(self, eta: float = 0.01, clip: float = 10.0) -> None:
        if isinstance(eta, bool) or not isinstance(eta, int | float) or not 0.0 < eta < 1.0:
            raise InvalidParameterError(f"eta must be a number in (0, 1); got {eta!r}")
        self.eta = float(eta)
        self.clip = _check_positive("clip", clip)
        self._a = 0.0
        self._b = 0.0

    def reset(self, starting_equity: float) -> None:
        _check_starting_equity(starting_equity)
        self._a = 0.0
        self._b = 0.0

    def __call__(self, prev_equity: float, equity: float, state: StepState) -> float:
        r = _step_return(prev_equity, equity)
        a, b = self._a, self._b
        delta_a = r - a
        delta_b = r * r - b
        variance = b - a * a
        reward = 0.0
        if variance > 0.0:
            denominator = variance * math.sqrt(variance)
            if denominator > 0.0:
                reward = (b * delta_a - 0.5 * a * delta_b) / denominator
                clip = self.clip
                reward = -clip if reward < -clip else (clip if reward > clip else reward)
        self._a = a + self.eta * delta_a
        self._b = b + self.eta * delta_b
        return reward


class CompositeReward(RewardFunction):
    """A weighted sum of rewards: ``sum(weight * part(prev_equity, equity, state))``.

    Example::

        CompositeReward([(SortinoReward(window=50), 0.6), (PnLReward(), 0.4)])

    Weights are any finite numbers (they need not sum to 1; a negative weight turns a part into a
    penalty). Each part is reset and called every step, so a part must not appear twice.
    """

    def __init__(self, parts: Iterable[tuple[RewardFunction, float]]) -> None:
        checked: list[tuple[RewardFunction, float]] = []
        for item in parts:
            if not (isinstance(item, Sequence) and len(item) == 2 and isinstance(item[0], RewardFunction)):
                raise InvalidParameterError(
                    f"parts must be (RewardFunction, weight) pairs, e.g. [(PnLReward(), 1.0)]; got {item!r}"
                )
            reward, weight = item
            if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
                raise InvalidParameterError(f"the weight of {reward!r} must be a finite number; got {weight!r}")
            if any(reward is seen for seen, _ in checked):
                raise InvalidParameterError(
                    f"{reward!r} appears twice in parts; use one instance per part (each keeps its own state)"
                )
            checked.append((reward, float(weight)))
        if not checked:
            raise InvalidParameterError("parts must hold at least one (RewardFunction, weight) pair; got none")
        self.parts: tuple[tuple[RewardFunction, float], ...] = tuple(checked)

    def reset(self, starting_equity: float) -> None:
        _check_starting_equity(starting_equity)
        for reward, _ in self.parts:
            reward.reset(starting_equity)

    def __call__(self, prev_equity: float, equity: float, state: StepState) -> float:
        total = 0.0
        for reward, weight in self.parts:
            total += weight * reward(prev_equity, equity, state)
        return total

    def config(self) -> dict[str, Any]:
        parts = [{"weight": weight, "reward": reward.config()} for reward, weight in self.parts]
        return {"name": type(self).__name__, "params": {"parts": parts}}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({[(reward, weight) for reward, weight in self.parts]!r})"
