"""Evaluation routes: a trained run next to rule-based baselines on the same held-out episodes.

Thin: parse, call :class:`~tradeready.server.services.evaluations.EvaluationService`, answer.

Example::

    POST /api/v1/evaluations {"run_id": "run_abc123", "model": "PPO", "env_id": "TradeReady-BTC-v0",
                              "episodes": [...], "agents": [...]}                       -> 201
    GET  /api/v1/evaluations?run_id=run_abc123      -> {"evaluations": [...], "total", "limit", "offset"}
    GET  /api/v1/evaluations/eval_3f9a0c2e1b7d4a55  -> windows, per-agent summaries and episodes
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from tradeready.server.api.deps import CurrentAccount, SessionDep
from tradeready.server.api.routes.training import ORJSON
from tradeready.server.schemas.evaluations import EvaluationCreate, EvaluationListPublic, EvaluationPublic
from tradeready.server.services.evaluations import EvaluationService

__all__ = ["router"]

router = APIRouter(prefix="/evaluations", tags=["evaluations"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EvaluationPublic)
def record_evaluation(body: EvaluationCreate, account: CurrentAccount, session: SessionDep) -> Response:
    """Record an evaluation (201); resending a client ``evaluation_id`` returns the stored one (200).

    Every float must be finite (``NaN``/``Infinity`` answer 422); ``run_id`` must be one of the
    account's training runs (404 ``run_not_found`` otherwise, before anything is written).
    """
    public, created = EvaluationService(session).create(account.id, body)
    session.commit()
    return ORJSON(public, status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@router.get("", response_model=EvaluationListPublic)
def list_evaluations(
    account: CurrentAccount,
    session: SessionDep,
    run_id: Annotated[str | None, Query(description="Only the evaluations of this training run.")] = None,
    limit: int = 20,
    offset: int = 0,
) -> Response:
    """The account's evaluations, newest first, each with its verdict and agent summaries."""
    return ORJSON(EvaluationService(session).list_evaluations(account.id, run_id=run_id, limit=limit, offset=offset))


@router.get("/{evaluation_id}", response_model=EvaluationPublic)
def get_evaluation(evaluation_id: str, account: CurrentAccount, session: SessionDep) -> Response:
    """One evaluation: episode windows, and every agent's summary and per-episode metrics."""
    return ORJSON(EvaluationService(session).get(account.id, evaluation_id))
