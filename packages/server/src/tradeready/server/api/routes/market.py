"""Market routes (thin: parse, call the service, return). Market data is public but needs an API key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from tradeready.server.api.deps import CurrentAccount, SessionDep
from tradeready.server.services.market import (
    NumpyJSONResponse,
    candles_payload,
    check_symbol,
    check_timeframe,
    parse_time,
)
from tradeready.server.store.market import MarketStore

router = APIRouter(tags=["market"])


@router.get("/market/symbols")
def list_symbols(account: CurrentAccount, session: SessionDep) -> dict[str, Any]:
    """Every stored dataset: symbol, timeframe, first/last open time, count, gaps, source."""
    return {"datasets": [d.to_dict() for d in MarketStore(session).list_datasets()]}


@router.get("/market/candles", response_class=NumpyJSONResponse)
def get_candles(
    account: CurrentAccount,
    session: SessionDep,
    symbol: Annotated[str, Query(description="e.g. BTCUSDT")],
    timeframe: Annotated[str, Query(description="1m, 5m, 15m, 1h, 4h or 1d")] = "1h",
    start: Annotated[str | None, Query(description="inclusive; epoch ms or ISO-8601")] = None,
    end: Annotated[str | None, Query(description="exclusive; epoch ms or ISO-8601")] = None,
) -> NumpyJSONResponse:
    """Candles ``start <= open_time < end`` in columnar form (resampled from finer data when needed)."""
    payload = candles_payload(
        MarketStore(session),
        check_symbol(symbol),
        check_timeframe(timeframe),
        parse_time(start, "start"),
        parse_time(end, "end"),
    )
    return NumpyJSONResponse(payload)
