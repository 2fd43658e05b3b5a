"""Backtest pages: the session list (with "hide training sessions") and one session's charts.

Everything goes through :class:`~tradeready.server.services.backtests.BacktestService` and the market
store (the same code as ``/api/v1/backtests`` and ``/api/v1/market/candles``)::

    GET /backtests?hide_training=1&label_prefix=ppo_&status=&training_run_id=&page=
    GET /backtests/{session_id}
    GET /dashboard-api/backtests/{session_id}/charts?symbol=    equity, drawdown, price, trades (downsampled)
"""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import urlencode

import numpy as np
import numpy.typing as npt
from fastapi import APIRouter, Depends, Request, Response

from tradeready.server.api.deps import SessionDep
from tradeready.server.api.routes.backtests import RuntimeDep, session_public
from tradeready.server.dashboard.compression import CompressedRoute
from tradeready.server.dashboard.pageroute import PageRoute
from tradeready.server.dashboard.pages import JSON
from tradeready.server.dashboard.rendering import render
from tradeready.server.dashboard.session import ApiUser, PageUser
from tradeready.server.errors import RequestValidationFailed
from tradeready.server.services.backtests import BacktestService
from tradeready.server.services.training import downsample_indices
from tradeready.server.store.backtests import SessionFilter
from tradeready.server.store.market import MarketStore

__all__ = ["CHART_BARS", "MAX_TRADE_MARKERS", "PER_PAGE", "STATUSES", "api_router", "drawdown_pct", "router"]

router = APIRouter(include_in_schema=False, route_class=PageRoute)
api_router = APIRouter(prefix="/dashboard-api", include_in_schema=False, route_class=CompressedRoute)

PER_PAGE = 50
STATUSES = ("created", "running", "completed", "cancelled", "expired")
CHART_BARS = 2000
"""Bars a session chart ships at most (LTTB over equity and close; every trade is still marked)."""
MAX_TRADE_MARKERS = 5000


def _service(session: SessionDep, runtime: RuntimeDep) -> BacktestService:
    return BacktestService(session, runtime)


ServiceDep = Annotated[BacktestService, Depends(_service)]


def drawdown_pct(equity: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Drawdown from the running peak at each bar, in percent (0 at a new high, positive below it)."""
    if equity.size == 0:
        return equity
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd: npt.NDArray[np.float64] = np.where(peak > 0.0, (1.0 - equity / peak) * 100.0, 0.0).astype(np.float64)
    return dd


@router.get("/backtests")
def backtests_page(
    request: Request,
    user: PageUser,
    service: ServiceDep,
    hide_training: bool = False,
    label_prefix: str = "",
    status: str = "",
    training_run_id: str = "",
    page: int = 1,
) -> Response:
    if status and status not in STATUSES:
        raise RequestValidationFailed(f"Invalid status {status!r}; allowed: {', '.join(STATUSES)}")
    if len(label_prefix) > 100 or len(training_run_id) > 64:
        raise RequestValidationFailed("label_prefix is limited to 100 characters and training_run_id to 64.")
    page = max(1, page)
    where = SessionFilter(
        status=status or None,
        exclude_label_prefix=(label_prefix or None) if hide_training else None,
        source="api" if hide_training else None,
        training_run_id=training_run_id or None,
    )
    rows, total = service.list(user.account_id, where, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    sessions = [session_public(r) for r in rows]
    pages = max(1, math.ceil(total / PER_PAGE))
    query = {
        "hide_training": "1" if hide_training else "",
        "label_prefix": label_prefix,
        "status": status,
        "training_run_id": training_run_id,
    }

    def page_href(number: int) -> str:
        return "/backtests?" + urlencode({k: v for k, v in {**query, "page": str(number)}.items() if v})

    context = {
        "sessions": sessions,
        "total": total,
        "page": page,
        "pages": pages,
        "page_href": page_href,
        "hide_training": hide_training,
        "label_prefix": label_prefix,
        "status": status,
        "statuses": STATUSES,
        "training_run_id": training_run_id,
        "filtered": any(query.values()),
    }
    return render(request, "backtests.html", context, user=user)


@router.get("/backtests/{session_id}")
def backtest_page(request: Request, session_id: str, user: PageUser, service: ServiceDep) -> Response:
    row = session_public(service.get(user.account_id, session_id))
    results = service.results(user.account_id, session_id)
    context = {
        "bt": row,
        "results": results,
        "page_data": {"session_id": session_id, "symbols": row["symbols"], "timeframe": row["timeframe"]},
    }
    return render(request, "backtest.html", context, user=user)


@api_router.get("/backtests/{session_id}/charts")
def backtest_charts(
    session_id: str, user: ApiUser, service: ServiceDep, session: SessionDep, symbol: str | None = None
) -> Response:
    """Equity, drawdown, one symbol's candles and its trades, each capped at about :data:`CHART_BARS` bars."""
    row = service.get(user.account_id, session_id)
    symbols = list(row.symbols)
    chosen = symbol or symbols[0]
    if chosen not in symbols:
        raise RequestValidationFailed(
            f"Invalid symbol {chosen!r}: this session trades {', '.join(symbols)}",
            details=[{"field": "symbol", "message": "not in this session", "received": chosen, "allowed": symbols}],
        )
    curve = service.equity_curve(user.account_id, session_id)
    times = np.asarray(curve["time"], dtype=np.int64)
    equity = np.asarray(curve["equity"], dtype=np.float64)
    drawdown = drawdown_pct(equity)
    keep = downsample_indices(times, equity, CHART_BARS)
    keep_dd = downsample_indices(times, drawdown, CHART_BARS)

    candles, _ = MarketStore(session).load_candles_with_origin(
        chosen, row.timeframe, row.first_bar_ms, row.last_bar_ms + 1
    )
    ctimes = np.asarray(candles.open_time, dtype=np.int64)
    close = np.asarray(candles.close, dtype=np.float64)
    ohlc = ctimes.shape[0] <= CHART_BARS
    price: dict[str, Any]
    if ohlc:
        price = {
            "kind": "ohlc",
            "time": ctimes,
            "open": candles.open,
            "high": candles.high,
            "low": candles.low,
            "close": close,
        }
    else:
        pick = downsample_indices(ctimes, close, CHART_BARS)
        price = {"kind": "close", "time": ctimes[pick], "close": close[pick]}

    trades = service.trades(user.account_id, session_id, limit=None, offset=0)
    fills = [t for t in trades["trades"] if t["symbol"] == chosen]
    return JSON(
        {
            "session_id": session_id,
            "symbol": chosen,
            "symbols": symbols,
            "equity": {"time": times[keep], "equity": equity[keep], "n_total": int(times.shape[0])},
            "drawdown": {"time": times[keep_dd], "drawdown_pct": drawdown[keep_dd]},
            "price": price,
            "trades": fills[:MAX_TRADE_MARKERS],
            "trades_total": len(fills),
        }
    )
