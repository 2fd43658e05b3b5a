"""The asynchronous client: the same methods as ``AgentExchangeClient``, awaited."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from agentexchange import _endpoints as api
from agentexchange._base import BaseClient, Call, TimeoutTypes, retry_policy
from agentexchange._config import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from agentexchange._endpoints import TimeLike
from agentexchange._stream import AsyncBacktestStream, stream_url
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

__all__ = ["AsyncAgentExchangeClient"]

T = TypeVar("T")


class AsyncAgentExchangeClient(BaseClient):
    """Async client for the TradeReady REST API, method for method like ``AgentExchangeClient``.

    Usage::

        from agentexchange import AsyncAgentExchangeClient

        async with AsyncAgentExchangeClient(api_key="ak_live_...") as client:
            runs = await client.get_training_runs(status="completed", limit=10)
            curve = await client.get_learning_curve(runs[0]["run_id"], metric="sharpe_ratio")

    Arguments, configuration, retries and errors are those of ``AgentExchangeClient``;
    ``http_client`` is an ``httpx.AsyncClient`` and is not closed by :meth:`close`.
    """

    _sleep = staticmethod(asyncio.sleep)

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            kind = f"{type(http_client).__module__}.{type(http_client).__qualname__}"
            raise TypeError(
                f"http_client must be an httpx.AsyncClient, got {kind} (AgentExchangeClient takes an httpx.Client; "
                "starlette's TestClient qualifies while it is built on httpx, not on httpx2)"
            )
        super().__init__(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries, http_client=http_client
        )
        self._http_owned = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)

    def _http_base_url(self) -> httpx.URL:
        return self._http.base_url

    # --- lifecycle ------------------------------------------------------------------------

    async def close(self) -> None:
        """Close the connection pool (an injected ``http_client`` is left open)."""
        if self._http_owned:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def with_options(self, *, timeout: TimeoutTypes | None = None, max_retries: int | None = None) -> Self:
        """A client sharing this one's connections with another timeout and/or retry count.

        ``client.with_options(max_retries=0, timeout=2.0).send_heartbeat(...)``; an argument left
        at ``None`` keeps this client's value. Closing the copy leaves the connections open.
        """
        clone = copy.copy(self)
        clone._http_owned = False
        if timeout is not None:
            clone._timeout = timeout
        if max_retries is not None:
            clone._retry = retry_policy(max_retries)
        return clone

    # --- the one send loop ----------------------------------------------------------------

    async def _send(self, call: Call[T]) -> T:
        request = self._build_request(self._http, call)
        attempt = 0
        while True:
            try:
                response = await self._http.send(request)
            except httpx.TransportError as exc:
                delay = self._retry.after_error(exc, retry_safe=call.retry_safe, attempt=attempt)
                if delay is None:
                    raise self._connection_error(request, exc) from exc
                reason = type(exc).__name__
            else:
                delay = self._retry.after_response(response, retry_safe=call.retry_safe, attempt=attempt)
                if delay is None:
                    return self._process_response(call, response)
                await response.aclose()
                reason = f"HTTP {response.status_code}"
            self._log_retry(request, reason, delay, attempt)
            await self._sleep(delay)
            attempt += 1

    # --- meta, account, keys --------------------------------------------------------------

    async def health(self) -> Health:
        """``GET /health`` (no key needed): ``{"status": "ok"}`` when the platform is up."""
        return await self._send(api.health())

    async def meta(self) -> Meta:
        """``GET /meta`` (no key needed): platform and API versions."""
        return await self._send(api.meta())

    async def get_account(self) -> Account:
        """``GET /account``: the account the key belongs to."""
        return await self._send(api.get_account())

    async def list_keys(self) -> list[ApiKey]:
        """``GET /keys``: the account's keys (prefixes only, never secrets)."""
        return await self._send(api.list_keys())

    async def create_key(self, name: str = "default") -> CreatedApiKey:
        """``POST /keys``: a new key; the answer's ``api_key`` is shown this once."""
        return await self._send(api.create_key(name))

    async def revoke_key(self, key_id: str) -> ApiKey:
        """``DELETE /keys/{key_id}``: revoke a key; requests with it answer 401 from now on."""
        return await self._send(api.revoke_key(key_id))

    # --- market data ----------------------------------------------------------------------

    async def get_market_symbols(self) -> list[Dataset]:
        """``GET /market/symbols``: the stored datasets (symbol, timeframe, range, count, gaps, source)."""
        return await self._send(api.get_market_symbols())

    async def get_candles(
        self, symbol: str, timeframe: str, start: TimeLike | None = None, end: TimeLike | None = None
    ) -> Candles:
        """``GET /market/candles``: one range, columnar (``open_time`` in ms, ``open``... ``volume``)."""
        return await self._send(api.get_candles(symbol, timeframe, start, end))

    # --- backtest sessions ----------------------------------------------------------------

    async def create_backtest(
        self,
        *,
        symbols: Sequence[str],
        timeframe: str,
        start_time: TimeLike,
        end_time: TimeLike,
        starting_balance: float = 10_000.0,
        fee_rate: float = 0.001,
        slippage_bps: float = 5.0,
        allow_short: bool = False,
        strategy_label: str = "default",
        episode_length: int | None = None,
        seed: int | None = None,
        training_run_id: str | None = None,
        **options: Any,
    ) -> Backtest:
        """``POST /backtests``: a new session over ``symbols`` between ``start_time`` and ``end_time``.

        ``options`` are further engine fields sent as given (``max_leverage``, ``borrow_rate_annual``,
        ``maintenance_margin``, ``min_trade_value``). Not retried: each call creates a session.
        """
        return await self._send(
            api.create_backtest(
                symbols=symbols,
                timeframe=timeframe,
                start_time=start_time,
                end_time=end_time,
                starting_balance=starting_balance,
                fee_rate=fee_rate,
                slippage_bps=slippage_bps,
                allow_short=allow_short,
                strategy_label=strategy_label,
                episode_length=episode_length,
                seed=seed,
                training_run_id=training_run_id,
                **options,
            )
        )

    async def get_backtest(self, backtest_id: str) -> Backtest:
        """``GET /backtests/{id}``."""
        return await self._send(api.get_backtest(backtest_id))

    async def list_backtests(
        self,
        status: str | None = None,
        strategy_label: str | None = None,
        exclude_label_prefix: str | None = None,
        source: str | None = None,
        training_run_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Backtest]:
        """``GET /backtests``: sessions, newest first, filtered (``exclude_label_prefix`` hides labels)."""
        return await self._send(
            api.list_backtests(
                status=status,
                strategy_label=strategy_label,
                exclude_label_prefix=exclude_label_prefix,
                source=source,
                training_run_id=training_run_id,
                limit=limit,
                offset=offset,
            )
        )

    async def step_backtest(
        self,
        backtest_id: str,
        steps: int = 1,
        targets: Sequence[float | None] | Mapping[str, float | None] | None = None,
    ) -> StepResult:
        """``POST /backtests/{id}/step``: advance ``steps`` bars, first moving to ``targets`` weights.

        Not retried: a step that reached the platform must not be applied twice.
        """
        return await self._send(api.step_backtest(backtest_id, steps, targets))

    async def stream_backtest(self, backtest_id: str) -> AsyncBacktestStream:
        """Open the session's step stream (a WebSocket): :meth:`AsyncBacktestStream.step` is
        :meth:`step_backtest` at a fraction of the cost per step::

            async with await client.stream_backtest(session["session_id"]) as stream:
                result = await stream.step(targets=[0.5])
        """
        return await AsyncBacktestStream.open(
            stream_url(self.base_url, backtest_id),
            backtest_id,
            api_key=self._api_key,
            user_agent=self._headers["User-Agent"],
            timeout=self._timeout,
        )

    async def place_order(
        self,
        backtest_id: str,
        *,
        symbol: str,
        side: str,
        type: str = "market",
        quantity: float,
        price: float | None = None,
    ) -> Order:
        """``POST /backtests/{id}/orders``: ``side`` buy/sell; ``type`` market, limit, stop_loss, take_profit."""
        return await self._send(
            api.place_order(backtest_id, symbol=symbol, side=side, type=type, quantity=quantity, price=price)
        )

    async def cancel_order(self, backtest_id: str, order_id: str) -> Order:
        """``DELETE /backtests/{id}/orders/{order_id}``: cancel a pending order."""
        return await self._send(api.cancel_order(backtest_id, order_id))

    async def get_portfolio(self, backtest_id: str) -> Portfolio:
        """``GET /backtests/{id}/portfolio``: cash, equity and positions now."""
        return await self._send(api.get_portfolio(backtest_id))

    async def get_orders(self, backtest_id: str) -> list[Order]:
        """``GET /backtests/{id}/orders``."""
        return await self._send(api.get_orders(backtest_id))

    async def get_trades(self, backtest_id: str, limit: int | None = None, offset: int = 0) -> list[Trade]:
        """``GET /backtests/{id}/trades``: the fills, oldest first."""
        return await self._send(api.get_trades(backtest_id, limit, offset))

    async def get_equity_curve(self, backtest_id: str) -> EquityCurve:
        """``GET /backtests/{id}/equity-curve``."""
        return await self._send(api.get_equity_curve(backtest_id))

    async def get_backtest_results(self, backtest_id: str) -> BacktestResults:
        """``GET /backtests/{id}/results``: the engine's metrics for the session."""
        return await self._send(api.get_backtest_results(backtest_id))

    async def cancel_backtest(self, backtest_id: str) -> Backtest:
        """``POST /backtests/{id}/cancel``."""
        return await self._send(api.cancel_backtest(backtest_id))

    async def replay_episode(self, payload: Mapping[str, Any]) -> Backtest:
        """``POST /backtests/replay``: store a locally stepped episode's authoritative results."""
        return await self._send(api.replay_episode(payload))

    # --- training runs: reads -------------------------------------------------------------

    async def get_training_runs(
        self, status: str | None = None, limit: int = 20, offset: int = 0, strategy_label: str | None = None
    ) -> list[TrainingRun]:
        """``GET /training/runs``: the runs (``status``: running, completed, abandoned, failed)."""
        return await self._send(api.get_training_runs(status, limit, offset, strategy_label))

    async def get_training_run(
        self, run_id: str, episodes_limit: int | None = None, episodes_offset: int = 0
    ) -> TrainingRunDetail:
        """``GET /training/runs/{id}``: aggregates, config, ``episodes`` and a ``learning_curve``.

        ``episodes_limit``/``episodes_offset`` page through the episodes of very large runs.
        """
        return await self._send(api.get_training_run(run_id, episodes_limit, episodes_offset))

    async def get_learning_curve(
        self, run_id: str, metric: str = "roi_pct", window: int = 10, max_points: int | None = None
    ) -> LearningCurve:
        """``GET /training/runs/{id}/learning-curve``: ``{"metric", "window", "curve": [...]}``.

        ``metric``: roi_pct, sharpe_ratio, max_drawdown_pct, total_trades or reward_sum;
        ``smoothed`` is the mean of the last ``window`` values; ``max_points`` downsamples.
        """
        return await self._send(api.get_learning_curve(run_id, metric, window, max_points))

    async def compare_training_runs(self, run_ids: Sequence[str]) -> Comparison:
        """``GET /training/compare``: aggregates of the runs side by side, best run per metric."""
        return await self._send(api.compare_training_runs(run_ids))

    # --- training runs: writes (used by the gym's tracker; all safe to resend) -------------

    async def create_training_run(
        self,
        *,
        strategy_label: str,
        run_id: str | None = None,
        env_id: str | None = None,
        config: Mapping[str, Any] | None = None,
        total_timesteps: int | None = None,
        **fields: Any,
    ) -> TrainingRun:
        """``POST /training/runs``: register a run and get its ``run_id``.

        With a client-chosen ``run_id`` (``run_`` + letters, digits, ``_``, ``-``) registering is
        idempotent, so it is retried; ``config`` holds the env, reward, wrappers and versions;
        ``fields`` are sent as further top-level fields.
        """
        return await self._send(
            api.create_training_run(
                run_id=run_id,
                strategy_label=strategy_label,
                env_id=env_id,
                config=config,
                total_timesteps=total_timesteps,
                **fields,
            )
        )

    async def report_episodes(self, run_id: str, episodes: Sequence[Mapping[str, Any]]) -> EpisodeReport:
        """``POST /training/runs/{id}/episodes`` with ``{"episodes": [...]}``; resends are ignored."""
        return await self._send(api.report_episodes(run_id, episodes))

    async def report_episode(self, run_id: str, episode: Mapping[str, Any]) -> EpisodeReport:
        """``POST /training/runs/{id}/episodes`` with one episode (``episode`` number required)."""
        return await self._send(api.report_episode(run_id, episode))

    async def complete_training_run(
        self, run_id: str, final_stats: Mapping[str, Any] | None = None, status: str | None = None
    ) -> TrainingRun:
        """``POST /training/runs/{id}/complete``: mark the run completed (idempotent).

        ``status="failed"`` records a run whose trainer crashed; ``final_stats`` is stored as given.
        """
        return await self._send(api.complete_training_run(run_id, final_stats, status))

    async def send_heartbeat(
        self,
        run_id: str,
        *,
        step: int,
        episode: int,
        episode_steps: int,
        steps_per_second: float,
        total_timesteps: int | None = None,
        timesteps_done: int | None = None,
        episode_length: int | None = None,
        train_metrics: Mapping[str, Any] | None = None,
    ) -> Heartbeat:
        """``POST /training/runs/{id}/heartbeat``: live progress; keeps the run from being abandoned.

        ``step`` within the current ``episode`` (``episode_steps`` so far, of ``episode_length``
        when known), overall ``timesteps_done`` of ``total_timesteps``, and the latest
        ``train_metrics`` (losses) of the algorithm.
        """
        return await self._send(
            api.send_heartbeat(
                run_id,
                step=step,
                episode=episode,
                episode_steps=episode_steps,
                steps_per_second=steps_per_second,
                total_timesteps=total_timesteps,
                timesteps_done=timesteps_done,
                episode_length=episode_length,
                train_metrics=train_metrics,
            )
        )

    # --- evaluations (strategy tests) -----------------------------------------------------

    async def record_evaluation(self, payload: Mapping[str, Any]) -> Evaluation:
        """``POST /evaluations``: record a model and baselines evaluated on the same episodes.

        ``payload`` is what ``tradeready_gym.evaluate`` builds (``EvaluationResult.to_payload()``):
        ``run_id`` (optional), ``model``, ``env_id``, ``env_config``, ``episodes`` (the windows) and
        ``agents`` (per-agent per-episode metrics). With a client ``evaluation_id`` it is retried
        safely and stored once.
        """
        return await self._send(api.record_evaluation(payload))

    async def list_evaluations(
        self, run_id: str | None = None, limit: int = 20, offset: int = 0
    ) -> list[EvaluationSummary]:
        """``GET /evaluations``: the account's evaluations, newest first (of one training run with ``run_id``).

        Each has ``beats_buy_and_hold`` (the model's mean ROI after fees above buy-and-hold's) and
        every agent's ``summary``.
        """
        return await self._send(api.list_evaluations(run_id, limit, offset))

    async def get_evaluation(self, evaluation_id: str) -> Evaluation:
        """``GET /evaluations/{id}``: the episode windows and every agent's per-episode metrics."""
        return await self._send(api.get_evaluation(evaluation_id))
