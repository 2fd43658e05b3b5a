"""Training API schemas: what the tracker sends (``*Create``/``*In``) and what readers get (``*Public``).

Field names follow the user's contract (``../shared/seeds/training-tracking.txt``) exactly; extra
fields are additions, never renames. Floats must be finite: ``NaN`` and ``Infinity`` are rejected
everywhere, including inside ``config``.

Example::

    EpisodeIn.model_validate({"episode": 1, "roi_pct": -1.2, "sharpe_ratio": 0.3,
                              "max_drawdown_pct": 4.0, "total_trades": 12, "reward_sum": -0.8})
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ALLOWED_STATUSES",
    "CLIENT_RUN_ID_PATTERN",
    "CURVE_METRICS",
    "MAX_BATCH_EPISODES",
    "MAX_CONFIG_BYTES",
    "ComparePublic",
    "CompareRunPublic",
    "CurvePoint",
    "EpisodeBatchIn",
    "EpisodeIn",
    "EpisodePublic",
    "EpisodesReportPublic",
    "HeartbeatIn",
    "HeartbeatPublic",
    "LearningCurvePublic",
    "RunCompleteIn",
    "RunCreate",
    "RunDetailPublic",
    "RunListPublic",
    "RunSummaryPublic",
    "check_finite_json",
]

ALLOWED_STATUSES = ("running", "completed", "abandoned", "failed")
"""Every status a run can report; ``abandoned`` is derived from the heartbeat timeout."""

CURVE_METRICS = ("roi_pct", "sharpe_ratio", "max_drawdown_pct", "total_trades", "reward_sum")
"""Metrics a learning curve can be drawn for."""

CLIENT_RUN_ID_PATTERN = r"^run_[A-Za-z0-9_-]{1,64}$"
"""Run ids: ``run_`` + 16 random hex from the server, or a client-chosen ``run_<letters, digits, _ ->``."""

MAX_BATCH_EPISODES = 10_000
MAX_CONFIG_BYTES = 64 * 1024
MAX_EXTRA_METRICS = 64

RunStatus = Literal["running", "completed", "abandoned", "failed"]
Finite = Annotated[float, Field(allow_inf_nan=False)]
ExtraValue = Annotated[float, Field(allow_inf_nan=False)] | int | bool | str | None


def check_finite_json(value: Any, field: str, max_bytes: int = MAX_CONFIG_BYTES) -> Any:
    """Reject NaN/Infinity anywhere inside ``value`` and bound its JSON size; return ``value`` unchanged."""

    def walk(node: Any, path: str) -> None:
        if isinstance(node, float) and not math.isfinite(node):
            raise ValueError(f"{path} is {node!r}; NaN and Infinity are not allowed (send null instead)")
        if isinstance(node, dict):
            for key, item in node.items():
                walk(item, f"{path}.{key}")
        elif isinstance(node, list | tuple):
            for index, item in enumerate(node):
                walk(item, f"{path}[{index}]")

    walk(value, field)
    size = len(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))
    if size > max_bytes:
        raise ValueError(f"{field} is {size} bytes of JSON; at most {max_bytes} bytes are allowed")
    return value


# --- requests -------------------------------------------------------------------------------


class RunCreate(BaseModel):
    """``POST /training/runs``. Resending the same ``run_id`` returns the existing run (200)."""

    model_config = ConfigDict(extra="forbid")

    run_id: str | None = Field(default=None, pattern=CLIENT_RUN_ID_PATTERN, max_length=72)
    strategy_label: str = Field(min_length=1, max_length=200)
    env_id: str | None = Field(default=None, max_length=200)
    config: dict[str, Any] = Field(default_factory=dict)
    total_timesteps: int | None = Field(default=None, ge=1)

    @field_validator("config")
    @classmethod
    def _config_is_finite_and_bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        checked: dict[str, Any] = check_finite_json(value, "config")
        return checked


class EpisodeIn(BaseModel):
    """One episode's metrics. ``(run, episode)`` is unique: a resend with the same values is a no-op."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    episode: int = Field(ge=1, le=2_147_483_647)
    roi_pct: Finite
    sharpe_ratio: Finite | None = None
    max_drawdown_pct: Finite
    total_trades: int = Field(ge=0, le=2_147_483_647)
    reward_sum: Finite
    steps: int | None = Field(default=None, ge=0, le=2_147_483_647)
    session_id: str | None = Field(default=None, max_length=72)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    sortino_ratio: Finite | None = None
    win_rate: Finite | None = None
    final_equity: Finite | None = None
    terminated: bool | None = None
    truncated: bool | None = None
    metrics: dict[str, ExtraValue] | None = Field(
        default=None, max_length=MAX_EXTRA_METRICS, description="Further per-episode metrics."
    )

    @field_validator("started_at", "ended_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(f"{value.isoformat()} has no time zone; send UTC, e.g. 2026-03-01T10:00:00Z")
        return value


class EpisodeBatchIn(BaseModel):
    """The batch form: ``{"episodes": [...]}``, 1 to :data:`MAX_BATCH_EPISODES` episodes."""

    model_config = ConfigDict(extra="forbid")

    episodes: list[EpisodeIn] = Field(min_length=1, max_length=MAX_BATCH_EPISODES)


class RunCompleteIn(BaseModel):
    """``POST /training/runs/{id}/complete``: optional final statistics; ``status`` may be ``failed``."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["completed", "failed"] = "completed"
    final_stats: dict[str, Any] | None = None

    @field_validator("final_stats")
    @classmethod
    def _stats_are_finite(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        checked: dict[str, Any] = check_finite_json(value, "final_stats")
        return checked


class HeartbeatIn(BaseModel):
    """``POST /training/runs/{id}/heartbeat``: live progress of a running trainer."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    step: int = Field(ge=0)
    episode: int = Field(ge=0, le=2_147_483_647)
    episode_steps: int = Field(ge=0, le=2_147_483_647)
    episode_length: int | None = Field(default=None, ge=1, le=2_147_483_647)
    steps_per_second: Finite = Field(ge=0)
    total_timesteps: int | None = Field(default=None, ge=1)
    timesteps_done: int | None = Field(default=None, ge=0)
    train_metrics: dict[str, ExtraValue] | None = Field(
        default=None, max_length=MAX_EXTRA_METRICS, description="Latest training losses and the like."
    )


# --- responses ------------------------------------------------------------------------------


class RunSummaryPublic(BaseModel):
    """A run as listed: the seed's fields first, then aggregates and live progress."""

    run_id: str
    strategy_label: str
    status: RunStatus
    total_episodes: int
    avg_roi_pct: float | None
    avg_sharpe: float | None
    started_at: datetime
    completed_at: datetime | None
    env_id: str | None
    best_roi_pct: float | None
    worst_roi_pct: float | None
    last_roi_pct: float | None
    last_episode: int | None
    avg_max_drawdown_pct: float | None
    avg_trades: float | None
    avg_reward: float | None
    total_steps: int
    duration_seconds: float
    last_heartbeat_at: datetime | None
    last_activity_at: datetime
    current_step: int | None
    current_episode: int | None
    episode_steps: int | None
    episode_length: int | None
    steps_per_second: float | None
    total_timesteps: int | None
    timesteps_done: int | None
    progress_pct: float | None = Field(description="100 * timesteps_done / total_timesteps when both are known.")


class RunListPublic(BaseModel):
    runs: list[RunSummaryPublic]
    total: int
    limit: int
    offset: int


class EpisodePublic(BaseModel):
    episode: int
    roi_pct: float
    sharpe_ratio: float | None
    max_drawdown_pct: float
    total_trades: int
    reward_sum: float
    steps: int | None
    session_id: str | None
    started_at: datetime | None
    ended_at: datetime | None
    sortino_ratio: float | None
    win_rate: float | None
    final_equity: float | None
    terminated: bool | None
    truncated: bool | None
    metrics: dict[str, Any] | None


class CurvePoint(BaseModel):
    episode: int
    value: float | None
    smoothed: float | None


class LearningCurvePublic(BaseModel):
    metric: str
    window: int
    curve: list[CurvePoint]
    n_total: int = Field(description="Episodes in the run.")
    n_returned: int = Field(description="Points in `curve`.")
    method: str = Field(description="'none' (every episode) or 'lttb' (downsampled after smoothing).")
    max_points: int | None


class RunDetailPublic(RunSummaryPublic):
    config: dict[str, Any]
    final_stats: dict[str, Any] | None
    train_metrics: dict[str, Any] | None
    episodes: list[EpisodePublic]
    episodes_total: int
    episodes_limit: int
    episodes_offset: int
    episodes_truncated: bool = Field(description="True when more episodes exist beyond this page.")
    learning_curve: list[CurvePoint]
    learning_curve_meta: dict[str, Any]


class EpisodesReportPublic(BaseModel):
    run_id: str
    accepted: int = Field(description="Episodes stored by this request.")
    duplicates: int = Field(description="Episodes already stored with the same values (ignored).")
    total_episodes: int
    status: RunStatus


class HeartbeatPublic(BaseModel):
    run_id: str
    status: RunStatus
    last_heartbeat_at: datetime


class CompareRunPublic(BaseModel):
    run_id: str
    strategy_label: str
    env_id: str | None
    status: RunStatus
    total_episodes: int
    avg_roi_pct: float | None
    best_roi_pct: float | None
    worst_roi_pct: float | None
    last_roi_pct: float | None
    avg_sharpe: float | None
    avg_max_drawdown_pct: float | None
    avg_trades: float | None
    avg_reward: float | None
    started_at: datetime
    completed_at: datetime | None
    duration_seconds: float


class ComparePublic(BaseModel):
    runs: list[CompareRunPublic]
    best: dict[str, str | None] = Field(description="For each metric, the run_id that is best on it.")
