"""The evaluation store: one evaluation with its agents and their episodes, written in one transaction.

Example::

    store = EvaluationStore(session)
    pk = store.create(values, agents=[(agent_values, [episode_rows...]), ...])
    row = store.get("eval_3f9a0c2e1b7d4a55")          # any account: callers check account_id
    rows, total = store.list_evaluations(account_id, run_id=None, limit=20, offset=0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, and_, func, insert, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from tradeready.server.store.models.evaluations import Evaluation, EvaluationAgent, EvaluationEpisode

__all__ = ["AGENT_SUMMARY_COLUMNS", "EPISODE_METRIC_COLUMNS", "EvaluationStore"]

EVALUATIONS: Table = Evaluation.__table__  # type: ignore[assignment]
AGENTS: Table = EvaluationAgent.__table__  # type: ignore[assignment]
EPISODES: Table = EvaluationEpisode.__table__  # type: ignore[assignment]

AGENT_SUMMARY_COLUMNS = (
    "episodes",
    "mean_roi_pct",
    "std_roi_pct",
    "mean_sharpe_ratio",
    "mean_max_drawdown_pct",
    "mean_total_trades",
    "mean_win_rate",
    "mean_total_fees",
)
"""An agent's summary columns, in the order clients get them."""

EPISODE_METRIC_COLUMNS = (
    "episode",
    "roi_pct",
    "sharpe_ratio",
    "max_drawdown_pct",
    "total_trades",
    "sortino_ratio",
    "win_rate",
    "exposure_pct",
    "final_equity",
    "total_fees",
    "reward_sum",
    "steps",
)
"""Per-episode metric columns, in the order clients get them."""

_CHUNK = 1000


class EvaluationStore:
    """Queries and bulk writes for evaluations in one SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self, values: Mapping[str, Any], agents: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]]
    ) -> int:
        """Insert the evaluation, its agents (with summaries) and their episodes; return its ``pk``."""
        pk = int(self.session.execute(insert(EVALUATIONS).values(**values).returning(EVALUATIONS.c.pk)).scalar_one())
        for position, (agent, episodes) in enumerate(agents):
            stmt = insert(AGENTS).values(evaluation_pk=pk, position=position, **agent).returning(AGENTS.c.pk)
            agent_pk = int(self.session.execute(stmt).scalar_one())
            rows = [{"agent_pk": agent_pk, **episode} for episode in episodes]
            for start in range(0, len(rows), _CHUNK):
                self.session.execute(insert(EPISODES), rows[start : start + _CHUNK])
        return pk

    def get(self, evaluation_id: str) -> RowMapping | None:
        """The evaluation row (any account) or ``None``."""
        stmt = select(EVALUATIONS).where(EVALUATIONS.c.evaluation_id == evaluation_id)
        return self.session.execute(stmt).mappings().first()

    def list_evaluations(
        self, account_id: str, *, run_id: str | None, limit: int, offset: int
    ) -> tuple[list[RowMapping], int]:
        """One page of the account's evaluations, newest first, and how many match."""
        where = EVALUATIONS.c.account_id == account_id
        if run_id is not None:
            where = and_(where, EVALUATIONS.c.run_id == run_id)
        total = int(self.session.scalar(select(func.count()).select_from(EVALUATIONS).where(where)) or 0)
        stmt = (
            select(EVALUATIONS)
            .where(where)
            .order_by(EVALUATIONS.c.created_at.desc(), EVALUATIONS.c.pk.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(self.session.execute(stmt).mappings()), total

    def agents(self, evaluation_pks: Sequence[int]) -> dict[int, list[RowMapping]]:
        """The agents of each evaluation, in their recorded order."""
        found: dict[int, list[RowMapping]] = {pk: [] for pk in evaluation_pks}
        for start in range(0, len(evaluation_pks), _CHUNK):
            chunk = list(evaluation_pks[start : start + _CHUNK])
            stmt = (
                select(AGENTS)
                .where(AGENTS.c.evaluation_pk.in_(chunk))
                .order_by(AGENTS.c.evaluation_pk, AGENTS.c.position)
            )
            for row in self.session.execute(stmt).mappings():
                found[int(row["evaluation_pk"])].append(row)
        return found

    def episodes(self, agent_pks: Sequence[int]) -> dict[int, list[RowMapping]]:
        """The episodes of each agent, in episode order."""
        found: dict[int, list[RowMapping]] = {pk: [] for pk in agent_pks}
        cols = [EPISODES.c.agent_pk, *(EPISODES.c[name] for name in EPISODE_METRIC_COLUMNS)]
        for start in range(0, len(agent_pks), _CHUNK):
            chunk = list(agent_pks[start : start + _CHUNK])
            stmt = select(*cols).where(EPISODES.c.agent_pk.in_(chunk)).order_by(EPISODES.c.agent_pk, EPISODES.c.episode)
            for row in self.session.execute(stmt).mappings():
                found[int(row["agent_pk"])].append(row)
        return found
