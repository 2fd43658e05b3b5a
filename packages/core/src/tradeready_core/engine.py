"""The one simulation engine: deterministic portfolio accounting over candle arrays.

Pure Python float arithmetic over ``N`` assets; numpy arrays in (converted once to lists of
floats at construction), numpy arrays out. No I/O, no randomness, no clock: the same inputs give
bit-identical outputs. The gym's environments and the server's backtest sessions both drive it.

Usage::

    sim = Simulator(open_, high, low, close, EngineConfig(), timeframe="1h")  # arrays (T, N)
    sim.reset(start=50)
    while not sim.done:
        sim.step1(0.5)          # single asset: target 50 % of equity in the asset (NaN = hold)
    result = sim.result()       # EpisodeResult: equity curve, fills, Metrics

Timing of one step (a decision taken after bar ``t`` closed)
    1. pending *market* orders, then the target rebalance, fill at ``open[t+1]``;
    2. resting *limit / stop_loss / take_profit* orders are checked against bar ``t+1``'s
       high and low, in submission order;
    3. shorts pay borrow cost, the margin is checked (liquidation), and equity is marked at
       ``close[t+1]``; ``t`` becomes ``t+1``.
    The episode is done when ``t == end`` or when equity is ``<= 0`` (``bankrupt``).

Prices and costs (``s = slippage_bps / 10_000``, ``f = fee_rate``)
    * market, target and stop fills pay slippage against the trader: a buy fills at
      ``ref * (1 + s)``, a sell at ``ref * (1 - s)``; limit and take-profit fills are at their
      price (or the better open) without slippage;
    * fee = ``f * quantity * fill_price``, paid in cash;
    * gap-aware triggers: a buy limit at ``L`` fills at ``min(open, L)`` when ``low <= L``, a sell
      limit at ``max(open, L)`` when ``high >= L``; a sell stop at ``S`` triggers when
      ``low <= S`` and fills at ``min(open, S) * (1 - s)``, a buy stop when ``high >= S`` at
      ``max(open, S) * (1 + s)``; a sell take-profit at ``P`` fills at ``max(open, P)`` when
      ``high >= P``, a buy take-profit at ``min(open, P)`` when ``low <= P``.

Targets
    ``w_i`` is the wanted signed value of asset ``i`` as a fraction of equity. With
    ``E_o = cash + sum_i q_i * open_i`` the wanted quantity is ``w_i * E_o / open_i`` and the
    order is the difference with the held quantity ``q_i``. Sells are executed before buys.
    ``w_i`` is clipped to ``[0, 1]`` (long-only) or ``[-max_leverage, max_leverage]``
    (``allow_short``); when the gross ``sum |w_i|`` (held assets counted at their current
    weight) exceeds that limit, the explicit targets are scaled down to fit: each is divided by
    ``gross / room``, ``room`` being the limit less the held weight (so long-only weights that sum to
    more than 1 are divided by their sum).

Accounting invariants
    * ``equity = cash + sum_i q_i * close_i``;
    * cash is never negative: a buy is capped so that ``quantity * price * (1 + f) <= cash``
      (short-sale proceeds are cash); only a forced liquidation can leave a deficit, which ends
      the episode as bankrupt;
    * long-only: a sell is capped at the held quantity (nothing is sold that is not held);
    * dust: a trade whose notional ``|dq| * ref`` is below ``min_trade_value`` is skipped, except
      one that closes the position exactly;
    * over one step, ``E_{t+1} - E_t = sum_i [q_i (open_i - close_i,t) + q'_i (close_i,t+1 -
      open_i)] - fees - slippage - borrow`` where ``q'`` is the position after the fills at the
      open (intrabar order fills split the price path the same way at their fill price).

Shorting (``allow_short=True``)
    * margin: gross exposure ``sum_i |q_i| * price_i`` may not exceed ``max_leverage * equity``
      at the time of a trade (targets are clipped/scaled; explicit orders are capped);
    * borrow cost per bar ``= borrow_rate_annual / bars_per_year(timeframe) * sum_{q_i<0}
      |q_i| * close_i``, paid in cash at each mark;
    * liquidation: after borrow, if cash is negative (the borrow cost could not be paid because
      longs were bought with short-sale proceeds) or ``equity < maintenance_margin *
      short_notional`` at the close, every long is sold at ``close * (1 - s)`` and then every
      short bought back at ``close * (1 + s)``, each with its fee (fill kind ``"liquidation"``),
      regardless of cash; if equity is then ``<= 0`` the episode ends bankrupt.

Realised PnL (for the win rate) uses an average cost basis per unit that includes fees: a
long's basis is ``(sum qty * price + fees) / qty``, a short's ``(sum qty * price - fees) / qty``;
a reducing fill realises ``(price - basis) * closed - exit_fee_share`` (reversed for shorts).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, SupportsIndex, TypeAlias, cast, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tradeready_core.errors import EpisodeFinishedError, InvalidParameterError
from tradeready_core.metrics import Metrics, compute_metrics
from tradeready_core.timeframes import bars_per_year

__all__ = [
    "ORDER_KINDS",
    "EngineConfig",
    "EpisodeResult",
    "Fill",
    "FillLog",
    "Order",
    "Simulator",
    "StepReport",
    "episode_bars",
    "replay",
    "targets_within",
]

Side = Literal["buy", "sell"]
OrderKind = Literal["market", "limit", "stop_loss", "take_profit"]
ORDER_KINDS: tuple[str, ...] = ("market", "limit", "stop_loss", "take_profit")
StepReport: TypeAlias = tuple[bool, float, float, float, tuple[float, ...], int, float, int, list[float]]
"""What :meth:`Simulator.advance` returns: ``(done, equity_before, equity, cash, holdings, step_fills,
step_fees, t, fractions)``."""
_NAN = math.nan


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Trading costs and rules of a simulation (validated on construction).

    ``starting_balance`` cash at reset; ``fee_rate`` fraction of notional per fill;
    ``slippage_bps`` price impact against the trader in basis points; ``allow_short`` enables
    shorts with ``max_leverage`` (gross exposure / equity), ``borrow_rate_annual`` and
    ``maintenance_margin`` (all three only apply when shorting: long-only accounts never borrow,
    so their gross exposure is at most 1); ``min_trade_value`` skips trades of a smaller
    notional.

    >>> EngineConfig(fee_rate=0.0005, slippage_bps=2.0).as_dict()["fee_rate"]
    0.0005
    """

    starting_balance: float = 10_000.0
    fee_rate: float = 0.001
    slippage_bps: float = 5.0
    allow_short: bool = False
    max_leverage: float = 1.0
    borrow_rate_annual: float = 0.10
    maintenance_margin: float = 0.05
    min_trade_value: float = 10.0

    def __post_init__(self) -> None:
        checks: list[tuple[str, float, float, float, bool]] = [
            # name, value, low, high, low inclusive
            ("starting_balance", self.starting_balance, 0.0, math.inf, False),
            ("fee_rate", self.fee_rate, 0.0, 0.1, True),
            ("slippage_bps", self.slippage_bps, 0.0, 1_000.0, True),
            ("max_leverage", self.max_leverage, 0.0, 100.0, False),
            ("borrow_rate_annual", self.borrow_rate_annual, 0.0, 10.0, True),
            ("maintenance_margin", self.maintenance_margin, 0.0, 1.0, True),
            ("min_trade_value", self.min_trade_value, 0.0, math.inf, True),
        ]
        for name, value, low, high, low_inclusive in checks:
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            if ok:
                ok = (value >= low if low_inclusive else value > low) and value <= high
            if not ok:
                bracket = "[" if low_inclusive else "("
                raise InvalidParameterError(f"{name} must be a finite number in {bracket}{low}, {high}]; got {value!r}")
        if not isinstance(self.allow_short, bool):
            raise InvalidParameterError(f"allow_short must be True or False; got {self.allow_short!r}")

    def as_dict(self) -> dict[str, float | bool]:
        """The configuration as a plain dict."""
        return asdict(self)


class Fill(NamedTuple):
    """One execution. ``bar`` is the candle index it happened in; ``quantity`` is positive."""

    bar: int
    asset: int
    side: Side
    quantity: float
    price: float
    fee: float
    kind: str
    realized_pnl: float | None
    order_id: int | None

    def as_dict(self) -> dict[str, Any]:
        """The fill as a plain dict."""
        return self._asdict()


_new_fill = tuple.__new__  # builds a Fill from a row without the generated __new__

_FillRow = tuple[int, int, str, float, float, float, str, float | None, int | None]
"""A fill as the engine makes it: a plain tuple of the :class:`Fill` fields, in order."""

_FILL_FIELDS = 9
"""The engine keeps the fills of an episode flat: the fields of fill ``k`` are items ``9k .. 9k + 8``."""


class FillLog(Sequence[Fill]):
    """The fills of an episode, oldest first: a live, read-only sequence of :class:`Fill`.

    The engine keeps every field of every fill in one flat list of atomic values: no object per fill
    for Python's garbage collector to scan (a tuple or ``Fill`` per fill would be, by every
    collection that runs while it is young); a ``Fill`` is made when an item is read.

    >>> sim = Simulator([[1.0], [1.0], [1.0]], [[1.0]] * 3, [[1.0]] * 3, [[1.0]] * 3)
    >>> sim.step1(0.5)
    False
    >>> len(sim.fills), sim.fills[0].side, sim.fills[-1:] == [sim.fills[0]], list(sim.fills) == sim.fills
    (1, 'buy', True, True)
    """

    __slots__ = ("_flat",)

    def __init__(self, flat: list[object]) -> None:
        self._flat = flat

    def __len__(self) -> int:
        return len(self._flat) // _FILL_FIELDS

    def _fill(self, k: int) -> Fill:
        a = k * _FILL_FIELDS
        return _new_fill(Fill, self._flat[a : a + _FILL_FIELDS])

    @overload
    def __getitem__(self, index: int) -> Fill: ...
    @overload
    def __getitem__(self, index: slice) -> list[Fill]: ...
    def __getitem__(self, index: int | slice) -> Fill | list[Fill]:
        count = len(self)
        if isinstance(index, slice):
            return [self._fill(k) for k in range(count)[index]]
        k = operator.index(index)
        if not -count <= k < count:
            raise IndexError(f"fill index {index} out of range for {count} fills")
        return self._fill(k % count)

    def __iter__(self) -> Iterator[Fill]:
        for k in range(len(self)):
            yield self._fill(k)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FillLog):
            return self._flat == other._flat
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a live view of a growing list

    def __repr__(self) -> str:
        return f"FillLog({list(self)!r})"


@dataclass(slots=True)
class Order:
    """An explicit order. ``status`` is ``pending``, ``filled``, ``rejected`` or ``cancelled``."""

    order_id: int
    asset: int
    side: Side
    kind: str
    quantity: float
    price: float | None
    created_bar: int
    status: str = "pending"
    filled_bar: int | None = None
    filled_quantity: float = 0.0
    fill_price: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The order as a plain dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class EpisodeResult:
    """What an episode produced: ``equity[k]`` is the equity marked at bar ``start + k``."""

    start: int
    end: int
    equity: NDArray[np.float64]
    fills: list[Fill]
    metrics: Metrics
    total_fees: float
    bankrupt: bool
    final_positions: tuple[float, ...] = field(default=())

    @classmethod
    def of(cls, sim: SimulatorState) -> EpisodeResult:
        """The episode so far of ``sim`` (the in-process :class:`Simulator` or any object with its read API)."""
        return cls(
            start=sim.start,
            end=sim.t,
            equity=sim.equity_curve(),
            fills=list(sim.fills),
            metrics=sim.metrics(),
            total_fees=sim.total_fees,
            bankrupt=sim.bankrupt,
            final_positions=tuple(sim.holdings),
        )


class SimulatorState(Protocol):
    """The read API of a simulator that :meth:`EpisodeResult.of` needs."""

    @property
    def start(self) -> int: ...
    @property
    def t(self) -> int: ...
    @property
    def fills(self) -> Sequence[Fill]: ...
    @property
    def total_fees(self) -> float: ...
    @property
    def bankrupt(self) -> bool: ...
    @property
    def holdings(self) -> Sequence[float]: ...
    def equity_curve(self) -> NDArray[np.float64]: ...
    def metrics(self) -> Metrics: ...


def _as_matrix(name: str, values: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise InvalidParameterError(f"{name} must be a 1-D or 2-D array (T, N); got shape {arr.shape}")
    return arr


def _as_list(targets: Sequence[float] | NDArray[np.float64]) -> list[object]:
    """The target weights as a list of objects (typed precisely by the caller: the compiled engine unboxes floats)."""
    if type(targets) is list:
        return cast("list[object]", targets)
    if isinstance(targets, np.ndarray):
        items: list[object] = targets.tolist()
        return items
    return list(targets)


def episode_bars(start: SupportsIndex, end: SupportsIndex | None, n_bars: int) -> tuple[int, int]:
    """The checked ``(start, end)`` bars of an episode over ``n_bars`` bars (``end`` None: the last bar).

    Any integer type is taken; anything else, or bars out of order or range, raises
    :class:`InvalidParameterError` naming what was received.

    >>> episode_bars(0, None, 10), episode_bars(np.int64(2), 5, 10)
    ((0, 9), (2, 5))
    """
    last = n_bars - 1
    try:
        first, stop = operator.index(start), operator.index(last if end is None else end)
    except TypeError:
        first, stop = -1, -1
    if not 0 <= first < stop <= last:
        raise InvalidParameterError(f"need 0 <= start < end <= {last} (integers); got start={start!r}, end={end!r}")
    return first, stop


def targets_within(targets: object, n: int, low: float, high: float) -> bool:
    """Whether ``targets`` is a list of ``n`` floats, each within ``[low, high]`` (NaN is not).

    What :meth:`Simulator.advance` steps on without converting anything.

    >>> targets_within([0.5, 1.0], 2, 0.0, 1.0), targets_within([0.5, float("nan")], 2, 0.0, 1.0)
    (True, False)
    >>> targets_within((0.5, 1.0), 2, 0.0, 1.0), targets_within([1, 0.0], 2, 0.0, 1.0)  # a tuple, an int
    (False, False)
    """
    if type(targets) is not list:
        return False
    items = cast("list[object]", targets)
    if len(items) != n:
        return False
    return all(type(x) is float and low <= x <= high for x in items)  # (NaN fails the comparison)


class Simulator:
    """Portfolio simulator over ``N`` assets (see the module docstring for the rules).

    Public state, read-only by convention, updated by every step: ``t`` (current bar), ``cash``,
    ``equity``, ``holdings`` (held quantity per asset, negative = short; a list the engine
    updates in place, never modify it), ``step_fees``, ``step_fills``, ``step_slippage``,
    ``step_borrow``, ``done``, ``bankrupt``, ``total_fees``; ``positions`` is a copy of
    ``holdings``; ``fills`` (a :class:`FillLog`) reads the episode's fills.
    """

    # slots: the hot path's attribute reads and method calls stay on CPython's fast paths
    __slots__ = (
        "_assets",
        "_avg",
        "_borrow_bar",
        "_buy_mult",
        "_c0",
        "_close",
        "_close_rows",
        "_end",
        "_eq",
        "_exposed",
        "_fee",
        "_fills",
        "_high",
        "_lev",
        "_low",
        "_market",
        "_min_trade",
        "_mm",
        "_next_order_id",
        "_o0",
        "_open",
        "_open_rows",
        "_orders",
        "_realized",
        "_resting",
        "_sell_mult",
        "_short",
        "_slow",
        "_wmax",
        "_wmin",
        "bankrupt",
        "cash",
        "config",
        "done",
        "equity",
        "holdings",
        "n_assets",
        "n_bars",
        "start",
        "step_borrow",
        "step_fees",
        "step_fills",
        "step_slippage",
        "t",
        "timeframe",
        "total_fees",
    )

    def __init__(
        self,
        open: ArrayLike,
        high: ArrayLike,
        low: ArrayLike,
        close: ArrayLike,
        config: EngineConfig | None = None,
        timeframe: str = "1h",
    ) -> None:
        o, h, lo, c = (
            _as_matrix(name, v) for name, v in (("open", open), ("high", high), ("low", low), ("close", close))
        )
        if not (o.shape == h.shape == lo.shape == c.shape):
            raise InvalidParameterError(
                f"open, high, low and close must have the same shape; got {o.shape}, {h.shape}, {lo.shape}, {c.shape}"
            )
        if o.shape[0] < 2 or o.shape[1] < 1:
            raise InvalidParameterError(f"need at least 2 bars and 1 asset; got shape {o.shape}")
        for name, arr in (("open", o), ("high", h), ("low", lo), ("close", c)):
            if not np.all(np.isfinite(arr)) or not np.all(arr > 0.0):
                raise InvalidParameterError(f"{name} prices must all be finite and > 0")
        self.config = config if config is not None else EngineConfig()
        if not isinstance(self.config, EngineConfig):
            raise InvalidParameterError(f"config must be an EngineConfig; got {type(self.config).__name__}")
        self.timeframe = timeframe
        cfg = self.config
        self.n_bars, self.n_assets = int(o.shape[0]), int(o.shape[1])
        self._open: list[list[float]] = o.T.tolist()
        self._high: list[list[float]] = h.T.tolist()
        self._low: list[list[float]] = lo.T.tolist()
        self._close: list[list[float]] = c.T.tolist()
        self._o0 = self._open[0]
        self._c0 = self._close[0]
        # several assets: each bar's opens and closes as one tuple of the same float objects (tuples of
        # floats cost the garbage collector nothing once it has seen them)
        multi = self.n_assets > 1
        self._assets: tuple[int, ...] = tuple(range(self.n_assets))
        self._open_rows: list[tuple[float, ...]] = list(zip(*self._open, strict=True)) if multi else []
        self._close_rows: list[tuple[float, ...]] = list(zip(*self._close, strict=True)) if multi else []
        s = cfg.slippage_bps / 10_000.0
        self._buy_mult = 1.0 + s
        self._sell_mult = 1.0 - s
        self._fee = float(cfg.fee_rate)
        self._short = bool(cfg.allow_short)
        self._lev = float(cfg.max_leverage) if self._short else 1.0
        self._wmax = self._lev
        self._wmin = -self._lev if self._short else 0.0
        self._min_trade = float(cfg.min_trade_value)
        self._borrow_bar = float(cfg.borrow_rate_annual) / bars_per_year(timeframe)
        self._mm = float(cfg.maintenance_margin)
        self._eq: list[float] = [0.0] * self.n_bars
        self.reset(0)

    # ------------------------------------------------------------------ episode control
    def reset(self, start: SupportsIndex = 0, end: SupportsIndex | None = None) -> None:
        """Start an episode at bar ``start`` (marked at ``close[start]``) ending at bar ``end``.

        Any integer type is taken (``numpy.int64`` from ``np.searchsorted`` included); anything else,
        or bars out of order or range, raises :class:`InvalidParameterError`.
        """
        start, stop = episode_bars(start, end, self.n_bars)
        cash = float(self.config.starting_balance)
        self.start = start
        self._end = stop
        self.t = start
        self.cash = cash
        self.equity = cash
        self.holdings: list[float] = [0.0] * self.n_assets
        self._avg: list[float] = [0.0] * self.n_assets
        self._fills: list[object] = []  # flat: see FillLog
        self._orders: list[Order] = []
        self._market: list[Order] = []
        self._resting: list[Order] = []
        self._next_order_id = 1
        self._exposed = 0
        self._realized: list[float] = []
        self.total_fees = 0.0
        self.step_fees = 0.0
        self.step_fills = 0
        self.step_slippage = 0.0
        self.step_borrow = 0.0
        self.done = False
        self.bankrupt = False
        self._eq[start] = cash
        self._update_slow()

    @property
    def end(self) -> int:
        """The last bar of the episode."""
        return self._end

    @property
    def positions(self) -> list[float]:
        """Held quantity of each asset (negative = short)."""
        return list(self.holdings)

    @property
    def fills(self) -> FillLog:
        """Every fill of the episode so far, oldest first (a live read-only sequence of :class:`Fill`)."""
        return FillLog(self._fills)

    def position(self, asset: int = 0) -> float:
        """Held quantity of ``asset`` (negative = short)."""
        return self.holdings[asset]

    def unrealized_pnl(self, asset: int = 0) -> float:
        """Open PnL of ``asset`` at the current close against its fee-inclusive cost basis."""
        q = self.holdings[asset]
        return q * (self._close[asset][self.t] - self._avg[asset]) if q != 0.0 else 0.0

    def position_value(self, asset: int = 0) -> float:
        """Value of the held quantity of ``asset`` at the current close."""
        return self.holdings[asset] * self._close[asset][self.t]

    def equity_fractions(self, codes: tuple[tuple[int, int], ...], limit: float) -> list[float]:
        """The account at the current close as fractions of equity, each clipped to ``[-limit, limit]``.

        One value per ``(code, asset)`` pair: code ``0`` cash, ``1`` the asset's position value,
        ``2`` its unrealized PnL (:meth:`unrealized_pnl`); every value is 0.0 once equity is ``<= 0``.
        The environments' portfolio observations (``balance``, ``position``, ``unrealized_pnl``).

        >>> flat = [[1.0], [1.0]]  # two bars of one asset at a constant price, trading without costs
        >>> sim = Simulator(flat, flat, flat, flat, EngineConfig(fee_rate=0.0, slippage_bps=0.0))
        >>> sim.step1(0.25)
        True
        >>> sim.equity_fractions(((0, 0), (1, 0), (2, 0)), 10.0)
        [0.75, 0.25, 0.0]
        """
        equity = self.equity
        inv = 1.0 / equity if equity > 0.0 else 0.0
        t = self.t
        qs = self.holdings
        out: list[float] = []
        for code, i in codes:
            if code == 1:
                x = qs[i] * self._close[i][t] * inv
            elif code == 0:
                x = self.cash * inv
            else:
                x = self.unrealized_pnl(i) * inv
            out.append(limit if x > limit else (-limit if x < -limit else x))
        return out

    @property
    def orders(self) -> list[Order]:
        """Every explicit order of the episode, in submission order."""
        return list(self._orders)

    def _update_slow(self) -> None:
        self._slow = self.done or self.n_assets != 1 or bool(self._market) or bool(self._resting)

    # ------------------------------------------------------------------ orders
    def submit_order(
        self,
        asset: SupportsIndex,
        side: str,
        quantity: float,
        kind: str = "market",
        price: float | None = None,
    ) -> Order:
        """Queue an explicit order; it is executed from the next step on (see the module docstring).

        ``asset`` is an index of any integer type (``numpy.int64`` included).
        """
        if self.done:
            raise EpisodeFinishedError("the episode has ended; call reset() before submitting orders")
        try:
            index = -1 if isinstance(asset, bool) else operator.index(asset)
        except TypeError:
            index = -1
        if not 0 <= index < self.n_assets:
            raise InvalidParameterError(f"asset must be an index in [0, {self.n_assets - 1}]; got {asset!r}")
        if side not in ("buy", "sell"):
            raise InvalidParameterError(f"side must be one of ('buy', 'sell'); got {side!r}")
        if kind not in ORDER_KINDS:
            raise InvalidParameterError(f"kind must be one of {ORDER_KINDS}; got {kind!r}")
        if not isinstance(quantity, int | float) or not math.isfinite(quantity) or quantity <= 0:
            raise InvalidParameterError(f"quantity must be a finite number > 0; got {quantity!r}")
        if kind == "market":
            if price is not None:
                raise InvalidParameterError(f"a market order takes no price; got price={price!r}")
        elif not isinstance(price, int | float) or not math.isfinite(price) or price <= 0:
            raise InvalidParameterError(f"a {kind} order needs a finite price > 0; got price={price!r}")
        order = Order(
            order_id=self._next_order_id,
            asset=index,
            side="buy" if side == "buy" else "sell",
            kind=kind,
            quantity=float(quantity),
            price=None if price is None else float(price),
            created_bar=self.t,
        )
        self._next_order_id += 1
        self._orders.append(order)
        (self._market if kind == "market" else self._resting).append(order)
        self._update_slow()
        return order

    def cancel_order(self, order_id: int) -> Order:
        """Cancel a pending order; raises :class:`InvalidParameterError` if it is not pending."""
        for queue in (self._market, self._resting):
            for order in queue:
                if order.order_id == order_id:
                    queue.remove(order)
                    order.status = "cancelled"
                    self._update_slow()
                    return order
        raise InvalidParameterError(f"no pending order with order_id={order_id!r}")

    # ------------------------------------------------------------------ stepping
    def step1(self, target: float) -> bool:
        """Single-asset fast path of :meth:`step`: ``target`` weight (NaN = hold). Returns ``done``.

        Bit-identical to :meth:`step` (``tests/core/test_engine_properties.py`` proves it over random
        episodes): the same target trade, without the order book and the per-asset loops.
        """
        if self._slow:
            if self.n_assets != 1:
                raise InvalidParameterError(f"step1() needs exactly 1 asset; this simulator has {self.n_assets}")
            return self.step((target,))
        n = self.t + 1
        self.step_fees = 0.0
        self.step_fills = 0
        self.step_slippage = 0.0
        self.step_borrow = 0.0
        q = self.holdings[0]
        if target == target:  # not NaN: rebalance to the target
            if target > self._wmax:
                target = self._wmax
            elif target < self._wmin:
                target = self._wmin
            o = self._o0[n]
            eq = self.cash + q * o
            if eq > 0.0:
                dq = target * eq / o - q
                if dq > 0.0:
                    self._buy(0, dq, o, o * self._buy_mult, n, "target", None, True)
                    q = self.holdings[0]
                elif dq < 0.0:
                    self._sell(0, dq, o, o * self._sell_mult, n, "target", None)
                    q = self.holdings[0]
        if q < 0.0:
            self._upkeep(n)
            q = self.holdings[0]
        eq = self.cash + q * self._c0[n]
        self._eq[n] = eq
        self.equity = eq
        self.t = n
        if q != 0.0:
            self._exposed += 1
        if n >= self._end or eq <= 0.0:
            self._finish(eq)
            return True
        return False

    def step(self, targets: Sequence[float] | NDArray[np.float64] | None = None) -> bool:
        """Advance one bar; ``targets`` are per-asset weights (NaN = hold, None = no rebalance)."""
        if self.done:
            raise EpisodeFinishedError("step() called after the episode ended; call reset() first")
        n = self.t + 1
        self.step_fees = 0.0
        self.step_fills = 0
        self.step_slippage = 0.0
        self.step_borrow = 0.0
        if self._market:
            self._run_market_orders(n)
        if targets is not None:
            self._rebalance(n, targets)
        if self._resting:
            self._run_resting_orders(n)
        qs = self.holdings
        if self._short and min(qs) < 0.0:
            self._upkeep(n)
        pv = 0.0
        exposed = False  # some position is open
        closes: tuple[float, ...] = self._close_rows[n] if self._close_rows else (self._c0[n],)
        for i in self._assets:
            q = qs[i]
            if q != 0.0:
                pv += q * closes[i]
                exposed = True
        eq = self.cash + pv
        self._eq[n] = eq
        self.equity = eq
        self.t = n
        if exposed:
            self._exposed += 1
        if n >= self._end or eq <= 0.0:
            self._finish(eq)
            return True
        if self.n_assets == 1:  # several assets always take this general path
            self._update_slow()
        return False

    def advance(
        self,
        targets: object,
        codes: tuple[tuple[int, int], ...],
        limit: float,
        low: float,
        high: float,
    ) -> StepReport | None:
        """:meth:`step` to ``targets``, then what an environment reports of the step, in one call.

        ``targets`` must be a list of ``n_assets`` floats, each within ``[low, high]``; anything else
        (another type, a NaN, a value out of range) returns ``None`` and changes nothing, so that the
        caller can convert or refuse it and call again. Otherwise the step runs and the result is
        ``(done, equity_before, equity, cash, holdings, step_fills, step_fees, t, fractions)``:
        ``holdings`` as a tuple, ``fractions`` the step's :meth:`equity_fractions` ``(codes, limit)``.
        One call instead of ten operations from Python: the environments' hot path.

        >>> flat = [[1.0], [1.0]]
        >>> sim = Simulator(flat, flat, flat, flat, EngineConfig(fee_rate=0.0, slippage_bps=0.0))
        >>> sim.advance([1.5], ((0, 0),), 10.0, 0.0, 1.0) is None  # out of range: nothing happened
        True
        >>> sim.advance([0.25], ((0, 0), (1, 0)), 10.0, 0.0, 1.0)
        (True, 10000.0, 10000.0, 7500.0, (2500.0,), 1, 0.0, 1, [0.75, 0.25])
        """
        if not targets_within(targets, self.n_assets, low, high):
            return None
        before = self.equity
        done = self.step(cast("list[float]", targets))
        return (
            done,
            before,
            self.equity,
            self.cash,
            tuple(self.holdings),
            self.step_fills,
            self.step_fees,
            self.t,
            self.equity_fractions(codes, limit),
        )

    def _finish(self, eq: float) -> None:
        self.done = True
        self.bankrupt = eq <= 0.0
        self._slow = True

    def _rebalance(self, n: int, targets: Sequence[float] | NDArray[np.float64]) -> None:
        """Trade towards ``targets``: each weight clipped to its allowed range, the set scaled to the gross limit.

        Every wanted quantity is computed from the equity at the open before any trade; sells are
        executed first (their proceeds pay for the buys), then buys, each in asset order.
        """
        items = _as_list(targets)
        assets = self._assets
        if len(items) != len(assets):
            raise InvalidParameterError(f"targets must have {len(assets)} values; got {len(items)}")
        qs = self.holdings
        opens: tuple[float, ...] = self._open_rows[n] if self._open_rows else (self._o0[n],)
        pv = 0.0
        for i in assets:
            pv += qs[i] * opens[i]
        eq = self.cash + pv
        if eq <= 0.0:
            return
        wmax, wmin = self._wmax, self._wmin
        wanted = 0.0  # gross of the explicit targets
        plain = True  # the usual case: every weight a float within range, the gross within the limit
        for x in items:
            if type(x) is not float or not wmin <= x <= wmax:  # (NaN fails too)
                plain = False
                break
            wanted += abs(x)
        ratio = 1.0  # each weight is divided by it (exact for 1.0)
        if not plain:
            ws = self._clip_targets(items, opens, eq)
        else:
            ws = cast("list[float]", items)
            if wanted > self._lev:  # over the gross limit: what _clip_targets does when nothing is held
                ratio = wanted / self._lev
        # every order from the equity at the open, before any trade (NaN: hold); sells first, their
        # proceeds pay for the buys
        buy_mult, sell_mult = self._buy_mult, self._sell_mult
        sold = 0  # bit i set: asset i was sold (a sell never turns into a buy of the same asset)
        for i in assets:
            wi = ws[i] / ratio
            if wi == wi:  # NaN: hold
                o = opens[i]
                dq = wi * eq / o - qs[i]
                if dq < 0.0:
                    self._sell(i, dq, o, o * sell_mult, n, "target", None)
                    sold |= 1 << i
        for i in assets:
            wi = ws[i] / ratio
            if wi == wi and not sold >> i & 1:
                o = opens[i]
                dq = wi * eq / o - qs[i]  # the same value as above: a sell of another asset changes no qs[i]
                if dq > 0.0:
                    self._buy(i, dq, o, o * buy_mult, n, "target", None, True)

    def _clip_targets(self, ws: Sequence[object], opens: Sequence[float], eq: float) -> list[float]:
        """Clip each weight to its allowed range and scale the set to the gross exposure limit (NaN = hold)."""
        wmax, wmin = self._wmax, self._wmin
        qs = self.holdings
        held = 0.0  # weight of the held (NaN) assets
        wanted = 0.0  # gross of the explicit targets
        clipped: list[float] = []
        for i, x in enumerate(ws):
            w = float(x)  # type: ignore[arg-type]  # a number (float() refuses anything else)
            if w != w:  # NaN: hold
                clipped.append(_NAN)
                held += abs(qs[i] * opens[i]) / eq
                continue
            if w > wmax:
                w = wmax
            elif w < wmin:
                w = wmin
            clipped.append(w)
            wanted += abs(w)
        room = self._lev - held
        if wanted > 0.0 and wanted > room:
            # divided by wanted / room: weights summing to more than 1 (long-only) are divided by their sum
            ratio = wanted / room if room > 0.0 else math.inf
            clipped = [w / ratio for w in clipped]  # NaN stays NaN
        return clipped

    def _run_market_orders(self, n: int) -> None:
        queue, self._market = self._market, []
        for order in queue:
            ref = self._open[order.asset][n]
            self._execute_order(order, ref, n, True)

    def _run_resting_orders(self, n: int) -> None:
        keep: list[Order] = []
        for order in self._resting:
            i = order.asset
            o, h, lo = self._open[i][n], self._high[i][n], self._low[i][n]
            p = float(order.price)  # type: ignore[arg-type]  # resting orders always have a price
            buy = order.side == "buy"
            kind = order.kind
            ref: float | None = None
            slip = False
            if kind == "limit" or kind == "take_profit":
                if buy and lo <= p:
                    ref = min(o, p)
                elif not buy and h >= p:
                    ref = max(o, p)
            elif buy and h >= p:  # stop_loss covering a short
                ref, slip = max(o, p), True
            elif not buy and lo <= p:
                ref, slip = min(o, p), True
            if ref is None:
                keep.append(order)
            else:
                self._execute_order(order, ref, n, slip)
        self._resting = keep

    def _execute_order(self, order: Order, ref: float, n: int, slip: bool) -> None:
        dq = order.quantity if order.side == "buy" else -order.quantity
        if self._short:
            dq = self._leverage_cap(order.asset, dq, ref, n)
        fill = self._trade(order.asset, dq, ref, n, order.kind, order.order_id, slip) if dq != 0.0 else None
        if fill is None:
            order.status = "rejected"
        else:
            order.status = "filled"
            order.filled_bar = n
            order.filled_quantity = fill[3]  # quantity
            order.fill_price = fill[4]  # price

    def _leverage_cap(self, i: int, dq: float, ref: float, n: int) -> float:
        """Shrink ``dq`` so gross exposure stays within ``max_leverage * equity`` (shorting only)."""
        q = self.holdings[i]
        new_abs = abs(q + dq)
        if new_abs <= abs(q):
            return dq
        gross = 0.0
        pv = 0.0
        for j, qj in enumerate(self.holdings):
            pj = ref if j == i else self._open[j][n]
            gross += abs(qj) * pj
            pv += qj * pj
        eq = self.cash + pv
        room = self._lev * eq - (gross - abs(q) * ref)
        max_abs = max(room / ref, 0.0)
        if new_abs <= max_abs:
            return dq
        target_abs = max(max_abs, abs(q))
        return math.copysign(target_abs, q + dq) - q

    def _trade(
        self,
        i: int,
        dq: float,
        ref: float,
        bar: int,
        kind: str,
        order_id: int | None,
        slip: bool,
        force: bool = False,
    ) -> _FillRow | None:
        """Execute ``dq`` units of asset ``i`` around reference price ``ref`` (with caps)."""
        if dq > 0.0:
            return self._buy(i, dq, ref, ref * self._buy_mult if slip else ref, bar, kind, order_id, not force)
        return self._sell(i, dq, ref, ref * self._sell_mult if slip else ref, bar, kind, order_id)

    def _buy(
        self, i: int, dq: float, ref: float, price: float, bar: int, kind: str, order_id: int | None, capped: bool
    ) -> _FillRow | None:
        """Buy ``dq`` (> 0) units of asset ``i`` at ``price`` (``ref`` plus slippage), within the cash if ``capped``.

        The only place a buy happens: skipped (None) when nothing is left to buy or it is dust.
        """
        q = self.holdings[i]
        cash = self.cash
        fee_rate = self._fee
        notional = dq * price
        fee = notional * fee_rate
        if capped and cash - notional - fee < 0.0:  # capped by the cash
            notional = cash / (1.0 + fee_rate) if cash > 0.0 else 0.0
            fee = cash - notional if cash > 0.0 else 0.0
            dq = notional / price
        new_q = q + dq
        if dq <= 0.0 or (new_q != 0.0 and dq * ref < self._min_trade):
            return None
        realized: float | None = None
        avgs = self._avg
        avg = avgs[i]
        # average cost basis per unit, fees included; realised PnL against it when covering a short
        if q >= 0.0:  # adding to a long: the whole fee goes into the basis
            avgs[i] = (q * avg + dq * price + fee) / (q + dq)
        else:
            closed = dq if dq < -q else -q
            realized = (avg - price) * closed - fee * (closed / dq)
            self._realized.append(realized)
            if new_q == 0.0:
                avgs[i] = 0.0
            elif dq > closed:  # covered the short and opened a long with the rest
                opened = dq - closed
                kept = abs(q) - closed
                avgs[i] = (kept * avg + opened * price + fee * (opened / dq)) / (kept + opened)
        self.cash = cash - notional - fee
        self.holdings[i] = new_q
        self.step_fees += fee
        self.total_fees += fee
        self.step_fills += 1
        self.step_slippage += dq * (price - ref)  # |price - ref|: a buy never fills below ref
        fill = (bar, i, "buy", dq, price, fee, kind, realized, order_id)
        self._fills += fill
        return fill

    def _sell(
        self, i: int, dq: float, ref: float, price: float, bar: int, kind: str, order_id: int | None
    ) -> _FillRow | None:
        """Sell ``-dq`` units of asset ``i`` at ``price`` (``ref`` less slippage); no further than flat
        unless shorting. The only place a sell happens: skipped (None) when nothing is held or it is dust.
        """
        q = self.holdings[i]
        if not self._short and dq < -q:
            dq = -q
        qty = -dq
        notional = qty * price
        fee = notional * self._fee
        new_q = q + dq
        if qty <= 0.0 or (new_q != 0.0 and qty * ref < self._min_trade):
            return None
        realized: float | None = None
        avgs = self._avg
        avg = avgs[i]
        closed = 0.0
        if q > 0.0:  # reducing a long: realised PnL against the fee-inclusive basis
            closed = qty if qty < q else q
            realized = (price - avg) * closed - fee * (closed / qty)
            self._realized.append(realized)
        if new_q == 0.0:
            avgs[i] = 0.0
        elif qty > closed:  # opened (or added to) a short: the fee lowers its basis
            opened = qty - closed
            kept = abs(q) - closed
            avgs[i] = (kept * avg + opened * price - fee * (opened / qty)) / (kept + opened)
        self.cash = self.cash + notional - fee
        self.holdings[i] = new_q
        self.step_fees += fee
        self.total_fees += fee
        self.step_fills += 1
        self.step_slippage += qty * (ref - price)  # |price - ref|: a sell never fills above ref
        fill = (bar, i, "sell", qty, price, fee, kind, realized, order_id)
        self._fills += fill
        return fill

    def _upkeep(self, n: int) -> None:
        """Borrow cost and margin check for shorts at ``close[n]``."""
        qs = self.holdings
        closes = [self._close[i][n] for i in range(self.n_assets)]
        short_notional = 0.0
        pv = 0.0
        for i in self._assets:
            qi, ci = qs[i], closes[i]
            pv += qi * ci
            if qi < 0.0:
                short_notional += -qi * ci
        borrow = self._borrow_bar * short_notional
        self.cash -= borrow
        self.step_borrow = borrow
        if self.cash < 0.0 or self.cash + pv < self._mm * short_notional:
            # liquidation: sell every long first (raising cash), then buy back every short
            for i, qi in enumerate(qs):
                if qi > 0.0:
                    self._trade(i, -qi, closes[i], n, "liquidation", None, True)
            for i, qi in enumerate(qs):
                if qi < 0.0:
                    self._trade(i, -qi, closes[i], n, "liquidation", None, True, force=True)

    # ------------------------------------------------------------------ results
    def equity_curve(self) -> NDArray[np.float64]:
        """Equity marked at each bar from ``start`` to the current ``t``."""
        return np.array(self._eq[self.start : self.t + 1], dtype=np.float64)

    def metrics(self) -> Metrics:
        """The metrics of the episode so far (the single definition in :mod:`tradeready_core.metrics`)."""
        return compute_metrics(
            self.equity_curve(),
            self.timeframe,
            total_trades=len(self._fills) // _FILL_FIELDS,
            realized_pnls=self._realized,
            exposed_steps=self._exposed,
        )

    def result(self) -> EpisodeResult:
        """The episode so far: equity curve, fills and metrics."""
        return EpisodeResult.of(self)


def replay(
    open: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    config: EngineConfig | None,
    timeframe: str,
    start: int,
    targets: ArrayLike,
) -> EpisodeResult:
    """Run one episode from bar ``start`` with one row of target weights per step.

    ``targets`` has shape ``(steps,)`` for one asset or ``(steps, N)``; NaN holds. The same code
    path as stepping a :class:`Simulator` by hand, so results are bit-identical. Stops early if
    the account goes bankrupt.
    """
    sim = Simulator(open, high, low, close, config, timeframe)
    tg = np.asarray(targets, dtype=np.float64)
    if tg.ndim == 1:
        tg = tg.reshape(-1, 1)
    if tg.ndim != 2 or tg.shape[1] != sim.n_assets or tg.shape[0] < 1:
        raise InvalidParameterError(
            f"targets must have shape (steps,) or (steps, {sim.n_assets}) with steps >= 1; got {tg.shape}"
        )
    steps = int(tg.shape[0])
    sim.reset(start, start + steps)
    if sim.n_assets == 1:
        for w in tg[:, 0].tolist():
            if sim.step1(w):
                break
    else:
        for row in tg.tolist():
            if sim.step(row):
                break
    return sim.result()
