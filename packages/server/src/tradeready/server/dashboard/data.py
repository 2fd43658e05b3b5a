"""What the dashboard shows, built from the platform's services (never its own copy of their rules).

Each function takes the request's database session, the settings and the signed-in account id, calls
:class:`~tradeready.server.services.training.TrainingService` (the same code as the REST API) and adds
only presentation: live-progress percentages, ages, sparkline points, sorting of a fetched list.

Example::

    view = TrainingData(session, settings, account_id)
    cards = view.active_cards()
    runs = view.runs_table(status=None, strategy_label=None, sort="started_at", order="desc")
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tradeready.server.errors import RequestValidationFailed
from tradeready.server.schemas.training import ALLOWED_STATUSES, CURVE_METRICS
from tradeready.server.services.evaluations import EvaluationService
from tradeready.server.services.training import MAX_LIST_LIMIT, TrainingService
from tradeready.server.settings import Settings
from tradeready.server.store.models import utcnow
from tradeready.server.store.training import EPISODE_SORT_COLUMNS

__all__ = [
    "ABANDONED_SHOWN_FOR",
    "CHART_POINTS",
    "EPISODE_SORTS",
    "EVALUATIONS_SHOWN",
    "METRIC_LABELS",
    "RUN_SORTS",
    "SPARK_POINTS",
    "SPARK_WINDOW",
    "EpisodePage",
    "SparkCache",
    "TrainingData",
    "parse_run_ids",
]

SPARK_POINTS = 40
EVALUATIONS_SHOWN = 5
"""Newest evaluations of a run shown on its page."""
SPARK_WINDOW = 10
CHART_POINTS = 1000
"""Points a learning-curve chart asks for: about one per horizontal pixel of a laptop-wide chart."""
ABANDONED_SHOWN_FOR = timedelta(hours=24)
"""An abandoned run keeps its active-training card (marked abandoned) this long after its last sign of life."""

METRIC_LABELS: dict[str, str] = {
    "roi_pct": "ROI %",
    "sharpe_ratio": "Sharpe ratio",
    "reward_sum": "Reward",
    "max_drawdown_pct": "Max drawdown %",
    "total_trades": "Trades",
}
RUN_SORTS = (
    "strategy_label",
    "run_id",
    "status",
    "total_episodes",
    "avg_roi_pct",
    "last_roi_pct",
    "best_roi_pct",
    "avg_sharpe",
    "started_at",
    "duration_seconds",
)
EPISODE_SORTS = EPISODE_SORT_COLUMNS


class SparkCache:
    """A small thread-safe LRU of sparkline points, shared by the requests of one application."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, int], list[float | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> list[float | None] | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, int], value: list[float | None]) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def _invalid(field: str, received: Any, allowed: Sequence[Any]) -> RequestValidationFailed:
    return RequestValidationFailed(
        f"Invalid {field}: {received!r}; allowed: {', '.join(map(str, allowed))}",
        details=[{"field": field, "message": "not an allowed value", "received": received, "allowed": list(allowed)}],
    )


def check_choice(field: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise _invalid(field, value, allowed)
    return value


def parse_run_ids(values: Sequence[str]) -> list[str]:
    """``["a,b", "c"] -> ["a", "b", "c"]``: repeated and comma-separated ``run_ids`` alike, deduplicated."""
    ids: list[str] = []
    for value in values:
        ids.extend(part.strip() for part in value.split(",") if part.strip())
    return list(dict.fromkeys(ids))


def _age(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else max(0.0, (now - moment).total_seconds())


def _sort_key(value: Any) -> tuple[int, Any]:
    """Missing values sort last in both directions (handled by the caller)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return (1, 0)
    return (0, value.lower() if isinstance(value, str) else value)


@dataclass(frozen=True)
class EpisodePage:
    """One page of a run's episodes, sorted on the server."""

    episodes: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    per_page: int
    sort: str
    order: str

    @property
    def first(self) -> int:
        return 0 if not self.episodes else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return (self.page - 1) * self.per_page + len(self.episodes)


class TrainingData:
    """The training pages' data for one account, through :class:`TrainingService`."""

    def __init__(self, session: Session, settings: Settings, account_id: str, cache: SparkCache | None = None) -> None:
        self.session = session
        self.cache = cache or SparkCache()
        self.service = TrainingService(session, settings)
        self.evaluations = EvaluationService(session)
        self.account_id = account_id

    # --- runs -----------------------------------------------------------------------------------

    def list_runs(
        self, *, status: str | None = None, strategy_label: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """The newest :data:`MAX_LIST_LIMIT` runs matching the filters, and how many match in all."""
        result = self.service.list_runs(
            self.account_id, status=status, strategy_label=strategy_label, limit=MAX_LIST_LIMIT, offset=0
        )
        return list(result["runs"]), int(result["total"])

    def sparkline(self, run: Mapping[str, Any]) -> list[float | None]:
        """The run's ROI smoothed over :data:`SPARK_WINDOW` episodes, downsampled to :data:`SPARK_POINTS`.

        Cached per ``(run_id, total_episodes)``: stored episodes never change (a resend with other
        values is refused), so the same count means the same curve.
        """
        if not run["total_episodes"]:
            return []
        key = (run["run_id"], int(run["total_episodes"]))
        cached = self.cache.get(key)
        if cached is None:
            curve = self.service.learning_curve(
                self.account_id, run["run_id"], metric="roi_pct", window=SPARK_WINDOW, max_points=SPARK_POINTS
            )
            cached = [p["smoothed"] for p in curve["curve"]]
            self.cache.put(key, cached)
        return cached

    def smoothed_roi(self, run: Mapping[str, Any]) -> float | None:
        """The latest ROI smoothed over :data:`SPARK_WINDOW` episodes, from the last episodes only."""
        if not run["total_episodes"]:
            return None
        return self.service.latest_smoothed(self.account_id, run["run_id"], metric="roi_pct", window=SPARK_WINDOW)

    def live(self, run: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        """A run summary plus what a live card shows: ages, percentages, ETA, smoothed ROI."""
        item = self.live_fields(run, now)
        item["idle_s"] = _age(run["last_activity_at"], now)
        done, total, sps = run["timesteps_done"], run["total_timesteps"], run["steps_per_second"]
        item["eta_s"] = (total - done) / sps if total and done is not None and sps and done < total else None
        item["smoothed_roi_pct"] = self.smoothed_roi(run)
        return item

    def active_cards(self) -> list[dict[str, Any]]:
        """Running runs, then runs abandoned within :data:`ABANDONED_SHOWN_FOR`, each with live fields."""
        now = utcnow()
        running, _ = self.list_runs(status="running")
        abandoned, _ = self.list_runs(status="abandoned")
        recent = [r for r in abandoned if now - r["last_activity_at"] <= ABANDONED_SHOWN_FOR]
        return [self.live(r, now) for r in running + recent]

    def runs_table(
        self, *, status: str | None, strategy_label: str | None, sort: str, order: str
    ) -> tuple[list[dict[str, Any]], int]:
        """The filtered runs sorted by any column (missing values last), each with its sparkline."""
        if status is not None:
            check_choice("status", status, ALLOWED_STATUSES)
        check_choice("sort", sort, RUN_SORTS)
        check_choice("order", order, ("asc", "desc"))
        runs, total = self.list_runs(status=status, strategy_label=strategy_label)
        present = [r for r in runs if _sort_key(r[sort])[0] == 0]
        missing = [r for r in runs if _sort_key(r[sort])[0] == 1]
        present.sort(key=lambda r: _sort_key(r[sort]), reverse=order == "desc")
        rows = []
        for run in present + missing:
            item = dict(run)
            item["spark"] = self.sparkline(run)
            rows.append(item)
        return rows, total

    def labels(self) -> list[str]:
        runs, _ = self.list_runs()
        return sorted({r["strategy_label"] for r in runs}, key=str.lower)

    # --- one run --------------------------------------------------------------------------------

    def run(self, run_id: str) -> dict[str, Any]:
        """The run's summary with its config, final statistics and latest training metrics.

        Episodes and curves are fetched separately (sorted pages, downsampled curves), so opening a
        run with 100,000 episodes reads one row here.
        """
        row = self.service.owned_run(self.account_id, run_id)
        detail = self.service.summary(row, utcnow())
        detail.update(config=row["config"], final_stats=row["final_stats"], train_metrics=row["train_metrics"])
        return detail

    def summary(self, run_id: str) -> dict[str, Any]:
        """The small live summary of one run (no episodes, no curve)."""
        row = self.service.owned_run(self.account_id, run_id)
        now = utcnow()
        return self.live_fields(self.service.summary(row, now), now)

    @staticmethod
    def live_fields(run: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        item = dict(run)
        item["heartbeat_age_s"] = _age(run["last_heartbeat_at"], now)
        length, steps = run["episode_length"], run["episode_steps"]
        item["episode_pct"] = min(100.0, 100.0 * steps / length) if length and steps is not None else None
        return item

    def curve(
        self,
        run_id: str,
        *,
        metric: str,
        window: int,
        max_points: int | None,
        since_episode: int | None = None,
        until_episode: int | None = None,
    ) -> dict[str, Any]:
        """The service's learning curve; with ``since_episode`` only the points in
        ``(since_episode, until_episode]`` (:meth:`TrainingService.curve_since`: live updates, and zooming
        into a downsampled chart at full resolution), each equal to the full curve's point.
        """
        if since_episode is None:
            return self.service.learning_curve(
                self.account_id, run_id, metric=metric, window=window, max_points=max_points
            )
        return self.service.curve_since(
            self.account_id,
            run_id,
            metric=metric,
            window=window,
            since_episode=since_episode,
            until_episode=until_episode,
        )

    def episodes(self, run_id: str, *, sort: str, order: str, page: int, per_page: int) -> EpisodePage:
        """One page of episodes sorted by ``sort`` (nulls last, ties by episode number), on the server."""
        found = self.service.episode_page(self.account_id, run_id, sort=sort, order=order, page=page, per_page=per_page)
        return EpisodePage(
            found["episodes"], found["total"], found["page"], found["pages"], found["per_page"], sort, order
        )

    def evaluations_of(self, run_id: str) -> list[dict[str, Any]]:
        """The run's evaluations against baselines, newest first (:class:`EvaluationService`)."""
        found = self.evaluations.list_evaluations(self.account_id, run_id=run_id, limit=EVALUATIONS_SHOWN, offset=0)
        return list(found["evaluations"])

    # --- several runs ---------------------------------------------------------------------------

    def compare(self, run_ids: Sequence[str]) -> dict[str, Any]:
        return self.service.compare(self.account_id, ",".join(run_ids))

    def compare_curves(
        self, run_ids: Sequence[str], *, metric: str, window: int, max_points: int
    ) -> list[dict[str, Any]]:
        check_choice("metric", metric, CURVE_METRICS)
        return [
            {
                "run_id": rid,
                **self.service.learning_curve(
                    self.account_id, rid, metric=metric, window=window, max_points=max_points
                ),
            }
            for rid in run_ids
        ]
