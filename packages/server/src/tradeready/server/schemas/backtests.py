"""Backtest-session schemas: requests in (``*Create``, ``BacktestStep``), answers out (``*Public``).

Times in requests are epoch milliseconds or ISO-8601 strings (naive = UTC). In answers, session
times are ISO-8601 strings and bar times (``time`` of steps, trades and the equity curve) are epoch
milliseconds of the bar's OPEN, like ``GET /market/candles``.

Example request bodies::

    POST /api/v1/backtests       {"symbols": ["BTCUSDT"], "timeframe": "1h",
                                  "start_time": "2024-01-01", "end_time": "2024-02-01"}
    POST /api/v1/backtests/{id}/step   {"steps": 1, "targets": [0.5]}      # 50 % of equity in BTC
    POST /api/v1/backtests/{id}/orders {"symbol": "BTCUSDT", "side": "buy", "type": "limit",
                                        "quantity": 0.1, "price": 41000}
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from tradeready_core.data import to_ms
from tradeready_core.errors import InvalidParameterError

__all__ = [
    "BacktestCreate",
    "BacktestList",
    "BacktestPublic",
    "BacktestResultsPublic",
    "BacktestStep",
    "EquityCurvePublic",
    "OrderCreate",
    "OrderPublic",
    "OrdersPublic",
    "PortfolioPublic",
    "PositionPublic",
    "ReplayCreate",
    "ReplayPublic",
    "StepPublic",
    "TargetRow",
    "Targets",
    "TradePublic",
    "TradesPublic",
]

Timeframe = Literal["1m", "5m", "15m", "1h", "4h", "1d"]
SessionSource = Literal["api", "training"]
Symbol = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._:-]+$")]


def _finite_or_nan(value: float) -> float:
    if math.isinf(value):
        raise ValueError(f"a target weight must be a finite number, or null/NaN to hold; got {value}")
    return value


TargetValue = Annotated[float, Field(allow_inf_nan=True), AfterValidator(_finite_or_nan)] | None
TargetRow = list[TargetValue]
"""One target weight per symbol; ``null`` (or NaN) holds the asset as it is."""
Targets = TargetRow | list[TargetRow] | dict[str, TargetValue]
"""A row for every step, one row per step, or ``{symbol: weight}`` (missing symbols hold)."""

MAX_SYMBOLS = 20


def _time_ms(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str | datetime):
        raise ValueError(f"expected epoch milliseconds or an ISO-8601 string; got {value!r}")
    try:
        return to_ms(value)
    except InvalidParameterError as exc:
        raise ValueError(str(exc)) from None


TimeMs = Annotated[int, BeforeValidator(_time_ms)]
"""A point in time given as epoch ms or ISO-8601 (naive = UTC), stored as epoch ms."""


class _EngineFields(BaseModel):
    """The engine configuration (``tradeready_core.engine.EngineConfig``) of a session."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    starting_balance: float = Field(10_000.0, gt=0, le=1e12, description="Cash at the start.")
    fee_rate: float = Field(0.001, ge=0, le=0.1, description="Fee as a fraction of each fill's notional.")
    slippage_bps: float = Field(5.0, ge=0, le=1_000, description="Price impact against the trader, in bps.")
    allow_short: bool = False
    max_leverage: float = Field(1.0, gt=0, le=100, description="Gross exposure / equity when shorting.")
    borrow_rate_annual: float = Field(0.10, ge=0, le=10)
    maintenance_margin: float = Field(0.05, ge=0, le=1)
    min_trade_value: float = Field(10.0, ge=0, le=1e12, description="Trades of a smaller notional are skipped.")
    strategy_label: str = Field("default", min_length=1, max_length=100)
    training_run_id: str | None = Field(None, min_length=1, max_length=64)
    episode: int | None = Field(None, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _check_episode(self) -> Self:
        if self.episode is not None and self.training_run_id is None:
            raise ValueError(f"episode needs a training_run_id; got episode={self.episode} without a run")
        return self

    def engine_config(self) -> dict[str, float | bool]:
        """The keyword arguments of ``EngineConfig``."""
        return {
            "starting_balance": self.starting_balance,
            "fee_rate": self.fee_rate,
            "slippage_bps": self.slippage_bps,
            "allow_short": self.allow_short,
            "max_leverage": self.max_leverage,
            "borrow_rate_annual": self.borrow_rate_annual,
            "maintenance_margin": self.maintenance_margin,
            "min_trade_value": self.min_trade_value,
        }


class BacktestCreate(_EngineFields):
    """``POST /backtests``: a session over the candles with ``start_time <= open_time < end_time``.

    Without ``episode_length`` the session runs over the whole range (one step per bar after the
    first); with it, a window of ``episode_length`` steps is drawn from ``seed`` (deterministic:
    the same seed gives the same window; a seed is drawn and returned when none is given).
    """

    symbols: list[Symbol] = Field(min_length=1, max_length=MAX_SYMBOLS)
    timeframe: Timeframe
    start_time: TimeMs
    end_time: TimeMs
    episode_length: int | None = Field(None, ge=1, le=10_000_000)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    source: SessionSource = "api"

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.end_time <= self.start_time:
            raise ValueError(
                f"end_time must be after start_time; got start_time={self.start_time} ms, end_time={self.end_time} ms"
            )
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"symbols must be unique; got {self.symbols}")
        return self


class BacktestStep(BaseModel):
    """``POST /backtests/{id}/step``: advance ``steps`` bars.

    ``targets`` are the engine's target weights (fraction of equity per symbol, signed when
    shorting is allowed; clipped by the engine), ``null``/NaN = hold: one row used for every step,
    one row per step (``steps`` rows), ``{symbol: weight}``, or ``null`` to hold everything. A
    single-symbol session also takes a flat list of ``steps`` weights.
    """

    model_config = ConfigDict(extra="forbid")

    steps: int = Field(1, ge=1, description="Bars to advance (at most the server's max_steps_per_request).")
    targets: Targets | None = None


class OrderCreate(BaseModel):
    """``POST /backtests/{id}/orders``: an order executed from the next step on.

    ``market`` fills at the next bar's open (with slippage); ``limit``, ``stop_loss`` and
    ``take_profit`` rest until a bar's high/low reaches ``price``.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    symbol: Symbol
    side: Literal["buy", "sell"]
    type: Literal["market", "limit", "stop_loss", "take_profit"]
    quantity: float = Field(gt=0, le=1e15)
    price: float | None = Field(None, gt=0, le=1e15)

    @model_validator(mode="after")
    def _check_price(self) -> Self:
        if self.type == "market" and self.price is not None:
            raise ValueError(f"a market order takes no price; got price={self.price}")
        if self.type != "market" and self.price is None:
            raise ValueError(f"a {self.type} order needs a price > 0; got none")
        return self


class ReplayCreate(_EngineFields):
    """``POST /backtests/replay``: an episode a gym stepped locally, replayed by the server.

    The episode starts at the bar opening at ``start_time`` (equity first marked at its close) and
    ends at the bar opening at ``end_time`` (default: ``start_time`` + one bar per target, which
    assumes no gap). ``targets`` hold one weight (single symbol) or one row per step; ``null`` =
    hold. ``dataset_fingerprint`` is the fingerprint of the candles the client used over
    ``[dataset_start_time, dataset_end_time)`` (default: the episode's bars): one string
    (``Candles``/``MarketData`` fingerprint) or ``{symbol: fingerprint}``. ``metrics`` are the
    client's own metrics; any difference with the server's is recorded as ``metrics_mismatch``.
    Idempotent per (``training_run_id``, ``episode``).
    """

    symbols: list[Symbol] = Field(min_length=1, max_length=MAX_SYMBOLS)
    timeframe: Timeframe
    start_time: TimeMs
    end_time: TimeMs | None = None
    targets: list[TargetValue] | list[TargetRow] = Field(min_length=1)
    metrics: dict[str, float | int | bool | str | None] | None = None
    dataset_fingerprint: str | dict[str, str] | None = None
    dataset_start_time: TimeMs | None = None
    dataset_end_time: TimeMs | None = None
    source: SessionSource = "training"

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.end_time is not None and self.end_time <= self.start_time:
            raise ValueError(
                f"end_time must be after start_time; got start_time={self.start_time} ms, end_time={self.end_time} ms"
            )
        if (self.dataset_start_time is None) != (self.dataset_end_time is None):
            raise ValueError("dataset_start_time and dataset_end_time go together; got only one of them")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"symbols must be unique; got {self.symbols}")
        return self


# ---- answers ---------------------------------------------------------------------------------


class BacktestPublic(BaseModel):
    """A session (``GET /backtests/{id}``)."""

    session_id: str
    status: str
    source: str
    symbols: list[str]
    timeframe: str
    start_time: str
    end_time: str
    episode_start_time: str
    episode_end_time: str
    starting_balance: float
    fee_rate: float
    slippage_bps: float
    allow_short: bool
    engine_config: dict[str, Any]
    strategy_label: str
    episode_length: int | None
    seed: int | None
    training_run_id: str | None
    episode: int | None
    dataset_fingerprint: str
    step: int
    total_steps: int
    equity: float
    cash: float
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    metrics: dict[str, Any] | None
    client_metrics: dict[str, Any] | None
    metrics_mismatch: dict[str, list[Any]] | None = Field(
        description="{field: [client value, server value]} when a replayed episode's metrics differ."
    )


class ReplayPublic(BacktestPublic):
    """``POST /backtests/replay``: the recorded session; ``created`` is false for a resend."""

    created: bool


class BacktestList(BaseModel):
    """``GET /backtests``: one page, newest first."""

    backtests: list[BacktestPublic]
    total: int
    limit: int
    offset: int


class PositionPublic(BaseModel):
    symbol: str
    quantity: float
    price: float = Field(description="Close of the current bar.")
    market_value: float
    unrealized_pnl: float = Field(
        description="Open profit or loss at the current close against the position's cost basis (fees included)."
    )


class PortfolioPublic(BaseModel):
    """``GET /backtests/{id}/portfolio``: the account at the close of the current bar."""

    session_id: str
    status: str
    step: int
    total_steps: int
    time: int = Field(description="Open time (epoch ms) of the current bar.")
    cash: float
    equity: float
    total_fees: float
    positions: list[PositionPublic]


class TradePublic(BaseModel):
    trade_id: str
    order_id: str | None
    symbol: str
    side: str
    quantity: float
    price: float
    fee: float
    kind: str = Field(description="target, market, limit, stop_loss, take_profit or liquidation.")
    realized_pnl: float | None
    time: int = Field(description="Open time (epoch ms) of the bar the fill happened in.")
    step: int


class TradesPublic(BaseModel):
    session_id: str
    trades: list[TradePublic]
    total: int
    limit: int | None
    offset: int


class OrderPublic(BaseModel):
    order_id: str
    symbol: str
    side: str
    type: str
    quantity: float
    price: float | None
    status: str = Field(description="pending, filled, rejected or cancelled.")
    created_at: int = Field(description="Open time (epoch ms) of the bar after which it was placed.")
    filled_at: int | None
    filled_quantity: float
    fill_price: float | None


class OrdersPublic(BaseModel):
    session_id: str
    orders: list[OrderPublic]


class StepPublic(BaseModel):
    """``POST /backtests/{id}/step``: where the session is after the step(s)."""

    session_id: str
    status: str
    step: int
    total_steps: int
    steps_executed: int
    time: int
    done: bool
    bankrupt: bool
    cash: float
    equity: float
    positions: list[PositionPublic]
    fills: list[TradePublic]


class EquityCurvePublic(BaseModel):
    """``GET /backtests/{id}/equity-curve`` (columnar): equity marked at each bar's close."""

    session_id: str
    time: list[int]
    equity: list[float]


class BacktestResultsPublic(BaseModel):
    """``GET /backtests/{id}/results``: the engine's metrics (so far, while the session runs)."""

    session_id: str
    status: str
    step: int
    total_steps: int
    done: bool
    bankrupt: bool
    roi_pct: float
    sharpe_ratio: float
    sortino_ratio: float
    max_drawdown_pct: float
    total_trades: int
    win_rate: float
    exposure_pct: float
    final_equity: float
    total_fees: float
    metrics: dict[str, Any]
    client_metrics: dict[str, Any] | None
    metrics_mismatch: dict[str, list[Any]] | None
