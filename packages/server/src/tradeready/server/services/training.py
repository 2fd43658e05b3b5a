"""Training tracking rules: registration, idempotent episode ingest, liveness, curves, comparison.

Decisions (documented for clients):

* ``POST /runs`` with a client ``run_id`` already registered by the same account answers **200** with
  the existing run (**201** when it was created). Keys of ``config`` that the stored config lacks are
  added (so a Stable-Baselines3 callback can add hyperparameters later); existing keys are kept.
  A ``run_id`` registered by another account answers **409** ``conflict`` without revealing anything.
* Episodes are unique per ``(run, episode)``. A resend with the same values is ignored and counted in
  ``duplicates``; a resend with different values answers **409** ``conflict`` naming the episodes, and
  nothing of that request is written.
* A completed or failed run still accepts late episodes (delivered from a tracker's spool): they are
  stored and counted; the status and ``completed_at`` do not change.
* ``abandoned`` is computed on read: a stored ``running`` run whose last activity (registration,
  episode or heartbeat) is older than ``settings.heartbeat_timeout_s``. Any later episode or heartbeat
  revives it. No in-memory state: this holds across workers and processes.
* A heartbeat for a completed or failed run is accepted and ignored (``accepted: false``).
* ``smoothed`` is the trailing mean over the full series (numpy), computed before any LTTB
  downsampling; it and the ``avg_*`` aggregates are rounded to 10 decimal places, so the seed's
  ``(-1.2 + 0.4) / 2`` reads ``-0.4``.

Example::

    service = TrainingService(session, settings)
    summary, created = service.create_run(account_id, RunCreate(strategy_label="ppo_v1"))
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session
from tsdownsample import LTTBDownsampler

from tradeready.server.errors import ConflictError, NotFoundError, RequestValidationFailed
from tradeready.server.schemas.training import (
    ALLOWED_STATUSES,
    CLIENT_RUN_ID_PATTERN,
    CURVE_METRICS,
    CompareRunPublic,
    EpisodeIn,
    HeartbeatIn,
    RunCompleteIn,
    RunCreate,
)
from tradeready.server.settings import Settings
from tradeready.server.store.models import new_id, utcnow
from tradeready.server.store.training import EPISODE_COLUMNS, EPISODE_SORT_COLUMNS, EpisodeStats, TrainingStore

__all__ = [
    "DEFAULT_EPISODES_LIMIT",
    "DETAIL_CURVE_POINTS",
    "MAX_COMPARE_RUNS",
    "MAX_CURVE_POINTS",
    "MAX_EPISODES_LIMIT",
    "MAX_EPISODES_PER_PAGE",
    "MAX_LIST_LIMIT",
    "MAX_RANGE_POINTS",
    "MAX_WINDOW",
    "TrainingService",
    "downsample_indices",
    "trailing_mean",
]

DEFAULT_EPISODES_LIMIT = 10_000
"""Episodes in ``GET /runs/{id}`` without ``episodes_limit``; ``episodes_total`` says how many exist."""
MAX_EPISODES_LIMIT = 100_000
DETAIL_CURVE_POINTS = 500
"""Points in the detail's ``learning_curve`` (ROI, window 10, LTTB over the smoothed series)."""
MAX_CURVE_POINTS = 1_000_000
MAX_WINDOW = 100_000
MAX_COMPARE_RUNS = 20
MAX_LIST_LIMIT = 1000
MAX_EPISODES_PER_PAGE = 500
"""Episodes in one sorted page (:meth:`TrainingService.episode_page`)."""
MAX_RANGE_POINTS = 10_000
"""Points one :meth:`TrainingService.curve_since` answer carries at most (``truncated`` says more follow)."""
SMOOTHED_DECIMALS = 10

_RUN_ID_RE = re.compile(CLIENT_RUN_ID_PATTERN)

# metric -> whether higher is better, for the comparison's "best" marks
_COMPARE_BEST: dict[str, bool] = {
    "avg_roi_pct": True,
    "best_roi_pct": True,
    "worst_roi_pct": True,
    "last_roi_pct": True,
    "avg_sharpe": True,
    "avg_max_drawdown_pct": False,
    "avg_reward": True,
}


def trailing_mean(values: npt.NDArray[np.float64], window: int) -> npt.NDArray[np.float64]:
    """Mean of the last ``window`` values at each position, over fewer at the start; NaNs are skipped.

    >>> trailing_mean(np.array([-1.2, 0.4]), 10).tolist()
    [-1.2, -0.4]
    """
    n = values.shape[0]
    if n == 0:
        return values.astype(np.float64)
    present = ~np.isnan(values)
    centre = float(values[present].mean()) if present.any() else 0.0  # keeps cumulative sums small
    centred = np.where(present, values - centre, 0.0)
    sums = np.concatenate(([0.0], np.cumsum(centred)))
    counts = np.concatenate(([0], np.cumsum(present)))
    upper = np.arange(1, n + 1)
    lower = np.maximum(upper - window, 0)
    window_counts = counts[upper] - counts[lower]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (sums[upper] - sums[lower]) / window_counts + centre
    means[window_counts == 0] = np.nan
    rounded: npt.NDArray[np.float64] = np.round(means, SMOOTHED_DECIMALS)
    return rounded


def downsample_indices(x: npt.NDArray[np.int64], y: npt.NDArray[np.float64], max_points: int) -> npt.NDArray[np.int64]:
    """Indices of at most ``max_points`` points chosen by LTTB on ``y`` (first and last always kept)."""
    n = x.shape[0]
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    if max_points <= 2:
        return np.array([0, n - 1], dtype=np.int64)[:max_points]
    filled = np.where(np.isnan(y), 0.0, y)
    lttb = LTTBDownsampler()  # type: ignore[no-untyped-call]
    chosen = lttb.downsample(x.astype(np.float64), filled, n_out=max_points)
    indices = np.union1d(np.asarray(chosen, dtype=np.int64), np.array([0, n - 1], dtype=np.int64))
    return indices


def _mean(total: float, count: int) -> float | None:
    return round(total / count, SMOOTHED_DECIMALS) if count else None


def _none_if_nan(values: npt.NDArray[np.float64]) -> list[float | None]:
    return [None if v != v else v for v in values.tolist()]


def _curve_points(
    episodes: npt.NDArray[np.int64], values: npt.NDArray[np.float64], smoothed: npt.NDArray[np.float64]
) -> list[dict[str, Any]]:
    return [
        {"episode": e, "value": v, "smoothed": s}
        for e, v, s in zip(episodes.tolist(), _none_if_nan(values), _none_if_nan(smoothed), strict=True)
    ]


def _curve_json(
    episodes: npt.NDArray[np.int64], values: npt.NDArray[np.float64], smoothed: npt.NDArray[np.float64]
) -> orjson.Fragment:
    """The points as one JSON array, serialised in chunks so a 100k-point curve never exists as dicts at once."""
    chunk = 10_000
    pieces = [
        orjson.dumps(_curve_points(episodes[k : k + chunk], values[k : k + chunk], smoothed[k : k + chunk]))[1:-1]
        for k in range(0, int(episodes.shape[0]), chunk)
    ]
    return orjson.Fragment(b"[" + b",".join(pieces) + b"]")


def _invalid(field: str, message: str, received: Any, allowed: Any = None) -> RequestValidationFailed:
    detail: dict[str, Any] = {"field": field, "message": message, "received": received}
    if allowed is not None:
        detail["allowed"] = allowed
    return RequestValidationFailed(f"Invalid {field}: {message}", details=[detail])


def _run_not_found(run_id: str) -> NotFoundError:
    return NotFoundError(f"No training run {run_id!r} in this account.", code="run_not_found")


class TrainingService:
    """The training API's rules over one database session."""

    def __init__(self, session: Session, settings: Settings, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = TrainingStore(session)
        self.settings = settings
        self.clock = clock

    # --- shared -------------------------------------------------------------------------------

    def _cutoff(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self.settings.heartbeat_timeout_s)

    def status_of(self, row: Mapping[Any, Any], now: datetime) -> str:
        """The reported status: the stored one, or ``abandoned`` for a silent ``running`` run."""
        status = str(row["status"])
        if status == "running" and row["last_activity_at"] < self._cutoff(now):
            return "abandoned"
        return status

    def summary(self, row: Mapping[Any, Any], now: datetime) -> dict[str, Any]:
        """A run as listed (the seed's fields first)."""
        n = int(row["total_episodes"])
        n_sharpe = int(row["n_sharpe"])
        end = row["completed_at"] or row["last_activity_at"]
        total_ts, done_ts = row["total_timesteps"], row["timesteps_done"]
        return {
            "run_id": row["run_id"],
            "strategy_label": row["strategy_label"],
            "status": self.status_of(row, now),
            "total_episodes": n,
            "avg_roi_pct": _mean(row["sum_roi_pct"], n),
            "avg_sharpe": _mean(row["sum_sharpe"], n_sharpe),
            "started_at": row["started_at"],
            "completed_at": row["completed_at"],
            "env_id": row["env_id"],
            "best_roi_pct": row["best_roi_pct"],
            "worst_roi_pct": row["worst_roi_pct"],
            "last_roi_pct": row["last_roi_pct"],
            "last_episode": row["last_episode"],
            "avg_max_drawdown_pct": _mean(row["sum_max_drawdown_pct"], n),
            "avg_trades": _mean(row["sum_trades"], n),
            "avg_reward": _mean(row["sum_reward"], n),
            "total_steps": int(row["sum_steps"]),
            "duration_seconds": max(0.0, (end - row["started_at"]).total_seconds()),
            "last_heartbeat_at": row["last_heartbeat_at"],
            "last_activity_at": row["last_activity_at"],
            "current_step": row["current_step"],
            "current_episode": row["current_episode"],
            "episode_steps": row["episode_steps"],
            "episode_length": row["episode_length"],
            "steps_per_second": row["steps_per_second"],
            "total_timesteps": total_ts,
            "timesteps_done": done_ts,
            "progress_pct": min(100.0, 100.0 * done_ts / total_ts) if total_ts and done_ts is not None else None,
        }

    def _owned(self, account_id: str, run_id: str) -> RowMapping:
        row = self.store.get_run(run_id) if _RUN_ID_RE.match(run_id) else None
        if row is None or row["account_id"] != account_id:
            raise _run_not_found(run_id)
        return row

    # --- writes -------------------------------------------------------------------------------

    def create_run(self, account_id: str, body: RunCreate) -> tuple[dict[str, Any], bool]:
        """Register a run; returns its summary and whether it was created (``False``: an idempotent resend)."""
        now = self.clock()
        run_id = body.run_id or new_id("run")
        created = self.store.create_run(
            run_id=run_id,
            account_id=account_id,
            strategy_label=body.strategy_label,
            env_id=body.env_id,
            config=body.config,
            total_timesteps=body.total_timesteps,
            now=now,
        )
        row = self.store.get_run(run_id)
        if row is None:  # pragma: no cover - the insert or the conflict guarantees the row
            raise _run_not_found(run_id)
        if created:
            return self.summary(row, now), True
        if row["account_id"] != account_id:
            raise ConflictError(
                f"run_id {run_id!r} is not available; omit run_id to let the server choose one, "
                "or choose another random one."
            )
        config = dict(row["config"] or {})
        added = {key: value for key, value in body.config.items() if key not in config}
        needs_total = body.total_timesteps is not None and row["total_timesteps"] is None
        if added or needs_total:
            config.update(added)
            self.store.update_registration(
                row["pk"], config=config, total_timesteps=body.total_timesteps if needs_total else None
            )
            row = self.store.get_run(run_id)
            assert row is not None
        return self.summary(row, now), False

    def report_episodes(self, account_id: str, run_id: str, episodes: Sequence[EpisodeIn]) -> dict[str, Any]:
        """Store new episodes and fold them into the run's aggregates, in one transaction."""
        now = self.clock()
        if not _RUN_ID_RE.match(run_id):
            raise _run_not_found(run_id)
        rows_by_number: dict[int, dict[str, Any]] = {}
        for episode in episodes:
            row = dict(episode.__dict__)  # the validated field values (a flat model: same as model_dump())
            seen = rows_by_number.get(episode.episode)
            if seen is not None and seen != row:
                raise _invalid(
                    "episodes",
                    f"episode {episode.episode} appears twice in this request with different values",
                    episode.episode,
                )
            rows_by_number[episode.episode] = row
        rows = list(rows_by_number.values())
        # the common case: every episode is numbered above the stored ones (two statements, nothing read)
        added = self.store.add_new_episodes(run_id, account_id, rows, now)
        if added is not None:  # its activity time is now: the stored status is the reported one
            return self._episodes_report(run_id, added, str(added["status"]), accepted=len(rows), sent=len(episodes))
        # ownership check and the run's write lock in one statement (nothing is written for another account's run)
        run = self.store.lock_owned_run(run_id, account_id, now)
        if run is None:
            raise _run_not_found(run_id)
        stored = self.store.stored_episodes(run["pk"], list(rows_by_number))
        conflicts = [
            row["episode"]
            for row in rows
            if row["episode"] in stored and any(row[col] != stored[row["episode"]][col] for col in EPISODE_COLUMNS)
        ]
        if conflicts:
            shown = ", ".join(str(n) for n in conflicts[:10]) + (" ..." if len(conflicts) > 10 else "")
            raise ConflictError(
                f"Episode(s) {shown} of run {run_id!r} were already reported with different values; "
                "episode numbers are unique per run and the first report is kept. Nothing was written.",
                details={"run_id": run_id, "episodes": conflicts},
            )
        fresh = [row for row in rows if row["episode"] not in stored]
        self.store.insert_episodes(run["pk"], fresh)
        updated = (
            self.store.add_to_aggregates(run["pk"], EpisodeStats.of(fresh), now)
            if fresh
            else self.store.get_run(run_id)
        )
        assert updated is not None
        status = self.status_of(updated, now)
        return self._episodes_report(run_id, updated, status, accepted=len(fresh), sent=len(episodes))

    @staticmethod
    def _episodes_report(
        run_id: str, run: Mapping[Any, Any], status: str, *, accepted: int, sent: int
    ) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "accepted": accepted,
            "duplicates": sent - accepted,
            "total_episodes": int(run["total_episodes"]),
            "status": status,
        }

    def heartbeat(self, account_id: str, run_id: str, body: HeartbeatIn) -> dict[str, Any]:
        """Record live progress; revives an abandoned run; ignored for completed or failed runs."""
        run = self._owned(account_id, run_id)
        now = self.clock()
        accepted = run["status"] == "running"
        if accepted:
            self.store.heartbeat(
                run["pk"],
                {
                    "current_step": body.step,
                    "current_episode": body.episode,
                    "episode_steps": body.episode_steps,
                    "episode_length": body.episode_length,
                    "steps_per_second": body.steps_per_second,
                    "total_timesteps": body.total_timesteps,
                    "timesteps_done": body.timesteps_done,
                    "train_metrics": body.train_metrics,
                },
                now,
            )
        return {
            "run_id": run_id,
            "status": "running" if accepted else run["status"],
            "accepted": accepted,
            "last_heartbeat_at": now if accepted else run["last_heartbeat_at"],
        }

    def complete(self, account_id: str, run_id: str, body: RunCompleteIn) -> dict[str, Any]:
        """Mark the run completed (or failed) once; later calls return it unchanged."""
        run = self._owned(account_id, run_id)
        now = self.clock()
        self.store.complete(run["pk"], status=body.status, final_stats=body.final_stats, now=now)
        row = self.store.get_run(run_id)
        assert row is not None
        return self.summary(row, now)

    # --- reads --------------------------------------------------------------------------------

    def list_runs(
        self, account_id: str, *, status: str | None, strategy_label: str | None, limit: int, offset: int
    ) -> dict[str, Any]:
        """The account's runs, newest first, with live aggregates."""
        if status is not None and status not in ALLOWED_STATUSES:
            raise _invalid("status", f"unknown status {status!r}", status, list(ALLOWED_STATUSES))
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise _invalid(
                "limit", f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}", limit, f"1..{MAX_LIST_LIMIT}"
            )
        if offset < 0:
            raise _invalid("offset", f"offset must be >= 0, got {offset}", offset, ">= 0")
        now = self.clock()
        rows, total = self.store.list_runs(
            account_id,
            status=status,
            strategy_label=strategy_label,
            cutoff=self._cutoff(now),
            limit=limit,
            offset=offset,
        )
        return {"runs": [self.summary(r, now) for r in rows], "total": total, "limit": limit, "offset": offset}

    def get_run(
        self, account_id: str, run_id: str, *, episodes_limit: int | None, episodes_offset: int
    ) -> dict[str, Any]:
        """Run metadata, config, a page of episodes (all up to the cap) and a smoothed ROI curve."""
        limit = DEFAULT_EPISODES_LIMIT if episodes_limit is None else episodes_limit
        if not 1 <= limit <= MAX_EPISODES_LIMIT:
            raise _invalid(
                "episodes_limit",
                f"episodes_limit must be between 1 and {MAX_EPISODES_LIMIT}, got {limit}",
                limit,
                f"1..{MAX_EPISODES_LIMIT}",
            )
        if episodes_offset < 0:
            raise _invalid("episodes_offset", f"episodes_offset must be >= 0, got {episodes_offset}", episodes_offset)
        run = self._owned(account_id, run_id)
        now = self.clock()
        detail = self.summary(run, now)
        episodes = [dict(e) for e in self.store.episodes_page(run["pk"], limit=limit, offset=episodes_offset)]
        total = int(run["total_episodes"])
        curve = self._curve(run, "roi_pct", 10, DETAIL_CURVE_POINTS)
        detail.update(
            config=run["config"],
            final_stats=run["final_stats"],
            train_metrics=run["train_metrics"],
            episodes=episodes,
            episodes_total=total,
            episodes_limit=limit,
            episodes_offset=episodes_offset,
            episodes_truncated=episodes_offset + len(episodes) < total,
            learning_curve=curve.pop("curve"),
            learning_curve_meta=curve,
        )
        return detail

    def learning_curve(
        self,
        account_id: str,
        run_id: str,
        *,
        metric: str,
        window: int,
        max_points: int | None,
        as_json: bool = False,
    ) -> dict[str, Any]:
        """The metric per episode with its trailing mean, optionally LTTB-downsampled after smoothing.

        ``curve`` is a list of ``{"episode", "value", "smoothed"}`` dicts; with ``as_json`` (the REST
        route) it is one pre-serialised ``orjson.Fragment``, built in chunks to bound memory.
        """
        if metric not in CURVE_METRICS:
            raise _invalid("metric", f"unknown metric {metric!r}", metric, list(CURVE_METRICS))
        if not 1 <= window <= MAX_WINDOW:
            raise _invalid(
                "window", f"window must be an integer from 1 to {MAX_WINDOW}, got {window}", window, f"1..{MAX_WINDOW}"
            )
        if max_points is not None and not 2 <= max_points <= MAX_CURVE_POINTS:
            raise _invalid(
                "max_points",
                f"max_points must be from 2 to {MAX_CURVE_POINTS} (or omitted for every episode), got {max_points}",
                max_points,
                f"2..{MAX_CURVE_POINTS} or omitted",
            )
        run = self._owned(account_id, run_id)
        return self._curve(run, metric, window, max_points, as_json=as_json)

    def _curve(
        self, run: Mapping[Any, Any], metric: str, window: int, max_points: int | None, *, as_json: bool = False
    ) -> dict[str, Any]:
        """The curve; with ``as_json`` its points come pre-serialised (an ``orjson.Fragment``), chunk by chunk."""
        episodes, values = self.store.cached_metric_series(run, metric)
        smoothed = trailing_mean(values, window)
        n_total = int(episodes.shape[0])
        method = "none"
        if max_points is not None and n_total > max_points:
            keep = downsample_indices(episodes, smoothed, max_points)
            episodes, values, smoothed = episodes[keep], values[keep], smoothed[keep]
            method = "lttb"
        points = _curve_json if as_json else _curve_points
        curve: list[dict[str, Any]] | orjson.Fragment = points(episodes, values, smoothed)
        return {
            "metric": metric,
            "window": window,
            "curve": curve,
            "n_total": n_total,
            "n_returned": int(episodes.shape[0]),
            "method": method,
            "max_points": max_points,
        }

    def compare(self, account_id: str, run_ids: str) -> dict[str, Any]:
        """Aggregates of up to :data:`MAX_COMPARE_RUNS` runs side by side, with the best run per metric."""
        ids = list(dict.fromkeys(part.strip() for part in run_ids.split(",") if part.strip()))
        if not ids:
            raise _invalid("run_ids", "name at least one run: run_ids=run_a,run_b", run_ids)
        if len(ids) > MAX_COMPARE_RUNS:
            raise _invalid("run_ids", f"at most {MAX_COMPARE_RUNS} runs can be compared, got {len(ids)}", len(ids))
        malformed = [run_id for run_id in ids if not _RUN_ID_RE.match(run_id)]
        if malformed:
            raise _invalid(
                "run_ids",
                f"malformed run id(s) {', '.join(map(repr, malformed))}; ids look like run_3f9a0c2e1b7d4a55",
                malformed,
            )
        found = {row["run_id"]: row for row in self.store.get_runs(ids) if row["account_id"] == account_id}
        missing = [run_id for run_id in ids if run_id not in found]
        if missing:
            raise NotFoundError(
                f"No training run(s) {', '.join(map(repr, missing))} in this account.",
                code="run_not_found",
                details={"run_ids": missing},
            )
        now = self.clock()
        keys = list(CompareRunPublic.model_fields)
        runs = []
        for run_id in ids:
            summary = self.summary(found[run_id], now)
            runs.append({key: summary[key] for key in keys})
        best: dict[str, str | None] = {}
        for metric, higher in _COMPARE_BEST.items():
            scored = [(r[metric], r["run_id"]) for r in runs if r[metric] is not None and math.isfinite(r[metric])]
            if not scored:
                best[metric] = None
                continue
            target = max(v for v, _ in scored) if higher else min(v for v, _ in scored)
            best[metric] = next(rid for v, rid in scored if v == target)
        return {"runs": runs, "best": best}

    # --- dashboard reads: ownership, sorted episode pages, curve ranges -------------------------

    def owned_run(self, account_id: str, run_id: str) -> RowMapping:
        """The stored run row of ``account_id``; ``run_not_found`` for an unknown or another account's run."""
        return self._owned(account_id, run_id)

    def episode_page(
        self,
        account_id: str,
        run_id: str,
        *,
        sort: str = "episode",
        order: str = "desc",
        page: int = 1,
        per_page: int = 50,
    ) -> dict[str, Any]:
        """One page of the run's episodes sorted by ``sort`` on the server (nulls last, ties by episode).

        ``page`` is clamped to ``1..pages``. Example::

            service.episode_page(account_id, run_id, sort="roi_pct", order="desc", page=1, per_page=50)
        """
        if sort not in EPISODE_SORT_COLUMNS:
            raise _invalid("sort", f"cannot sort episodes by {sort!r}", sort, list(EPISODE_SORT_COLUMNS))
        if order not in ("asc", "desc"):
            raise _invalid("order", f"order must be asc or desc, got {order!r}", order, ["asc", "desc"])
        if not 1 <= per_page <= MAX_EPISODES_PER_PAGE:
            raise _invalid(
                "per_page",
                f"per_page must be from 1 to {MAX_EPISODES_PER_PAGE}, got {per_page}",
                per_page,
                f"1..{MAX_EPISODES_PER_PAGE}",
            )
        run = self._owned(account_id, run_id)
        total = int(run["total_episodes"])
        pages = max(1, math.ceil(total / per_page))
        page = min(max(1, page), pages)
        rows = self.store.episodes_sorted(
            run["pk"], sort=sort, descending=order == "desc", limit=per_page, offset=(page - 1) * per_page
        )
        return {
            "episodes": [dict(r) for r in rows],
            "total": total,
            "page": page,
            "pages": pages,
            "per_page": per_page,
            "sort": sort,
            "order": order,
        }

    def curve_since(
        self,
        account_id: str,
        run_id: str,
        *,
        metric: str,
        window: int,
        since_episode: int,
        until_episode: int | None = None,
    ) -> dict[str, Any]:
        """The learning-curve points of the episodes in ``(since_episode, until_episode]``, each equal to the
        full curve's (the ``window - 1`` episodes before the range are read to smooth its start).

        For live charts (new points after the last one shown) and zooming into a downsampled curve.
        At most :data:`MAX_RANGE_POINTS` points; ``truncated`` says when more follow. ``total_episodes``
        is read after the points: a chart holding fewer episodes than that (with ``truncated`` false)
        is missing late ones (reported out of order) and should be redrawn in full.
        """
        self._check_curve_args(metric, window)
        run = self._owned(account_id, run_id)
        episodes, values, truncated = self.store.metric_range(
            run["pk"], metric, after=since_episode, until=until_episode, before=window - 1, limit=MAX_RANGE_POINTS
        )
        smoothed = trailing_mean(values, window)
        new = episodes > since_episode
        after = self.store.get_run(run_id)
        assert after is not None
        curve = _curve_points(episodes[new], values[new], smoothed[new])
        return {
            "metric": metric,
            "window": window,
            "curve": curve,
            "n_returned": len(curve),
            "method": "since",
            "since_episode": since_episode,
            "until_episode": until_episode,
            "truncated": truncated,
            "total_episodes": int(after["total_episodes"]),
        }

    def latest_smoothed(self, account_id: str, run_id: str, *, metric: str, window: int) -> float | None:
        """The run's last smoothed ``metric`` (mean of its last ``window`` episodes), reading only those."""
        self._check_curve_args(metric, window)
        run = self._owned(account_id, run_id)
        _, values, _ = self.store.metric_range(run["pk"], metric, after=None, until=None, before=window, limit=0)
        smoothed = trailing_mean(values, window)
        return None if smoothed.size == 0 or math.isnan(smoothed[-1]) else float(smoothed[-1])

    @staticmethod
    def _check_curve_args(metric: str, window: int) -> None:
        if metric not in CURVE_METRICS:
            raise _invalid("metric", f"unknown metric {metric!r}", metric, list(CURVE_METRICS))
        if not 1 <= window <= MAX_WINDOW:
            raise _invalid(
                "window", f"window must be an integer from 1 to {MAX_WINDOW}, got {window}", window, f"1..{MAX_WINDOW}"
            )
