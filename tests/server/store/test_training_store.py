"""The training tables on both databases: keys and indexes, atomic aggregate updates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import Engine, insert, inspect
from sqlalchemy.exc import IntegrityError
from tests.support.platform import create_account

from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.db.migrate import upgrade
from tradeready.server.settings import Settings
from tradeready.server.store.models.training import TrainingEpisode
from tradeready.server.store.training import EPISODE_COLUMNS, EpisodeStats, SeriesCache, TrainingStore

NOW = datetime(2026, 3, 1, 10, tzinfo=UTC)


def row(n: int, roi: float) -> dict[str, object]:
    empty = dict.fromkeys(EPISODE_COLUMNS)
    return {**empty, "episode": n, "roi_pct": roi, "max_drawdown_pct": 1.0, "total_trades": 2, "reward_sum": 0.5}


@pytest.fixture
def engine(platform_settings: Settings) -> Iterator[Engine]:
    """An engine on a freshly migrated platform, on each database backend (see ``platform_settings``)."""
    engine = make_engine(platform_settings.resolved_database_url)  # creates the SQLite directory
    upgrade(platform_settings.resolved_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def account_id(platform_settings: Settings, engine: Engine) -> str:
    """An account on that platform, owner of the runs a test creates."""
    return create_account(platform_settings, "owner").account_id


def test_migration_creates_keys_and_indexes(engine: Engine) -> None:
    inspector = inspect(engine)
    assert inspector.get_pk_constraint("training_episodes")["constrained_columns"] == ["run_pk", "episode"]
    indexes = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("training_runs")}
    assert indexes["ix_training_runs_account_started"] == ["account_id", "started_at"]
    assert indexes["ix_training_runs_account_status"] == ["account_id", "status"]
    uniques = [u["column_names"] for u in inspector.get_unique_constraints("training_runs")]
    assert ["run_id"] in uniques


def test_bulk_insert_skips_existing_episodes_and_aggregates_add_up(engine: Engine, account_id: str) -> None:
    with make_session_factory(engine)() as session:
        store = TrainingStore(session)
        assert store.create_run(
            run_id="run_abc",
            account_id=account_id,
            strategy_label="x",
            env_id=None,
            config={},
            total_timesteps=None,
            now=NOW,
        )
        assert not store.create_run(
            run_id="run_abc",
            account_id=account_id,
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


def _new_run(store: TrainingStore, account_id: str, run_id: str) -> int:
    assert store.create_run(
        run_id=run_id, account_id=account_id, strategy_label="x", env_id=None, config={}, total_timesteps=None, now=NOW
    )
    run = store.get_run(run_id)
    assert run is not None
    return int(run["pk"])


def test_add_new_episodes_writes_only_when_every_episode_is_new_and_owned(
    platform_settings: Settings, engine: Engine, account_id: str
) -> None:
    other = create_account(platform_settings, "other")
    with make_session_factory(engine)() as session:
        store = TrainingStore(session)
        pk = _new_run(store, account_id, "run_fast")
        added = store.add_new_episodes("run_fast", account_id, [row(1, 1.0), row(3, 3.0)], NOW)
        assert added is not None and (added["pk"], added["total_episodes"], added["status"]) == (pk, 2, "running")
        # another account's run, and numbers at or below the stored maximum: nothing written
        assert store.add_new_episodes("run_fast", other.account_id, [row(4, 4.0)], NOW) is None
        assert store.add_new_episodes("run_fast", account_id, [row(2, 2.0), row(5, 5.0)], NOW) is None
        assert store.add_new_episodes("run_fast", account_id, [row(3, 3.0)], NOW) is None
        assert store.add_new_episodes("run_nope", account_id, [row(9, 9.0)], NOW) is None
        session.commit()
        run = store.get_run("run_fast")
        assert run is not None
        assert (run["total_episodes"], run["sum_roi_pct"], run["last_episode"], run["best_roi_pct"]) == (2, 4.0, 3, 3.0)
        assert store.metric_series(pk, "roi_pct")[0].tolist() == [1, 3]


def test_cached_series_is_always_the_stored_episodes(engine: Engine, account_id: str) -> None:
    factory = make_session_factory(engine)

    def add(rows: list[dict[str, object]]) -> None:  # the way the service writes: checked path, own session
        with factory() as session:
            store = TrainingStore(session)
            run = store.lock_owned_run("run_series", account_id, NOW)
            assert run is not None
            fresh = [
                r for r in rows if r["episode"] not in store.stored_episodes(run["pk"], [r["episode"] for r in rows])
            ]
            store.insert_episodes(run["pk"], fresh)
            store.add_to_aggregates(run["pk"], EpisodeStats.of(fresh), NOW)
            session.commit()

    def chart() -> tuple[list[int], list[float]]:  # a reader in its own session, as another worker would be
        with factory() as session:
            store = TrainingStore(session)
            run = store.get_run("run_series")
            assert run is not None
            episodes, values = store.cached_metric_series(run, "roi_pct")
            assert not episodes.flags.writeable and not values.flags.writeable
            return episodes.tolist(), values.tolist()

    with factory() as session:
        _new_run(TrainingStore(session), account_id, "run_series")
        session.commit()
    assert chart() == ([], [])
    add([row(1, 1.0), row(2, 2.0), row(4, 4.0)])
    assert chart() == ([1, 2, 4], [1.0, 2.0, 4.0])
    with factory() as session:  # unchanged run: the very arrays of the cache
        store = TrainingStore(session)
        run = store.get_run("run_series")
        assert run is not None
        assert store.cached_metric_series(run, "roi_pct")[0] is store.cached_metric_series(run, "roi_pct")[0]
    add([row(5, 5.0), row(6, 6.0)])  # above the cached last one: topped up
    assert chart() == ([1, 2, 4, 5, 6], [1.0, 2.0, 4.0, 5.0, 6.0])
    add([row(3, 3.0), row(7, 7.0)])  # one below the cached last one: read again
    assert chart() == ([1, 2, 3, 4, 5, 6, 7], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])


def test_series_cache_is_bounded_by_points_least_recently_used_first() -> None:
    cache = SeriesCache(max_points=10)

    def series(n: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        return np.arange(n, dtype=np.int64), np.zeros(n)

    cache.put("a", series(4))
    cache.put("b", series(4))
    assert cache.get("a") is not None  # "a" is now the most recently used
    cache.put("c", series(4))  # 12 points > 10: the least recently used ("b") goes
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
    cache.put("huge", series(11))  # larger than the whole cache: not kept
    assert cache.get("huge") is None and cache.get("a") is not None


def test_metric_series_is_in_episode_order_whatever_the_arrival_order(engine: Engine, account_id: str) -> None:
    def ep(n: int) -> dict[str, object]:
        return {**row(n, float(n)), "sharpe_ratio": None if n == 1 else n / 10, "total_trades": n * 3}

    with make_session_factory(engine)() as session:
        store = TrainingStore(session)
        store.create_run(
            run_id="run_order", account_id=account_id, strategy_label="x", env_id=None, config={},
            total_timesteps=None, now=NOW,
        )  # fmt: skip
        run = store.get_run("run_order")
        assert run is not None
        for batch in ([ep(10), ep(2)], [ep(7)], [ep(1)]):  # stored out of episode order
            store.insert_episodes(run["pk"], batch)
        session.commit()
        episodes, roi = store.metric_series(run["pk"], "roi_pct")
        assert episodes.dtype == np.int64 and episodes.tolist() == [1, 2, 7, 10]
        assert roi.tolist() == [1.0, 2.0, 7.0, 10.0]
        _, sharpe = store.metric_series(run["pk"], "sharpe_ratio")
        assert np.isnan(sharpe[0]) and sharpe[1:].tolist() == [0.2, 0.7, 1.0]  # NULL -> NaN
        _, trades = store.metric_series(run["pk"], "total_trades")  # an integer column, read as floats
        assert trades.dtype == np.float64 and trades.tolist() == [3.0, 6.0, 21.0, 30.0]
        assert [a.size for a in store.metric_series(-1, "roi_pct")] == [0, 0]  # no such run: empty
