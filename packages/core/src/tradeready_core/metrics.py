"""The one definition of every episode metric.

All metrics are computed from the marked equity curve ``E_0 .. E_n`` (one value per bar close,
``E_0`` before the first decision) and from the fill log. Per-bar simple returns are
``r_i = E_i / E_{i-1} - 1`` for ``i = 1 .. n``; ``A = bars_per_year(timeframe)`` (365-day year).

============================  ======================================================================
metric                        definition
============================  ======================================================================
``roi_pct``                   ``100 * (E_n / E_0 - 1)``
``sharpe_ratio``              ``mean(r) / std(r, ddof=1) * sqrt(A)`` (risk-free rate 0)
``sortino_ratio``             ``mean(r) / DD * sqrt(A)`` with downside deviation
                              ``DD = sqrt(mean(min(r_i, 0)^2))`` over all ``n`` returns
``max_drawdown_pct``          ``100 * max_i (1 - E_i / max_{j<=i} E_j)``, a positive number
``total_trades``              number of fills
``win_rate``                  share (0..1) of position-reducing fills whose realised PnL is > 0
``exposure_pct``              ``100 * (steps ending with a non-zero position) / n``
============================  ======================================================================

Degenerate cases are defined so every value is finite (the API rejects NaN and Infinity):
``sharpe_ratio`` is 0.0 when there are fewer than two returns or their standard deviation is 0;
``sortino_ratio`` is 0.0 when there is no return or no return is negative (``DD == 0``);
``win_rate`` is 0.0 when no fill reduced a position; ``exposure_pct`` and ``max_drawdown_pct``
are 0.0 for an episode without steps. Sharpe and Sortino use the same conventions as
empyrical's ``sharpe_ratio``/``sortino_ratio`` with ``annualization=A``::

    >>> m = compute_metrics([100.0, 110.0, 99.0], "1d", total_trades=1)
    >>> round(m.roi_pct, 6), round(m.max_drawdown_pct, 6)
    (-1.0, 10.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tradeready_core.errors import InvalidParameterError
from tradeready_core.timeframes import bars_per_year

__all__ = [
    "Metrics",
    "compute_metrics",
    "exposure_pct",
    "max_drawdown_pct",
    "returns",
    "roi_pct",
    "sharpe_ratio",
    "sortino_ratio",
    "win_rate",
]


@dataclass(frozen=True, slots=True)
class Metrics:
    """An episode's metrics (see the module docstring for each definition)."""

    roi_pct: float
    sharpe_ratio: float
    sortino_ratio: float
    max_drawdown_pct: float
    total_trades: int
    win_rate: float
    exposure_pct: float
    steps: int
    final_equity: float

    def as_dict(self) -> dict[str, float | int]:
        """The metrics as a plain JSON-ready dict (Python floats and ints only)."""
        return asdict(self)


def _equity(equity: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(equity, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidParameterError(f"equity must be a non-empty 1-D sequence; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidParameterError("equity must contain only finite values")
    return arr


def returns(equity: ArrayLike) -> NDArray[np.float64]:
    """Per-bar simple returns ``E_i / E_{i-1} - 1`` (a bar with ``E_{i-1} <= 0`` has return -1)."""
    eq = _equity(equity)
    prev = eq[:-1]
    out = np.full(prev.shape, -1.0)
    np.divide(eq[1:], prev, out=out, where=prev > 0.0)
    out[prev > 0.0] -= 1.0
    return out


def roi_pct(equity: ArrayLike) -> float:
    """``100 * (E_n / E_0 - 1)``; ``E_0`` must be positive."""
    eq = _equity(equity)
    if eq[0] <= 0.0:
        raise InvalidParameterError(f"the first equity value must be positive; got {eq[0]!r}")
    return float(100.0 * (eq[-1] / eq[0] - 1.0))


def sharpe_ratio(equity: ArrayLike, timeframe: str) -> float:
    """Annualised Sharpe ratio of per-bar returns (rf = 0); 0.0 when undefined."""
    annual = bars_per_year(timeframe)
    r = returns(equity)
    if r.size < 2:
        return 0.0
    std = float(np.std(r, ddof=1))
    if std == 0.0 or not math.isfinite(std):
        return 0.0
    value = float(np.mean(r)) / std * math.sqrt(annual)
    return value if math.isfinite(value) else 0.0


def sortino_ratio(equity: ArrayLike, timeframe: str) -> float:
    """Annualised Sortino ratio (target 0, downside deviation over all returns); 0.0 when undefined."""
    annual = bars_per_year(timeframe)
    r = returns(equity)
    if r.size == 0:
        return 0.0
    downside = math.sqrt(float(np.mean(np.square(np.minimum(r, 0.0)))))
    if downside == 0.0:
        return 0.0
    value = float(np.mean(r)) / downside * math.sqrt(annual)
    return value if math.isfinite(value) else 0.0


def max_drawdown_pct(equity: ArrayLike) -> float:
    """Largest peak-to-trough fall of equity in percent of the peak (a positive number)."""
    eq = _equity(equity)
    peak = np.maximum.accumulate(eq)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0.0, 1.0 - eq / peak, 0.0)
    return float(max(0.0, float(dd.max())) * 100.0)


def win_rate(realized_pnls: Iterable[float]) -> float:
    """Share (0..1) of position-reducing fills with positive realised PnL; 0.0 when there are none."""
    values = list(realized_pnls)
    if not values:
        return 0.0
    return sum(1 for v in values if v > 0.0) / len(values)


def exposure_pct(exposed_steps: int, steps: int) -> float:
    """Percentage of steps that ended holding a non-zero position; 0.0 for an episode without steps."""
    if steps <= 0:
        return 0.0
    if not 0 <= exposed_steps <= steps:
        raise InvalidParameterError(f"exposed_steps must be in [0, steps={steps}]; got {exposed_steps}")
    return 100.0 * exposed_steps / steps


def compute_metrics(
    equity: ArrayLike,
    timeframe: str,
    *,
    total_trades: int = 0,
    realized_pnls: Iterable[float] = (),
    exposed_steps: int = 0,
) -> Metrics:
    """Every metric of one episode from its equity curve and fill statistics.

    ``realized_pnls`` holds the realised PnL of each position-reducing fill and ``exposed_steps``
    the number of steps that ended with a non-zero position (the engine tracks both).
    """
    eq = _equity(equity)
    steps = int(eq.size - 1)
    return Metrics(
        roi_pct=roi_pct(eq),
        sharpe_ratio=sharpe_ratio(eq, timeframe),
        sortino_ratio=sortino_ratio(eq, timeframe),
        max_drawdown_pct=max_drawdown_pct(eq),
        total_trades=int(total_trades),
        win_rate=float(win_rate(realized_pnls)),
        exposure_pct=float(exposure_pct(exposed_steps, steps)),
        steps=steps,
        final_equity=float(eq[-1]),
    )
