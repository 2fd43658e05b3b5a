"""Every REST endpoint as a function that builds a :class:`~agentexchange._base.Call`.

The sync and async clients are thin: each method forwards its arguments here and sends the
result. Argument checks live here too, but only where they say more than the platform's own
422 would (the platform stays the authority).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from agentexchange._base import Call, format_time
from agentexchange._errors import InvalidArgumentError
from agentexchange.types import (
    Account,
    ApiKey,
    Backtest,
    BacktestResults,
    Candles,
    Comparison,
    CreatedApiKey,
    Dataset,
    EpisodeReport,
    EquityCurve,
    Evaluation,
    EvaluationSummary,
    Health,
    Heartbeat,
    LearningCurve,
    Meta,
    Order,
    Portfolio,
    StepResult,
    Trade,
    TrainingRun,
    TrainingRunDetail,
)

__all__ = [
    "ORDER_SIDES",
    "ORDER_TYPES",
    "TRAINING_METRICS",
    "TimeLike",
]

TimeLike = str | int | datetime
"""A time argument: ISO 8601 string, milliseconds since the epoch, or a datetime (naive = UTC)."""

TRAINING_METRICS = ("roi_pct", "sharpe_ratio", "max_drawdown_pct", "total_trades", "reward_sum")
ORDER_SIDES = ("buy", "sell")
ORDER_TYPES = ("market", "limit", "stop_loss", "take_profit")


# --- parsing --------------------------------------------------------------------------------


def _object(data: Any) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return data


def _list_in(*keys: str) -> Callable[[Any], Any]:
    """Parser of a collection answer: ``{"<key>": [...]}`` (first key found), or a bare list."""

    def parse(data: Any) -> Any:
        if isinstance(data, list):
            return data
        if isinstance(data, dict):
            for key in keys:
                if isinstance(data.get(key), list):
                    return data[key]
            raise ValueError(f"expected a list under {' or '.join(map(repr, keys))}, got keys {sorted(data)}")
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")

    return parse


# --- arguments ------------------------------------------------------------------------------


def _segment(name: str, value: str) -> str:
    """An id as one URL path segment (quoted, so an id can never reach another route)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{name} must be a non-empty string, got {value!r}")
    return quote(value, safe="")


def _int(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgumentError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _choice(name: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise InvalidArgumentError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _time(value: TimeLike | None) -> str | int | None:
    if isinstance(value, datetime):
        return format_time(value)
    return value


def _drop_none(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


# --- meta, account, keys --------------------------------------------------------------------


def health() -> Call[Health]:
    return Call("GET", "/health", _object, authenticated=False)


def meta() -> Call[Meta]:
    return Call("GET", "/meta", _object, authenticated=False)


def get_account() -> Call[Account]:
    return Call("GET", "/account", _object)


def list_keys() -> Call[list[ApiKey]]:
    return Call("GET", "/keys", _list_in("keys"))


def create_key(name: str) -> Call[CreatedApiKey]:
    return Call("POST", "/keys", _object, body={"name": name})


def revoke_key(key_id: str) -> Call[ApiKey]:
    return Call("DELETE", f"/keys/{_segment('key_id', key_id)}", _object)


# --- market data ----------------------------------------------------------------------------


def get_market_symbols() -> Call[list[Dataset]]:
    return Call("GET", "/market/symbols", _list_in("datasets"))


def get_candles(symbol: str, timeframe: str, start: TimeLike | None, end: TimeLike | None) -> Call[Candles]:
    params = {"symbol": symbol, "timeframe": timeframe, "start": _time(start), "end": _time(end)}
    return Call("GET", "/market/candles", _object, params=params)


# --- backtest sessions ----------------------------------------------------------------------


def create_backtest(
    *,
    symbols: Sequence[str],
    timeframe: str,
    start_time: TimeLike,
    end_time: TimeLike,
    starting_balance: float,
    fee_rate: float,
    slippage_bps: float,
    allow_short: bool,
    strategy_label: str,
    episode_length: int | None,
    seed: int | None,
    training_run_id: str | None,
    **options: Any,
) -> Call[Backtest]:
    if isinstance(symbols, str):
        symbols = [symbols]
    if not symbols:
        raise InvalidArgumentError("symbols must name at least one symbol, got an empty list")
    body = _drop_none(
        symbols=list(symbols),
        timeframe=timeframe,
        start_time=_time(start_time),
        end_time=_time(end_time),
        starting_balance=starting_balance,
        fee_rate=fee_rate,
        slippage_bps=slippage_bps,
        allow_short=allow_short,
        strategy_label=strategy_label,
        episode_length=None if episode_length is None else _int("episode_length", episode_length, 1),
        seed=seed,
        training_run_id=training_run_id,
        **options,
    )
    return Call("POST", "/backtests", _object, body=body)


def get_backtest(backtest_id: str) -> Call[Backtest]:
    return Call("GET", f"/backtests/{_segment('backtest_id', backtest_id)}", _object)


def list_backtests(
    *,
    status: str | None,
    strategy_label: str | None,
    exclude_label_prefix: str | None,
    source: str | None,
    training_run_id: str | None,
    limit: int,
    offset: int,
) -> Call[list[Backtest]]:
    params = {
        "status": status,
        "strategy_label": strategy_label,
        "exclude_label_prefix": exclude_label_prefix,
        "source": source,
        "training_run_id": training_run_id,
        "limit": limit,
        "offset": offset,
    }
    return Call("GET", "/backtests", _list_in("backtests", "sessions"), params=params)


def step_backtest(
    backtest_id: str, steps: int, targets: Sequence[float | None] | Mapping[str, float | None] | None
) -> Call[StepResult]:
    body: dict[str, Any] = {"steps": _int("steps", steps, 1)}
    if targets is not None:
        body["targets"] = dict(targets) if isinstance(targets, Mapping) else list(targets)
    return Call("POST", f"/backtests/{_segment('backtest_id', backtest_id)}/step", parse_step_result, body=body)


def stream_backtest_path(backtest_id: str) -> str:
    """The path of a session's step stream (a WebSocket, not a :class:`Call`); its messages are
    :func:`step_backtest` bodies and answers."""
    return f"/backtests/{_segment('backtest_id', backtest_id)}/stream"


def parse_step_result(data: Any) -> StepResult:
    """A step answer (of ``POST /backtests/{id}/step`` or of the step stream)."""
    parsed: StepResult = _object(data)
    return parsed


def place_order(
    backtest_id: str, *, symbol: str, side: str, type: str, quantity: float, price: float | None
) -> Call[Order]:
    body = _drop_none(
        symbol=symbol,
        side=_choice("side", side, ORDER_SIDES),
        type=_choice("type", type, ORDER_TYPES),
        quantity=quantity,
        price=price,
    )
    if type != "market" and price is None:
        raise InvalidArgumentError(f"a {type} order needs a price, got price=None")
    return Call("POST", f"/backtests/{_segment('backtest_id', backtest_id)}/orders", _object, body=body)


def cancel_order(backtest_id: str, order_id: str) -> Call[Order]:
    path = f"/backtests/{_segment('backtest_id', backtest_id)}/orders/{_segment('order_id', order_id)}"
    return Call("DELETE", path, _object)


def get_portfolio(backtest_id: str) -> Call[Portfolio]:
    return Call("GET", f"/backtests/{_segment('backtest_id', backtest_id)}/portfolio", _object)


def get_orders(backtest_id: str) -> Call[list[Order]]:
    return Call("GET", f"/backtests/{_segment('backtest_id', backtest_id)}/orders", _list_in("orders"))


def get_trades(backtest_id: str, limit: int | None, offset: int) -> Call[list[Trade]]:
    params = {"limit": limit, "offset": offset or None}
    path = f"/backtests/{_segment('backtest_id', backtest_id)}/trades"
    return Call("GET", path, _list_in("trades"), params=params)


def get_equity_curve(backtest_id: str) -> Call[EquityCurve]:
    return Call("GET", f"/backtests/{_segment('backtest_id', backtest_id)}/equity-curve", _object)


def get_backtest_results(backtest_id: str) -> Call[BacktestResults]:
    return Call("GET", f"/backtests/{_segment('backtest_id', backtest_id)}/results", _object)


def cancel_backtest(backtest_id: str) -> Call[Backtest]:
    path = f"/backtests/{_segment('backtest_id', backtest_id)}/cancel"
    return Call("POST", path, _object, body={}, idempotent=True)


def replay_episode(payload: Mapping[str, Any]) -> Call[Backtest]:
    if not isinstance(payload, Mapping):
        raise InvalidArgumentError(f"payload must be a dict, got {type(payload).__name__}")
    return Call("POST", "/backtests/replay", _object, body=dict(payload))


# --- training runs: reads -------------------------------------------------------------------


def get_training_runs(
    status: str | None, limit: int, offset: int, strategy_label: str | None
) -> Call[list[TrainingRun]]:
    params = {"status": status, "limit": limit, "offset": offset, "strategy_label": strategy_label}
    return Call("GET", "/training/runs", _list_in("runs"), params=params)


def get_training_run(run_id: str, episodes_limit: int | None, episodes_offset: int) -> Call[TrainingRunDetail]:
    params = {"episodes_limit": episodes_limit, "episodes_offset": episodes_offset or None}
    return Call("GET", f"/training/runs/{_segment('run_id', run_id)}", _object, params=params)


def get_learning_curve(run_id: str, metric: str, window: int, max_points: int | None) -> Call[LearningCurve]:
    params: dict[str, str | int | None] = {
        "metric": _choice("metric", metric, TRAINING_METRICS),
        "window": _int("window", window, 1),
        "max_points": None if max_points is None else _int("max_points", max_points, 2),
    }
    path = f"/training/runs/{_segment('run_id', run_id)}/learning-curve"
    return Call("GET", path, _object, params=params)


def compare_training_runs(run_ids: Sequence[str]) -> Call[Comparison]:
    if isinstance(run_ids, str):
        raise InvalidArgumentError(f"run_ids must be a list of run ids, got the string {run_ids!r}")
    ids = list(run_ids)
    if not ids:
        raise InvalidArgumentError("run_ids must name at least one run, got an empty list")
    for run_id in ids:
        if not isinstance(run_id, str) or not run_id.strip() or "," in run_id:
            raise InvalidArgumentError(f"each run id must be a non-empty string without commas, got {run_id!r}")
    return Call("GET", "/training/compare", _object, params={"run_ids": ",".join(ids)})


# --- training runs: writes (all idempotent by design) ---------------------------------------


def create_training_run(
    *,
    run_id: str | None,
    strategy_label: str,
    env_id: str | None,
    config: Mapping[str, Any] | None,
    total_timesteps: int | None,
    **fields: Any,
) -> Call[TrainingRun]:
    body = _drop_none(
        run_id=run_id,
        strategy_label=strategy_label,
        env_id=env_id,
        config=None if config is None else dict(config),
        total_timesteps=total_timesteps,
        **fields,
    )
    # The same client-chosen run_id registers the run once, however often it is sent.
    return Call("POST", "/training/runs", _object, body=body, idempotent=run_id is not None)


def _check_episode(episode: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(episode, Mapping):
        raise InvalidArgumentError(f"{where} must be a dict of episode metrics, got {type(episode).__name__}")
    if "episode" not in episode:
        raise InvalidArgumentError(
            f"{where} has no 'episode' number (got keys {sorted(episode)}); episode numbers make resends idempotent"
        )
    return dict(episode)


def report_episodes(run_id: str, episodes: Sequence[Mapping[str, Any]]) -> Call[EpisodeReport]:
    if isinstance(episodes, Mapping):
        raise InvalidArgumentError("episodes must be a list of episode dicts; use report_episode() for one")
    batch = [_check_episode(episode, f"episodes[{index}]") for index, episode in enumerate(episodes)]
    if not batch:
        raise InvalidArgumentError("episodes must hold at least one episode, got an empty list")
    path = f"/training/runs/{_segment('run_id', run_id)}/episodes"
    return Call("POST", path, _object, body={"episodes": batch}, idempotent=True)


def report_episode(run_id: str, episode: Mapping[str, Any]) -> Call[EpisodeReport]:
    path = f"/training/runs/{_segment('run_id', run_id)}/episodes"
    return Call("POST", path, _object, body=_check_episode(episode, "episode"), idempotent=True)


def complete_training_run(run_id: str, final_stats: Mapping[str, Any] | None, status: str | None) -> Call[TrainingRun]:
    body = _drop_none(
        status=None if status is None else _choice("status", status, ("completed", "failed")),
        final_stats=None if final_stats is None else dict(final_stats),
    )
    path = f"/training/runs/{_segment('run_id', run_id)}/complete"
    return Call("POST", path, _object, body=body, idempotent=True)


def send_heartbeat(
    run_id: str,
    *,
    step: int,
    episode: int,
    episode_steps: int,
    steps_per_second: float,
    total_timesteps: int | None,
    timesteps_done: int | None,
    episode_length: int | None,
    train_metrics: Mapping[str, Any] | None,
) -> Call[Heartbeat]:
    body = _drop_none(
        step=step,
        episode=episode,
        episode_steps=episode_steps,
        steps_per_second=steps_per_second,
        total_timesteps=total_timesteps,
        timesteps_done=timesteps_done,
        episode_length=episode_length,
        train_metrics=None if train_metrics is None else dict(train_metrics),
    )
    path = f"/training/runs/{_segment('run_id', run_id)}/heartbeat"
    return Call("POST", path, _object, body=body, idempotent=True)


# --- evaluations (strategy tests) -----------------------------------------------------------


def record_evaluation(payload: Mapping[str, Any]) -> Call[Evaluation]:
    if not isinstance(payload, Mapping):
        raise InvalidArgumentError(f"payload must be a dict, got {type(payload).__name__}")
    body = dict(payload)
    # With a client-chosen evaluation_id the platform stores the evaluation once, however often it is sent.
    return Call("POST", "/evaluations", _object, body=body, idempotent=body.get("evaluation_id") is not None)


def list_evaluations(run_id: str | None, limit: int, offset: int) -> Call[list[EvaluationSummary]]:
    if run_id is not None:
        _segment("run_id", run_id)  # checks it is a non-empty string
    params = {
        "run_id": run_id,
        "limit": _int("limit", limit, 1),
        "offset": _int("offset", offset, 0) or None,
    }
    return Call("GET", "/evaluations", _list_in("evaluations"), params=params)


def get_evaluation(evaluation_id: str) -> Call[Evaluation]:
    return Call("GET", f"/evaluations/{_segment('evaluation_id', evaluation_id)}", _object)
