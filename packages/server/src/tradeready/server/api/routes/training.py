"""Training routes (thin: parse, call :class:`~tradeready.server.services.training.TrainingService`, answer).

Writes are ``async``: small ones (registration, heartbeat, completion, up to :data:`INLINE_EPISODES`
episodes) run their few short statements on the event loop, saving thread hops; big batches and reads
run in the thread pool. Responses are serialised with orjson (timestamps in ISO 8601 with ``Z``);
the ``response_model`` of each route documents the shape in the OpenAPI schema.

Example::

    POST /api/v1/training/runs {"strategy_label": "ppo_v1", "env_id": "TradeReady-BTC-v0"}  -> 201
    GET  /api/v1/training/runs/{run_id}/learning-curve?metric=roi_pct&window=10&max_points=500
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from pydantic_core import from_json
from sqlalchemy.orm import Session

from tradeready.server.api.deps import AuthContext, CurrentAuth, SessionDep, run_authenticated
from tradeready.server.api.hot import hot
from tradeready.server.errors import RequestValidationFailed
from tradeready.server.schemas.training import (
    MAX_BATCH_EPISODES,
    ComparePublic,
    EpisodeBatchIn,
    EpisodeIn,
    EpisodesReportPublic,
    HeartbeatIn,
    HeartbeatPublic,
    LearningCurvePublic,
    RunCompleteIn,
    RunCreate,
    RunDetailPublic,
    RunListPublic,
    RunSummaryPublic,
)
from tradeready.server.services.training import TrainingService
from tradeready.server.settings import Settings

__all__ = ["router"]

router = APIRouter(prefix="/training", tags=["training"])

_JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_SERIALIZE_NUMPY
INLINE_EPISODES = 64
"""Small writes run on the event loop (no thread hop); bigger batches go to the thread pool."""


def _committed(session: Session, content: Any, status_code: int = 200) -> ORJSON:
    """End the transaction before answering.

    The session dependency's own commit runs only after the response is sent, so a client's next
    request could otherwise miss this one's writes; committing here also hands the connection back
    to the pool at once.
    """
    session.commit()
    return ORJSON(content, status_code=status_code)


class ORJSON(Response):
    """JSON response through orjson; aware UTC datetimes end in ``Z``."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=_JSON_OPTIONS)


def parse_episodes(raw: bytes) -> list[EpisodeIn]:
    """The episodes of a request body: one episode object, or ``{"episodes": [...]}``.

    The JSON is parsed strictly: ``NaN``/``Infinity`` are rejected with a 422. A valid body is
    validated once, straight from the bytes, as the shape it looks like; anything that fails is
    parsed again step by step so that the 422 says precisely what is wrong.
    """
    looks_batched = b'"episodes"' in raw
    with contextlib.suppress(ValidationError):
        if looks_batched:
            return EpisodeBatchIn.model_validate_json(raw).episodes
        return [EpisodeIn.model_validate_json(raw)]
    try:
        payload = from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        raise RequestValidationFailed(
            f"Request body is not valid JSON ({exc}). NaN and Infinity are not JSON numbers: "
            "send a finite number, or null for a metric that is undefined.",
            details=[{"field": "body", "message": str(exc)}],
        ) from exc
    try:
        # validating from the raw JSON is about 3x faster than from the parsed objects
        if isinstance(payload, dict) and "episodes" in payload:
            return EpisodeBatchIn.model_validate_json(raw).episodes
        if isinstance(payload, dict):
            return [EpisodeIn.model_validate_json(raw)]
    except ValidationError as exc:
        raise RequestValidationError(
            [{**err, "loc": ("body", *err["loc"])} for err in exc.errors(include_url=False)]
        ) from exc
    raise RequestValidationFailed(
        f'Request body must be one episode object or {{"episodes": [...]}}, got {type(payload).__name__}',
        details=[{"field": "body", "message": "expected an object", "received": type(payload).__name__}],
    )


_EPISODE_SCHEMA = EpisodeIn.model_json_schema()
_EPISODES_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        _EPISODE_SCHEMA,
                        {
                            "title": "EpisodeBatchIn",
                            "type": "object",
                            "properties": {
                                "episodes": {
                                    "type": "array",
                                    "items": _EPISODE_SCHEMA,
                                    "minItems": 1,
                                    "maxItems": MAX_BATCH_EPISODES,
                                }
                            },
                            "required": ["episodes"],
                            "additionalProperties": False,
                        },
                    ]
                }
            }
        },
    }
}


def _service(request: Request, session: Session) -> TrainingService:
    settings: Settings = request.app.state.settings
    return TrainingService(session, settings)


@router.post("/runs", status_code=status.HTTP_201_CREATED, response_model=RunSummaryPublic)
async def create_run(body: RunCreate, auth: CurrentAuth, session: SessionDep, request: Request) -> Response:
    """Register a run (201); resending a client ``run_id`` returns the existing run (200)."""
    summary, created = _service(request, session).create_run(auth.account.id, body)
    return _committed(session, summary, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@router.post("/runs/{run_id}/episodes", response_model=EpisodesReportPublic, openapi_extra=_EPISODES_OPENAPI)
@hot
async def report_episodes(run_id: str, request: Request) -> Response:
    """Report one episode or a batch; resends of the same episode are ignored.

    The hottest route (a trainer reports every episode), served by the hot lane: authentication,
    the writes and the commit run in one :func:`~tradeready.server.api.deps.run_authenticated` call,
    on the event loop for small requests.
    """
    episodes = parse_episodes(await request.body())
    settings: Settings = request.app.state.settings

    def work(session: Session, auth: AuthContext) -> dict[str, Any]:
        return TrainingService(session, settings).report_episodes(auth.account.id, run_id, episodes)

    return ORJSON(await run_authenticated(request, work, inline=len(episodes) <= INLINE_EPISODES))


@router.post("/runs/{run_id}/heartbeat", response_model=HeartbeatPublic)
async def heartbeat(
    run_id: str, body: HeartbeatIn, auth: CurrentAuth, session: SessionDep, request: Request
) -> Response:
    """Live progress of a running trainer (revives an abandoned run)."""
    return _committed(session, _service(request, session).heartbeat(auth.account.id, run_id, body))


@router.post("/runs/{run_id}/complete", response_model=RunSummaryPublic)
async def complete_run(
    run_id: str, auth: CurrentAuth, session: SessionDep, request: Request, body: RunCompleteIn | None = None
) -> Response:
    """Mark the run completed (or ``failed``); idempotent."""
    service = _service(request, session)
    return _committed(session, service.complete(auth.account.id, run_id, body or RunCompleteIn()))


@router.get("/runs", response_model=RunListPublic)
def list_runs(
    auth: CurrentAuth,
    session: SessionDep,
    request: Request,
    status: str | None = None,
    strategy_label: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> Response:
    """The account's runs, newest first: ``{"runs": [...], "total", "limit", "offset"}``."""
    service = _service(request, session)
    return _committed(
        session,
        service.list_runs(auth.account.id, status=status, strategy_label=strategy_label, limit=limit, offset=offset),
    )


@router.get("/runs/{run_id}", response_model=RunDetailPublic)
def get_run(
    run_id: str,
    auth: CurrentAuth,
    session: SessionDep,
    request: Request,
    episodes_limit: Annotated[int | None, Query(description="Episodes per page (default 10,000).")] = None,
    episodes_offset: int = 0,
) -> Response:
    """Run metadata, config, aggregates, episodes (paginated) and a smoothed ROI ``learning_curve``."""
    service = _service(request, session)
    return _committed(
        session,
        service.get_run(auth.account.id, run_id, episodes_limit=episodes_limit, episodes_offset=episodes_offset),
    )


@router.get("/runs/{run_id}/learning-curve", response_model=LearningCurvePublic)
def learning_curve(
    run_id: str,
    auth: CurrentAuth,
    session: SessionDep,
    request: Request,
    metric: str = "roi_pct",
    window: int = 10,
    max_points: Annotated[int | None, Query(description="Downsample (LTTB) to at most this many points.")] = None,
) -> Response:
    """One metric per episode with its trailing mean over ``window`` episodes."""
    service = _service(request, session)
    curve = service.learning_curve(
        auth.account.id, run_id, metric=metric, window=window, max_points=max_points, as_json=True
    )
    return _committed(session, curve)


@router.get("/compare", response_model=ComparePublic)
def compare_runs(
    auth: CurrentAuth,
    session: SessionDep,
    request: Request,
    run_ids: Annotated[str, Query(description="Comma-separated run ids (at most 20).")],
) -> Response:
    """Side-by-side aggregates with the best run per metric."""
    return _committed(session, _service(request, session).compare(auth.account.id, run_ids))
