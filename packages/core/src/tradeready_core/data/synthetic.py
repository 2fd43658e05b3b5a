"""Deterministic synthetic candles for offline first runs, ALWAYS labelled ``source="synthetic"``.

The generator is a GARCH(1,1) on log returns with Student-t innovations, which gives the
stylised facts of crypto returns: volatility clustering (|returns| are autocorrelated) and fat
tails (kurtosis well above 3). Intrabar highs/lows extend beyond open/close in proportion to the
current volatility (about 1.7 sigma of range per bar, as for a random walk), each open is the
previous close (24/7 market), and volume rises with the absolute return on top of a persistent
AR(1) log-volume level. The same arguments
always give the same candles (a :func:`numpy.random.default_rng` seeded with ``seed``), and a
longer series starts with exactly the bars of a shorter one::

    demo = synthetic_candles("BTCUSDT", "1h", start="2024-01-01", periods=5000, seed=0)
    demo.source, demo.is_synthetic      # ('synthetic', True)
    market = synthetic_market(["BTCUSDT", "ETHUSDT", "SOLUSDT"], correlation=0.7, seed=0)

Model, per asset with base volatility ``s`` per bar (``annual_volatility / sqrt(bars_per_year)``):
``r_t = sqrt(h_t) * e_t``, ``h_{t+1} = s^2 (1 - a - b) + a r_t^2 + b h_t`` with ``a = 0.08``,
``b = 0.90``; ``e_t`` is multivariate Student-t with 4 degrees of freedom scaled to unit variance
(one shared chi-square draw per bar, so assets also crash together).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tradeready_core.data._time import to_ms
from tradeready_core.data.candles import Candles, MarketData
from tradeready_core.errors import InvalidParameterError
from tradeready_core.timeframes import TIMEFRAMES, bars_per_year, timeframe_ms, timeframe_seconds

if TYPE_CHECKING:
    from tradeready_core.data._time import TimeLike

__all__ = ["synthetic_candles", "synthetic_market"]

_GARCH_ALPHA: Final[float] = 0.08
_GARCH_BETA: Final[float] = 0.90
_T_DOF: Final[float] = 4.0
_BASE_ANNUAL_VOL: Final[float] = 0.6
_VOLUME_AR: Final[float] = 0.9  # persistence of the log-volume level
_VOLUME_NOISE: Final[float] = 0.25
_RANGE_SCALE: Final[float] = 0.6  # extension beyond max(open, close) in units of sigma * |N(0,1)|

# base asset -> (start price, volatility multiple of BTC's, daily quote turnover in USDT)
_PROFILES: Final[dict[str, tuple[float, float, float]]] = {
    "BTC": (42_000.0, 1.0, 2.0e9),
    "ETH": (2_300.0, 1.25, 1.0e9),
    "SOL": (100.0, 1.8, 4.0e8),
    "BNB": (300.0, 1.1, 2.0e8),
}
_DEFAULT_PROFILE: Final[tuple[float, float, float]] = (100.0, 1.5, 1.0e8)


def _profile(symbol: str) -> tuple[float, float, float]:
    for base, profile in _PROFILES.items():
        if symbol.upper().startswith(base):
            return profile
    return _DEFAULT_PROFILE


def _check_common(timeframe: str, start: TimeLike, periods: int, seed: int) -> int:
    if timeframe not in TIMEFRAMES:
        raise InvalidParameterError(f"timeframe must be one of {TIMEFRAMES}; got {timeframe!r}")
    if isinstance(periods, bool) or not isinstance(periods, int | np.integer) or periods < 2:
        raise InvalidParameterError(f"periods must be an integer >= 2; got {periods!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InvalidParameterError(f"seed must be a non-negative integer; got {seed!r}")
    start_ms = to_ms(start, name="start")
    if start_ms % timeframe_ms(timeframe):
        raise InvalidParameterError(f"start must be on the {timeframe} grid (UTC); got {start!r}")
    return start_ms


def _correlation_matrix(correlation: float | ArrayLike, n: int) -> NDArray[np.float64]:
    if np.ndim(correlation) == 0:
        rho = float(correlation)  # type: ignore[arg-type]
        if not -1.0 / max(n - 1, 1) < rho < 1.0 and n > 1:
            raise InvalidParameterError(
                f"correlation must be in ({-1.0 / max(n - 1, 1):.3f}, 1) for {n} assets; got {correlation!r}"
            )
        matrix = np.full((n, n), rho)
        np.fill_diagonal(matrix, 1.0)
    else:
        matrix = np.asarray(correlation, dtype=np.float64)
        if matrix.shape != (n, n) or not np.allclose(matrix, matrix.T) or not np.allclose(np.diag(matrix), 1):
            raise InvalidParameterError(
                f"correlation must be a scalar or a symmetric ({n}, {n}) matrix with unit diagonal; "
                f"got shape {matrix.shape}"
            )
    try:
        return np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        raise InvalidParameterError("correlation matrix must be positive definite") from None


def _simulate(
    rng: np.random.Generator,
    timeframe: str,
    periods: int,
    start_prices: NDArray[np.float64],
    sigmas: NDArray[np.float64],
    turnovers: NDArray[np.float64],
    chol: NDArray[np.float64],
) -> dict[str, NDArray[np.float64]]:
    n = start_prices.size
    dof = int(_T_DOF)
    # one row of draws per bar, so a longer series starts with exactly the bars of a shorter one
    draws = rng.standard_normal((periods, 4 * n + dof))
    z = draws[:, :n] @ chol.T
    ext_up = np.abs(draws[:, n : 2 * n])
    ext_down = np.abs(draws[:, 2 * n : 3 * n])
    vol_noise = draws[:, 3 * n : 4 * n]
    chi = np.sum(draws[:, 4 * n :] ** 2, axis=1)  # chi-square with `dof` degrees of freedom
    shocks = z / np.sqrt(chi / _T_DOF)[:, None] * np.sqrt((_T_DOF - 2.0) / _T_DOF)

    omega = sigmas**2 * (1.0 - _GARCH_ALPHA - _GARCH_BETA)
    h = np.empty((periods, n))
    returns = np.empty((periods, n))
    level = np.empty((periods, n))  # persistent log-volume level, AR(1)
    h_t = sigmas**2
    level_t = np.zeros(n)
    for t in range(periods):
        h[t] = h_t
        r_t = np.sqrt(h_t) * shocks[t]
        returns[t] = r_t
        h_t = omega + _GARCH_ALPHA * r_t**2 + _GARCH_BETA * h_t
        level_t = _VOLUME_AR * level_t + _VOLUME_NOISE * vol_noise[t]
        level[t] = level_t
    sd = np.sqrt(h)
    log_close = np.log(start_prices) + np.cumsum(returns, axis=0)
    close = np.exp(log_close)
    open_ = np.vstack([start_prices[None, :], close[:-1]])
    high = np.maximum(open_, close) * np.exp(_RANGE_SCALE * sd * ext_up)
    low = np.minimum(open_, close) * np.exp(-_RANGE_SCALE * sd * ext_down)
    activity = 0.5 + 0.5 * np.abs(returns) / sigmas
    per_bar_quote = turnovers * timeframe_seconds(timeframe) / 86_400.0
    level_var = _VOLUME_NOISE**2 / (1.0 - _VOLUME_AR**2)
    volume = per_bar_quote * activity * np.exp(level - level_var / 2.0) / close
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def synthetic_candles(
    symbol: str = "BTCUSDT",
    timeframe: str = "1h",
    start: TimeLike = "2024-01-01",
    periods: int = 5000,
    seed: int = 0,
    start_price: float | None = None,
    *,
    annual_volatility: float | None = None,
) -> Candles:
    """``periods`` synthetic candles of ``symbol`` from ``start`` (on the timeframe grid).

    ``start_price`` and ``annual_volatility`` default to a profile of the base asset (BTC 42,000
    and 60%, ETH, SOL, BNB; others 100 and 90%). The result is always ``source="synthetic"``.

    >>> c = synthetic_candles(periods=10, seed=1)
    >>> c.source, len(c)
    ('synthetic', 10)
    """
    market = synthetic_market(
        [symbol],
        timeframe,
        start,
        periods,
        seed,
        start_prices=None if start_price is None else {symbol: start_price},
        annual_volatility=None if annual_volatility is None else {symbol: annual_volatility},
    )
    return market.candles(symbol)


def synthetic_market(
    symbols: Sequence[str] = ("BTCUSDT", "ETHUSDT", "SOLUSDT"),
    timeframe: str = "1h",
    start: TimeLike = "2024-01-01",
    periods: int = 5000,
    seed: int = 0,
    *,
    correlation: float | ArrayLike = 0.7,
    start_prices: Mapping[str, float] | None = None,
    annual_volatility: Mapping[str, float] | None = None,
) -> MarketData:
    """Correlated synthetic candles of several symbols on one time grid (for the portfolio env).

    ``correlation`` is one pairwise value or an (N, N) matrix of the return shocks. A single
    symbol gives exactly :func:`synthetic_candles`' values.

    >>> m = synthetic_market(["BTCUSDT", "ETHUSDT"], periods=10)
    >>> m.sources
    ('synthetic', 'synthetic')
    """
    start_ms = _check_common(timeframe, start, periods, seed)
    names = list(symbols)
    if not names:
        raise InvalidParameterError("symbols must name at least one symbol; got none")
    prices, sigmas, turnovers = [], [], []
    per_bar = 1.0 / np.sqrt(bars_per_year(timeframe))
    for name in names:
        price, multiple, turnover = _profile(name)
        if start_prices and name in start_prices:
            price = float(start_prices[name])
            if not np.isfinite(price) or price <= 0:
                raise InvalidParameterError(f"start price of {name} must be > 0; got {start_prices[name]!r}")
        vol = _BASE_ANNUAL_VOL * multiple
        if annual_volatility and name in annual_volatility:
            vol = float(annual_volatility[name])
            if not 0 < vol < 10:
                raise InvalidParameterError(
                    f"annual volatility of {name} must be in (0, 10); got {annual_volatility[name]!r}"
                )
        prices.append(price)
        sigmas.append(vol * per_bar)
        turnovers.append(turnover)
    chol = _correlation_matrix(correlation, len(names))
    rng = np.random.default_rng(int(seed))
    arrays = _simulate(rng, timeframe, int(periods), np.array(prices), np.array(sigmas), np.array(turnovers), chol)
    open_time = start_ms + np.arange(int(periods), dtype=np.int64) * timeframe_ms(timeframe)
    return MarketData(
        symbols=tuple(names),
        timeframe=timeframe,
        open_time=open_time,
        open=arrays["open"],
        high=arrays["high"],
        low=arrays["low"],
        close=arrays["close"],
        volume=arrays["volume"],
        sources=tuple("synthetic" for _ in names),
    )
