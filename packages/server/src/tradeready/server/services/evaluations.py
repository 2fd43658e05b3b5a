"""Evaluation rules: ownership, idempotent recording, summaries and the verdict against buy-and-hold.

Decisions (documented for clients):

* ``run_id`` must name a training run of the calling account; another account's run, or an unknown
  one, answers **404** ``run_not_found`` before anything is written.
* ``POST /evaluations`` with a client ``evaluation_id`` already recorded by the same account answers
  **200** with the stored evaluation (**201** when created), so a resend never duplicates it; an id
  recorded by another account answers **409** ``conflict`` without revealing anything.
* An agent's summary is the mean of its episodes (``std_roi_pct`` is the sample standard deviation,
  0 for one episode). The verdict ``beats_buy_and_hold`` is the model's mean ROI (after fees, as every
  ROI from the engine) strictly above the ``buy_and_hold`` baseline's; ``null`` without that baseline.
* Another account's evaluation answers **404** ``evaluation_not_found``.

Example::

    service = EvaluationService(session)
    public, created = service.create(account_id, EvaluationCreate.model_validate(body))
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradeready.server.errors import ConflictError, NotFoundError, RequestValidationFailed
from tradeready.server.schemas.evaluations import (
    EVALUATION_ID_PATTERN,
    REFERENCE_BASELINE,
    AgentEpisodeIn,
    EvaluationCreate,
)
from tradeready.server.schemas.training import CLIENT_RUN_ID_PATTERN
from tradeready.server.store.evaluations import AGENT_SUMMARY_COLUMNS, EPISODE_METRIC_COLUMNS, EvaluationStore
from tradeready.server.store.models import new_id, utcnow
from tradeready.server.store.training import TrainingStore

__all__ = ["MAX_LIST_LIMIT", "EvaluationService", "summarise"]

MAX_LIST_LIMIT = 1000

_EVAL_ID_RE = re.compile(EVALUATION_ID_PATTERN)
_RUN_ID_RE = re.compile(CLIENT_RUN_ID_PATTERN)


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return math.fsum(present) / len(present) if present else None


def summarise(episodes: Sequence[AgentEpisodeIn]) -> dict[str, Any]:
    """An agent's summary columns from its episodes (at least one)."""
    rois = [e.roi_pct for e in episodes]
    n = len(rois)
    return {
        "episodes": n,
        "mean_roi_pct": math.fsum(rois) / n,
        "std_roi_pct": statistics.stdev(rois) if n > 1 else 0.0,
        "mean_sharpe_ratio": math.fsum(e.sharpe_ratio for e in episodes) / n,
        "mean_max_drawdown_pct": math.fsum(e.max_drawdown_pct for e in episodes) / n,
        "mean_total_trades": sum(e.total_trades for e in episodes) / n,
        "mean_win_rate": _mean([e.win_rate for e in episodes]),
        "mean_total_fees": _mean([e.total_fees for e in episodes]),
    }


def _verdict(body: EvaluationCreate) -> dict[str, Any]:
    by_name = {a.name: a for a in body.agents}
    reference = by_name.get(REFERENCE_BASELINE)
    if reference is None or reference.kind != "baseline":
        return {"beats_buy_and_hold": None, "episodes_won_vs_buy_and_hold": None, "roi_gap_vs_buy_and_hold_pct": None}
    model = {e.episode: e.roi_pct for e in by_name[body.model].episodes}
    baseline = {e.episode: e.roi_pct for e in reference.episodes}
    gap = math.fsum(model.values()) / len(model) - math.fsum(baseline.values()) / len(baseline)
    return {
        "beats_buy_and_hold": gap > 0.0,
        "episodes_won_vs_buy_and_hold": sum(1 for n, roi in model.items() if roi > baseline[n]),
        "roi_gap_vs_buy_and_hold_pct": gap,
    }


def _not_found(evaluation_id: str) -> NotFoundError:
    return NotFoundError(f"No evaluation {evaluation_id!r} in this account.", code="evaluation_not_found")


def _run_not_found(run_id: str) -> NotFoundError:
    return NotFoundError(f"No training run {run_id!r} in this account.", code="run_not_found")


class EvaluationService:
    """The evaluation API's rules over one database session."""

    def __init__(self, session: Session, clock: Callable[[], datetime] = utcnow) -> None:
        self.session = session
        self.store = EvaluationStore(session)
        self.runs = TrainingStore(session)
        self.clock = clock

    # --- writes -------------------------------------------------------------------------------

    def create(self, account_id: str, body: EvaluationCreate) -> tuple[dict[str, Any], bool]:
        """Record ``body``; ``(evaluation, created)``. See the module docstring for the rules."""
        if body.run_id is not None:
            self._check_run(account_id, body.run_id)
        evaluation_id = body.evaluation_id or new_id("eval")
        if body.evaluation_id is not None:
            existing = self._existing(account_id, evaluation_id)
            if existing is not None:
                return existing, False
        values = {
            "evaluation_id": evaluation_id,
            "account_id": account_id,
            "run_id": body.run_id,
            "name": body.name,
            "model": body.model,
            "env_id": body.env_id,
            "env_config": body.env_config,
            "seed": body.seed,
            "deterministic": body.deterministic,
            "n_episodes": len(body.episodes),
            "windows": [w.model_dump() for w in sorted(body.episodes, key=lambda w: w.episode)],
            "created_at": self.clock(),
            **_verdict(body),
        }
        agents = [
            (
                {"name": a.name, "kind": a.kind, **summarise(a.episodes)},
                [e.model_dump() for e in sorted(a.episodes, key=lambda e: e.episode)],
            )
            for a in body.agents
        ]
        try:
            with self.session.begin_nested():
                self.store.create(values, agents)
        except IntegrityError:
            # a concurrent resend of the same client id won the race
            existing = self._existing(account_id, evaluation_id)
            if existing is None:
                raise
            return existing, False
        return self.get(account_id, evaluation_id), True

    def _existing(self, account_id: str, evaluation_id: str) -> dict[str, Any] | None:
        row = self.store.get(evaluation_id)
        if row is None:
            return None
        if row["account_id"] != account_id:
            raise ConflictError(
                f"evaluation_id {evaluation_id!r} is already taken; omit it to let the platform choose one."
            )
        return self._detail(row)

    def _check_run(self, account_id: str, run_id: str) -> None:
        run = self.runs.get_run(run_id)
        if run is None or run["account_id"] != account_id:
            raise _run_not_found(run_id)

    # --- reads --------------------------------------------------------------------------------

    def get(self, account_id: str, evaluation_id: str) -> dict[str, Any]:
        """The evaluation with its windows and every agent's episodes."""
        if not _EVAL_ID_RE.match(evaluation_id):
            raise _not_found(evaluation_id)
        row = self.store.get(evaluation_id)
        if row is None or row["account_id"] != account_id:
            raise _not_found(evaluation_id)
        return self._detail(row)

    def list_evaluations(self, account_id: str, *, run_id: str | None, limit: int, offset: int) -> dict[str, Any]:
        """``{"evaluations": [...], "total", "limit", "offset"}``, newest first (optionally of one run)."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise _invalid("limit", f"must be between 1 and {MAX_LIST_LIMIT}", limit)
        if offset < 0:
            raise _invalid("offset", "must be >= 0", offset)
        if run_id is not None:
            if not _RUN_ID_RE.match(run_id):
                raise _run_not_found(run_id)
            self._check_run(account_id, run_id)
        rows, total = self.store.list_evaluations(account_id, run_id=run_id, limit=limit, offset=offset)
        agents = self.store.agents([int(r["pk"]) for r in rows])
        return {
            "evaluations": [self._summary(row, agents[int(row["pk"])]) for row in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
        }

    # --- shaping ------------------------------------------------------------------------------

    @staticmethod
    def _summary(row: Mapping[Any, Any], agents: Sequence[RowMapping]) -> dict[str, Any]:
        return {
            "evaluation_id": row["evaluation_id"],
            "run_id": row["run_id"],
            "name": row["name"],
            "model": row["model"],
            "env_id": row["env_id"],
            "seed": row["seed"],
            "deterministic": row["deterministic"],
            "n_episodes": row["n_episodes"],
            "created_at": row["created_at"],
            "beats_buy_and_hold": row["beats_buy_and_hold"],
            "episodes_won_vs_buy_and_hold": row["episodes_won_vs_buy_and_hold"],
            "roi_gap_vs_buy_and_hold_pct": row["roi_gap_vs_buy_and_hold_pct"],
            "agents": [
                {"name": a["name"], "kind": a["kind"], "summary": {c: a[c] for c in AGENT_SUMMARY_COLUMNS}}
                for a in agents
            ],
        }

    def _detail(self, row: RowMapping) -> dict[str, Any]:
        agents = self.store.agents([int(row["pk"])])[int(row["pk"])]
        episodes = self.store.episodes([int(a["pk"]) for a in agents])
        out = self._summary(row, agents)
        out["env_config"] = row["env_config"]
        out["episodes"] = row["windows"]
        for public, agent in zip(out["agents"], agents, strict=True):
            public["episodes"] = [{c: e[c] for c in EPISODE_METRIC_COLUMNS} for e in episodes[int(agent["pk"])]]
        return out


def _invalid(field: str, message: str, received: Any) -> RequestValidationFailed:
    return RequestValidationFailed(
        f"Invalid {field}: {message}", details=[{"field": field, "message": message, "received": received}]
    )
