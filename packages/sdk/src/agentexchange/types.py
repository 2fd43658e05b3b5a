"""Typed shapes of the platform's responses.

They are ``TypedDict``s: at runtime every result is the plain ``dict`` decoded from the JSON
answer, so ``run["avg_roi_pct"]`` works and a type checker knows it is a ``float | None``.
Fields the REST contract guarantees are required; the rest are ``NotRequired`` and the platform
may add fields over time (never rename them).

Usage::

    from agentexchange import AgentExchangeClient
    from agentexchange.types import TrainingRun

    runs: list[TrainingRun] = AgentExchangeClient().get_training_runs(status="completed")
    best = max(runs, key=lambda r: r["avg_roi_pct"] or float("-inf"))

Timestamps are ISO 8601 strings in UTC (``"2026-03-01T10:00:00Z"``); candle times are
milliseconds since the epoch.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "Account",
    "ApiKey",
    "Backtest",
    "BacktestResults",
    "Candles",
    "Comparison",
    "ComparisonRun",
    "CreatedApiKey",
    "CurvePoint",
    "Dataset",
    "EpisodeReport",
    "EquityCurve",
    "Evaluation",
    "EvaluationAgent",
    "EvaluationAgentDetail",
    "EvaluationAgentSummary",
    "EvaluationEpisode",
    "EvaluationSummary",
    "EvaluationWindow",
    "Health",
    "Heartbeat",
    "LearningCurve",
    "Meta",
    "Order",
    "Portfolio",
    "Position",
    "RunStatus",
    "StepResult",
    "Trade",
    "TrainingEpisode",
    "TrainingMetric",
    "TrainingRun",
    "TrainingRunDetail",
]

RunStatus = Literal["running", "completed", "abandoned", "failed"]
"""Status of a training run."""

TrainingMetric = Literal["roi_pct", "sharpe_ratio", "max_drawdown_pct", "total_trades", "reward_sum"]
"""Metrics a learning curve can be drawn for."""

# --- meta -----------------------------------------------------------------------------------


class Health(TypedDict):
    """``GET /health``."""

    status: str


class Meta(TypedDict):
    """``GET /meta``: versions of the platform."""

    name: str
    version: str
    api_version: str
    core_version: NotRequired[str]
    python: NotRequired[str]
    database: NotRequired[str]


# --- account and keys -----------------------------------------------------------------------


class Account(TypedDict):
    """``GET /account``."""

    account_id: str
    name: str
    created_at: str


class ApiKey(TypedDict):
    """An API key as listed: only its readable prefix, never the secret."""

    key_id: str
    name: str
    prefix: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class CreatedApiKey(ApiKey):
    """``POST /keys``: the one answer that carries the plaintext ``api_key``; store it now."""

    api_key: str


# --- market data ----------------------------------------------------------------------------


class Dataset(TypedDict):
    """One stored (symbol, timeframe) series, from ``GET /market/symbols``."""

    symbol: str
    timeframe: str
    first_time: str | None
    last_time: str | None
    count: int
    gaps: int
    source: str
    missing_bars: NotRequired[int]


class Candles(TypedDict):
    """``GET /market/candles`` in columnar form: one list per field, aligned by index.

    ``source`` is ``"binance"``, ``"file"`` or ``"synthetic"`` (synthetic data is never real market
    data); ``fingerprint`` changes whenever the stored data changes, so it keys caches.
    """

    symbol: str
    timeframe: str
    source: str
    fingerprint: str
    open_time: list[int]
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float]
    synthetic: NotRequired[bool]
    resampled_from: NotRequired[str | None]
    count: NotRequired[int]


# --- backtest sessions ----------------------------------------------------------------------


class Backtest(TypedDict, total=False):
    """A backtest session (``POST /backtests``, ``GET /backtests/{id}``, ``POST /backtests/replay``).

    Times of the session's range are ISO 8601; ``metrics_mismatch`` lists, per metric, the
    client's and the platform's value when a replayed episode disagreed.
    """

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
    created_at: str
    updated_at: str
    completed_at: str | None
    metrics: dict[str, Any] | None
    client_metrics: dict[str, Any] | None
    metrics_mismatch: dict[str, list[Any]] | None
    created: bool


class Position(TypedDict, total=False):
    """One asset's holding."""

    symbol: str
    quantity: float
    price: float
    market_value: float
    unrealized_pnl: float


class Portfolio(TypedDict, total=False):
    """``GET /backtests/{id}/portfolio``: cash, equity and positions at the current step."""

    session_id: str
    status: str
    step: int
    total_steps: int
    time: int
    cash: float
    equity: float
    total_fees: float
    positions: list[Position]


class Trade(TypedDict, total=False):
    """A fill; ``kind`` is target, market, limit, stop_loss, take_profit or liquidation."""

    trade_id: str
    order_id: str | None
    symbol: str
    side: str
    quantity: float
    price: float
    fee: float
    kind: str
    realized_pnl: float | None
    time: int
    step: int


class Order(TypedDict, total=False):
    """An order; ``status`` is pending, filled, rejected or cancelled; times are bar open times (ms)."""

    order_id: str
    symbol: str
    side: str
    type: str
    quantity: float
    price: float | None
    status: str
    created_at: int
    filled_at: int | None
    filled_quantity: float
    fill_price: float | None


class StepResult(TypedDict, total=False):
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
    positions: list[Position]
    fills: list[Trade]


class EquityCurve(TypedDict, total=False):
    """``GET /backtests/{id}/equity-curve`` (columnar): equity at each bar's close."""

    session_id: str
    time: list[int]
    equity: list[float]


class BacktestResults(TypedDict, total=False):
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


# --- training runs --------------------------------------------------------------------------


class TrainingRun(TypedDict):
    """One run as listed by ``GET /training/runs`` (aggregates are live while it runs)."""

    run_id: str
    strategy_label: str
    status: RunStatus
    total_episodes: int
    avg_roi_pct: float | None
    avg_sharpe: float | None
    started_at: str
    completed_at: str | None
    env_id: NotRequired[str | None]
    best_roi_pct: NotRequired[float | None]
    worst_roi_pct: NotRequired[float | None]
    last_roi_pct: NotRequired[float | None]
    last_episode: NotRequired[int | None]
    avg_max_drawdown_pct: NotRequired[float | None]
    avg_trades: NotRequired[float | None]
    avg_reward: NotRequired[float | None]
    total_steps: NotRequired[int]
    duration_seconds: NotRequired[float]
    last_heartbeat_at: NotRequired[str | None]
    last_activity_at: NotRequired[str]
    current_step: NotRequired[int | None]
    current_episode: NotRequired[int | None]
    episode_steps: NotRequired[int | None]
    episode_length: NotRequired[int | None]
    steps_per_second: NotRequired[float | None]
    total_timesteps: NotRequired[int | None]
    timesteps_done: NotRequired[int | None]
    progress_pct: NotRequired[float | None]


class TrainingEpisode(TypedDict):
    """One reported episode of a training run."""

    episode: int
    roi_pct: float
    sharpe_ratio: float | None
    max_drawdown_pct: float
    total_trades: int
    reward_sum: float
    steps: NotRequired[int | None]
    session_id: NotRequired[str | None]
    started_at: NotRequired[str | None]
    ended_at: NotRequired[str | None]
    sortino_ratio: NotRequired[float | None]
    win_rate: NotRequired[float | None]
    final_equity: NotRequired[float | None]
    terminated: NotRequired[bool | None]
    truncated: NotRequired[bool | None]
    metrics: NotRequired[dict[str, Any] | None]


class CurvePoint(TypedDict):
    """One point of a learning curve; ``smoothed`` is the trailing mean of the last ``window`` values."""

    episode: int
    value: float | None
    smoothed: float | None


class LearningCurve(TypedDict):
    """``GET /training/runs/{id}/learning-curve``."""

    metric: TrainingMetric
    window: int
    curve: list[CurvePoint]
    n_total: NotRequired[int]
    n_returned: NotRequired[int]
    method: NotRequired[str]
    max_points: NotRequired[int | None]


class TrainingRunDetail(TrainingRun):
    """``GET /training/runs/{id}``: the run, its config, its episodes and a smoothed curve."""

    config: dict[str, Any]
    episodes: list[TrainingEpisode]
    learning_curve: list[CurvePoint]
    final_stats: NotRequired[dict[str, Any] | None]
    train_metrics: NotRequired[dict[str, Any] | None]
    episodes_total: NotRequired[int]
    episodes_limit: NotRequired[int]
    episodes_offset: NotRequired[int]
    episodes_truncated: NotRequired[bool]
    learning_curve_meta: NotRequired[dict[str, Any]]


class ComparisonRun(TypedDict, total=False):
    """One run's column in a comparison."""

    run_id: str
    strategy_label: str
    env_id: str | None
    status: RunStatus
    total_episodes: int
    avg_roi_pct: float | None
    best_roi_pct: float | None
    worst_roi_pct: float | None
    last_roi_pct: float | None
    avg_sharpe: float | None
    avg_max_drawdown_pct: float | None
    avg_trades: float | None
    avg_reward: float | None
    started_at: str
    completed_at: str | None
    duration_seconds: float | None


class Comparison(TypedDict, total=False):
    """``GET /training/compare``: aggregates side by side and the best run per metric."""

    runs: list[ComparisonRun]
    best: dict[str, str | None]


class EpisodeReport(TypedDict, total=False):
    """Answer to ``POST /training/runs/{id}/episodes``: how many were new and how many resends."""

    run_id: str
    accepted: int
    duplicates: int
    total_episodes: int
    status: RunStatus


class Heartbeat(TypedDict, total=False):
    """Answer to ``POST /training/runs/{id}/heartbeat``."""

    run_id: str
    status: RunStatus
    accepted: bool
    last_heartbeat_at: str


# --- evaluations (strategy tests) -----------------------------------------------------------


class EvaluationWindow(TypedDict):
    """One held-out episode, the same candles for every agent (times in epoch ms)."""

    episode: int
    seed: int | None
    start_index: int | None
    end_index: int | None
    start_time: int
    end_time: int
    steps: int


class EvaluationAgentSummary(TypedDict):
    """Means over one agent's episodes (``std_roi_pct``: sample standard deviation)."""

    episodes: int
    mean_roi_pct: float
    std_roi_pct: float
    mean_sharpe_ratio: float
    mean_max_drawdown_pct: float
    mean_total_trades: float
    mean_win_rate: float | None
    mean_total_fees: float | None


class EvaluationEpisode(TypedDict):
    """One agent's metrics on one episode (after fees)."""

    episode: int
    roi_pct: float
    sharpe_ratio: float
    max_drawdown_pct: float
    total_trades: int
    sortino_ratio: float | None
    win_rate: float | None
    exposure_pct: float | None
    final_equity: float | None
    total_fees: float | None
    reward_sum: float | None
    steps: int | None


class EvaluationAgent(TypedDict):
    """An agent of an evaluation: the evaluated ``model`` or a rule-based ``baseline``."""

    name: str
    kind: Literal["model", "baseline"]
    summary: EvaluationAgentSummary


class EvaluationAgentDetail(EvaluationAgent):
    """An agent with its per-episode metrics."""

    episodes: list[EvaluationEpisode]


class EvaluationSummary(TypedDict):
    """An evaluation as listed by ``GET /evaluations``: verdict and agent summaries."""

    evaluation_id: str
    run_id: str | None
    name: str | None
    model: str
    env_id: str
    seed: int | None
    deterministic: bool
    n_episodes: int
    created_at: str
    beats_buy_and_hold: bool | None
    episodes_won_vs_buy_and_hold: int | None
    roi_gap_vs_buy_and_hold_pct: float | None
    agents: list[EvaluationAgent]


class Evaluation(TypedDict):
    """``GET /evaluations/{id}`` (and the answer to ``POST /evaluations``): everything recorded."""

    evaluation_id: str
    run_id: str | None
    name: str | None
    model: str
    env_id: str
    seed: int | None
    deterministic: bool
    n_episodes: int
    created_at: str
    beats_buy_and_hold: bool | None
    episodes_won_vs_buy_and_hold: int | None
    roi_gap_vs_buy_and_hold_pct: float | None
    env_config: dict[str, Any]
    episodes: list[EvaluationWindow]
    agents: list[EvaluationAgentDetail]
