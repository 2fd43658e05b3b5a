"""The training tables on both databases: keys and indexes, atomic aggregate updates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, inspect
from sqlalchemy.exc import IntegrityError
from tests.support.platform import create_account

from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.db.migrate import upgrade
from tradeready.server.settings import Settings
from tradeready.server.store.models.training import TrainingEpisode
from tradeready.server.store.training import EPISODE_COLUMNS, EpisodeStats, TrainingStore

NOW = datetime(2026, 3, 1, 10, tzinfo=UTC)


def row(n: int, roi: float) -> dict[str, object]:
    empty = dict.fromkeys(EPISODE_COLUMNS)
    return {**empty, "episode": n, "roi_pct": roi, "max_drawdown_pct": 1.0, "total_trades": 2, "reward_sum": 0.5}


def test_migration_creates_keys_and_indexes(platform_settings: Settings) -> None:
    engine = make_engine(platform_settings.resolved_database_url)  # creates the SQLite directory
    upgrade(platform_settings.resolved_database_url)
    try:
        inspector = inspect(engine)
        assert inspector.get_pk_constraint("training_episodes")["constrained_columns"] == ["run_pk", "episode"]
        indexes = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("training_runs")}
        assert indexes["ix_training_runs_account_started"] == ["account_id", "started_at"]
        assert indexes["ix_training_runs_account_status"] == ["account_id", "status"]
        uniques = [u["column_names"] for u in inspector.get_unique_constraints("training_runs")]
        assert ["run_id"] in uniques
    finally:
        engine.dispose()


def test_bulk_insert_skips_existing_episodes_and_aggregates_add_up(platform_settings: Settings) -> None:
    engine = make_engine(platform_settings.resolved_database_url)
    upgrade(platform_settings.resolved_database_url)
    account = create_account(platform_settings, "store")
    try:
        with make_session_factory(engine)() as session:
            store = TrainingStore(session)
            assert store.create_run(
                run_id="run_abc",
                account_id=account.account_id,
                strategy_label="x",
                env_id=None,
                config={},
                total_timesteps=None,
                now=NOW,
            )
            assert not store.create_run(
                run_id="run_abc",
                account_id=account.account_id,
                strategy_label="y",
                env_id=None,
                config={},
                total_timesteps=None,
                now=NOW,
            )
            run = store.get_run("run_abc")
            assert run is not None and run["strategy_label"] == "x"
            first = [row(1, 1.0), row(2, -2.0)]
            store.lock_run(run["pk"], NOW)
            assert store.stored_episodes(run["pk"], [1, 2]) == {}
            store.insert_episodes(run["pk"], first)
            store.add_to_aggregates(run["pk"], EpisodeStats.of(first), NOW)
            stored = store.stored_episodes(run["pk"], [2, 3])
            assert list(stored) == [2] and stored[2]["roi_pct"] == -2.0
            assert list(store.stored_episodes(run["pk"], [1, 10_000])) == [1]  # sparse: looked up by number
            store.insert_episodes(run["pk"], [row(2, 99.0), row(3, 4.0)])  # the key ignores a duplicate
            updated = store.add_to_aggregates(run["pk"], EpisodeStats.of([row(3, 4.0)]), NOW)
            assert updated["total_episodes"] == 3 and updated["sum_roi_pct"] == 3.0
            assert (updated["best_roi_pct"], updated["worst_roi_pct"], updated["last_roi_pct"]) == (4.0, -2.0, 4.0)
            session.commit()
            episodes, values = store.metric_series(run["pk"], "roi_pct")
            assert episodes.tolist() == [1, 2, 3] and values.tolist() == [1.0, -2.0, 4.0]
            stamped = {**row(4, 0.5), "started_at": NOW, "metrics": {"x": 1}, "terminated": True}
            store.insert_episodes(run["pk"], [stamped])
            back = store.stored_episodes(run["pk"], [4])[4]
            assert (back["started_at"], back["metrics"], back["terminated"]) == (NOW, {"x": 1}, True)
            with pytest.raises(ValueError, match="numeric"):
                store.metric_series(run["pk"], "session_id")
            with pytest.raises(IntegrityError):
                session.execute(insert(TrainingEpisode), [{"run_pk": run["pk"], **row(1, 9.0)}])
    finally:
        engine.dispose()
