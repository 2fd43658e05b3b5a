"""Backtest-session routes (thin: parse, call :class:`~tradeready.server.services.backtests.BacktestService`).

Every route with a session id answers 404 ``session_not_found`` for another account's session,
before anything is written. The step route answers pre-serialised JSON (it is the hot path);
the step stream (a WebSocket) carries the same requests and answers without HTTP's per-request cost.
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response, WebSocket, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from tradeready.server.api.deps import AuthContext, CurrentAccount, SessionDep, run_authenticated
from tradeready.server.api.hot import hot, validate_json_body
from tradeready.server.errors import PayloadTooLargeError, error_envelope
from tradeready.server.schemas.backtests import (
    BacktestCreate,
    BacktestList,
    BacktestPublic,
    BacktestResultsPublic,
    BacktestStep,
    EquityCurvePublic,
    OrderCreate,
    OrderPublic,
    OrdersPublic,
    PortfolioPublic,
    ReplayCreate,
    ReplayPublic,
    StepPublic,
    TradesPublic,
)
from tradeready.server.services.backtests import BacktestLimits, BacktestRuntime, BacktestService
from tradeready.server.store.backtests import SessionFilter
from tradeready.server.store.models.backtests import BacktestSession
from tradeready_core.data import format_ms

__all__ = ["RuntimeDep", "get_runtime", "router", "session_public"]

router = APIRouter(tags=["backtests"])
_runtime_lock = threading.Lock()
logger = logging.getLogger("tradeready.server")


async def get_runtime(request: HTTPConnection) -> BacktestRuntime:
    """The app's backtest runtime (simulator cache, limits), created on first use.

    ``async`` on purpose: it does no I/O, so it runs on the event loop instead of a thread hop.
    """
    state = request.app.state
    runtime: BacktestRuntime | None = getattr(state, "backtest_runtime", None)
    if runtime is None:
        with _runtime_lock:
            runtime = getattr(state, "backtest_runtime", None)
            if runtime is None:
                runtime = BacktestRuntime(BacktestLimits.from_settings(state.settings))
                state.backtest_runtime = runtime
    return runtime


RuntimeDep = Annotated[BacktestRuntime, Depends(get_runtime)]


async def _service(session: SessionDep, runtime: RuntimeDep) -> BacktestService:
    return BacktestService(session, runtime)


ServiceDep = Annotated[BacktestService, Depends(_service)]


def session_public(row: BacktestSession) -> dict[str, Any]:
    """The wire form of a session."""
    return {
        "session_id": row.id,
        "status": row.status,
        "source": row.source,
        "symbols": list(row.symbols),
        "timeframe": row.timeframe,
        "start_time": format_ms(row.start_ms),
        "end_time": format_ms(row.end_ms),
        "episode_start_time": format_ms(row.first_bar_ms),
        "episode_end_time": format_ms(row.last_bar_ms),
        "starting_balance": row.starting_balance,
        "fee_rate": row.fee_rate,
        "slippage_bps": row.slippage_bps,
        "allow_short": row.allow_short,
        "engine_config": row.engine_config,
        "strategy_label": row.strategy_label,
        "episode_length": row.episode_length,
        "seed": row.seed,
        "training_run_id": row.training_run_id,
        "episode": row.episode,
        "dataset_fingerprint": row.dataset_fingerprint,
        "step": row.step,
        "total_steps": row.total_steps,
        "equity": row.equity,
        "cash": row.cash,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "completed_at": row.completed_at,
        "metrics": row.metrics,
        "client_metrics": row.client_metrics,
        "metrics_mismatch": row.metrics_mismatch,
    }


# the step route first: routes are matched in order and remote stepping is the most frequent request
@router.post("/backtests/{session_id}/step", response_model=StepPublic)
@hot
async def step_backtest(session_id: str, body: BacktestStep, request: Request) -> Response:
    """Advance ``steps`` bars with ``targets`` (``null`` = hold).

    The hot path of remote stepping: authentication, the step and the commit run in one
    :func:`~tradeready.server.api.deps.run_authenticated` call. A step of a session whose simulator
    is cached here and free runs on the event loop (a read, a guarded update and an insert); one
    that must rebuild the simulator from the stored log, or wait for another request of the same
    session, runs in a worker thread.
    """
    answer = await _step(request, await get_runtime(request), session_id, body)
    return Response(answer, media_type="application/json")


_INLINE_STEPS = 64
"""Steps of one request that may run on the event loop (longer requests go to a worker thread)."""


async def _step(request: HTTPConnection, runtime: BacktestRuntime, session_id: str, body: BacktestStep) -> bytes:
    """One step request of the HTTP route or the stream: the step's answer as JSON."""
    slot = runtime.cache.peek(session_id)
    hot = slot is not None and slot.sim is not None and not slot.lock.locked() and body.steps <= _INLINE_STEPS

    def work(db: Session, auth: AuthContext) -> dict[str, Any]:
        return BacktestService(db, runtime).step(auth.account.id, session_id, body)

    return orjson.dumps(await run_authenticated(request, work, inline=hot))


@router.websocket("/backtests/{session_id}/stream")
async def stream_backtest(websocket: WebSocket, session_id: str) -> None:
    """Remote stepping over one WebSocket: the fastest way to drive a session from another process.

    Authenticate the handshake like any request (``X-API-Key`` or ``Authorization: Bearer``); a
    missing key or another account's session is refused before the upgrade, with the HTTP status
    and error envelope the step route would answer (401, 404). Then each text or binary message is
    a step request, the body of ``POST /backtests/{id}/step`` (``{"steps": 1, "targets": [...]}``),
    and each answer, in order, is a text message: the step route's JSON, or ``{"status": <the
    HTTP status>, "error": {"code", "message", "details"}}`` (plus ``"retry_after"`` seconds when
    rate limited). An error answers that message only; the stream stays open. Every message is
    authenticated again (a revoked key stops the stream), rate limited and committed like a request.
    """
    runtime = await get_runtime(websocket)
    limit: int = websocket.app.state.settings.max_body_bytes

    def check(db: Session, auth: AuthContext) -> None:
        BacktestService(db, runtime).get(auth.account.id, session_id)

    try:
        await run_authenticated(websocket, check, inline=False)
    except Exception as exc:
        status_code, envelope, headers = error_envelope(exc)
        await websocket.send_denial_response(JSONResponse(envelope, status_code=status_code, headers=headers))
        return
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        raw: bytes = message["bytes"] if message.get("bytes") is not None else (message.get("text") or "").encode()
        websocket.state.auth = None  # every message is authenticated (and rate limited) again
        try:
            if len(raw) > limit:
                raise PayloadTooLargeError(f"a step message is at most {limit} bytes; got {len(raw)}")
            body = validate_json_body(BacktestStep, raw)
            answer = await _step(websocket, runtime, session_id, body)
        except Exception as exc:
            status_code, envelope, headers = error_envelope(exc)
            if status_code >= 500:
                logger.exception("unhandled error on the step stream of %s", session_id)
            envelope["status"] = status_code
            if "Retry-After" in headers:
                envelope["retry_after"] = float(headers["Retry-After"])
            answer = orjson.dumps(envelope)
        await websocket.send_text(answer.decode())


@router.post("/backtests", status_code=status.HTTP_201_CREATED)
def create_backtest(body: BacktestCreate, account: CurrentAccount, service: ServiceDep) -> BacktestPublic:
    """Create a session over stored candles (``[start_time, end_time)``, or a seeded window of it)."""
    return BacktestPublic.model_validate(session_public(service.create(account.id, body)))


@router.get("/backtests")
def list_backtests(
    account: CurrentAccount,
    service: ServiceDep,
    status: Literal["created", "running", "completed", "cancelled", "expired"] | None = None,
    strategy_label: Annotated[str | None, Query(max_length=100)] = None,
    exclude_label_prefix: Annotated[str | None, Query(max_length=100)] = None,
    source: Literal["api", "training"] | None = None,
    training_run_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> BacktestList:
    """The account's sessions, newest first; ``exclude_label_prefix`` hides e.g. training sessions."""
    where = SessionFilter(status, strategy_label, exclude_label_prefix, source, training_run_id)
    rows, total = service.list(account.id, where, limit=limit, offset=offset)
    return BacktestList(
        backtests=[BacktestPublic.model_validate(session_public(r)) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post("/backtests/replay", status_code=status.HTTP_201_CREATED)
def replay_backtest(
    body: ReplayCreate, account: CurrentAccount, service: ServiceDep, response: Response
) -> ReplayPublic:
    """Record a locally stepped episode; 201 when recorded, 200 when this episode was already recorded."""
    row, created = service.replay(account.id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return ReplayPublic.model_validate({**session_public(row), "created": created})


@router.get("/backtests/{session_id}")
def get_backtest(session_id: str, account: CurrentAccount, service: ServiceDep) -> BacktestPublic:
    return BacktestPublic.model_validate(session_public(service.get(account.id, session_id)))


@router.post("/backtests/{session_id}/orders", status_code=status.HTTP_201_CREATED)
def place_order(session_id: str, body: OrderCreate, account: CurrentAccount, service: ServiceDep) -> OrderPublic:
    """Queue an order (executed from the next step on, checked against each bar's high/low)."""
    return OrderPublic.model_validate(service.place_order(account.id, session_id, body))


@router.delete("/backtests/{session_id}/orders/{order_id}")
def cancel_order(session_id: str, order_id: str, account: CurrentAccount, service: ServiceDep) -> OrderPublic:
    return OrderPublic.model_validate(service.cancel_order(account.id, session_id, order_id))


@router.get("/backtests/{session_id}/portfolio")
def get_portfolio(session_id: str, account: CurrentAccount, service: ServiceDep) -> PortfolioPublic:
    return PortfolioPublic.model_validate(service.portfolio(account.id, session_id))


@router.get("/backtests/{session_id}/orders")
def get_orders(session_id: str, account: CurrentAccount, service: ServiceDep) -> OrdersPublic:
    return OrdersPublic.model_validate(service.orders(account.id, session_id))


@router.get("/backtests/{session_id}/trades")
def get_trades(
    session_id: str,
    account: CurrentAccount,
    service: ServiceDep,
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TradesPublic:
    return TradesPublic.model_validate(service.trades(account.id, session_id, limit=limit, offset=offset))


@router.get("/backtests/{session_id}/equity-curve", response_model=EquityCurvePublic)
def get_equity_curve(session_id: str, account: CurrentAccount, service: ServiceDep) -> Response:
    """Equity at each bar's close (columnar; bar open times in epoch ms)."""
    return Response(orjson.dumps(service.equity_curve(account.id, session_id)), media_type="application/json")


@router.get("/backtests/{session_id}/results")
def get_results(session_id: str, account: CurrentAccount, service: ServiceDep) -> BacktestResultsPublic:
    """The engine's metrics: final once the session ended, so far while it runs."""
    return BacktestResultsPublic.model_validate(service.results(account.id, session_id))


@router.post("/backtests/{session_id}/cancel")
def cancel_backtest(session_id: str, account: CurrentAccount, service: ServiceDep) -> BacktestPublic:
    """Stop the session and keep its results so far (idempotent)."""
    return BacktestPublic.model_validate(session_public(service.cancel(account.id, session_id)))
