"""The dashboard's reads of a run's episodes on both databases: sorted pages, metric ranges, the ROI index."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import Session
from tests.support.platform import create_account

from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.db.migrate import upgrade
from tradeready.server.errors import NotFoundError, RequestValidationFailed
from tradeready.server.services.training import TrainingService
from tradeready.server.settings import Settings
from tradeready.server.store.training import EPISODE_COLUMNS, EpisodeStats, TrainingStore

NOW = datetime(2026, 3, 1, 10, tzinfo=UTC)
ROIS = [2.0, -1.0, 2.0, 5.0, -1.0, 0.5]  # ties at 2.0 (episodes 1, 3) and -1.0 (2, 5)
SHARPES = [0.3, None, 0.1, None, 0.9, 0.2]


@pytest.fixture
def session(platform_settings: Settings) -> Iterator[tuple[Session, str, str]]:
    """A session on a migrated platform holding one run (``run_abc``) with the six episodes above."""
    engine = make_engine(platform_settings.resolved_database_url)
    upgrade(platform_settings.resolved_database_url)
    account = create_account(platform_settings, "reads")
    try:
        with make_session_factory(engine)() as db:
            store = TrainingStore(db)
            store.create_run(
                run_id="run_abc",
                account_id=account.account_id,
                strategy_label="x",
                env_id=None,
                config={},
                total_timesteps=None,
                now=NOW,
            )
            pk = store.get_run("run_abc")["pk"]  # type: ignore[index]
            rows = [
                {**dict.fromkeys(EPISODE_COLUMNS), "episode": n, "roi_pct": roi, "sharpe_ratio": sharpe}
                | {"max_drawdown_pct": 1.0, "total_trades": 1, "reward_sum": roi * 2}
                for n, (roi, sharpe) in enumerate(zip(ROIS, SHARPES, strict=True), start=1)
            ]
            store.insert_episodes(pk, rows)
            store.add_to_aggregates(pk, EpisodeStats.of(rows), NOW)
            db.commit()
            yield db, account.account_id, platform_settings.resolved_database_url
    finally:
        engine.dispose()


def numbers(rows: list[dict[str, object]]) -> list[object]:
    return [r["episode"] for r in rows]


def test_episodes_carry_no_secondary_index(session: tuple[Session, str, str]) -> None:
    """Migration 0007: every episode insert maintains the primary key only."""
    db, _, _ = session
    assert inspect(db.get_bind()).get_indexes("training_episodes") == []


def test_sorted_pages_put_nulls_last_and_break_ties_by_episode(session: tuple[Session, str, str]) -> None:
    db, account_id, _ = session
    service = TrainingService(db, Settings())
    page = service.episode_page(account_id, "run_abc", sort="roi_pct", order="desc", per_page=10)
    assert numbers(page["episodes"]) == [4, 1, 3, 6, 2, 5] and page["total"] == 6 and page["pages"] == 1
    ascending = service.episode_page(account_id, "run_abc", sort="roi_pct", order="asc", per_page=10)
    assert numbers(ascending["episodes"]) == [2, 5, 6, 1, 3, 4]
    for order, expected in (("asc", [3, 6, 1, 5, 2, 4]), ("desc", [5, 1, 6, 3, 2, 4])):
        sharpe = service.episode_page(account_id, "run_abc", sort="sharpe_ratio", order=order, per_page=10)
        assert numbers(sharpe["episodes"]) == expected, order
    second = service.episode_page(account_id, "run_abc", sort="episode", order="desc", page=2, per_page=4)
    assert numbers(second["episodes"]) == [2, 1] and second["page"] == 2
    clamped = service.episode_page(account_id, "run_abc", page=99, per_page=4)
    assert clamped["page"] == 2
    with pytest.raises(RequestValidationFailed, match="cannot sort episodes by 'password'") as bad:
        service.episode_page(account_id, "run_abc", sort="password")
    assert "roi_pct" in bad.value.details[0]["allowed"]  # type: ignore[index]
    with pytest.raises(RequestValidationFailed, match="per_page must be from 1 to 500, got 501"):
        service.episode_page(account_id, "run_abc", per_page=501)
    with pytest.raises(NotFoundError):
        service.owned_run("acct_someone_else", "run_abc")


def test_metric_ranges_read_the_window_before_and_say_when_truncated(session: tuple[Session, str, str]) -> None:
    db, account_id, _ = session
    store = TrainingStore(db)
    pk = store.get_run("run_abc")["pk"]  # type: ignore[index]
    episodes, values, truncated = store.metric_range(pk, "roi_pct", after=3, until=5, before=2, limit=100)
    assert episodes.tolist() == [2, 3, 4, 5] and values.tolist() == [-1.0, 2.0, 5.0, -1.0] and not truncated
    episodes, values, truncated = store.metric_range(pk, "sharpe_ratio", after=0, until=None, before=0, limit=3)
    assert episodes.tolist() == [1, 2, 3] and np.isnan(values[1]) and truncated
    episodes, _, _ = store.metric_range(pk, "roi_pct", after=None, until=None, before=2, limit=0)
    assert episodes.tolist() == [5, 6]
    with pytest.raises(ValueError, match="no numeric episode column 'ended_at'"):
        store.metric_range(pk, "ended_at", after=0, until=None, before=0, limit=1)

    service = TrainingService(db, Settings())
    since = service.curve_since(account_id, "run_abc", metric="roi_pct", window=2, since_episode=4)
    assert [(p["episode"], p["smoothed"]) for p in since["curve"]] == [(5, 2.0), (6, -0.25)]
    assert since["total_episodes"] == 6 and since["truncated"] is False
    assert service.latest_smoothed(account_id, "run_abc", metric="roi_pct", window=3) == pytest.approx(
        (5.0 - 1.0 + 0.5) / 3
    )
