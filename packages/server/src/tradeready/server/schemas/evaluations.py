"""Evaluation (strategy test) schemas: what ``tradeready_gym.evaluate`` sends and what readers get.

An evaluation runs a trained model and rule-based baselines on the same held-out episodes (same
candle windows, same fees) and stores every agent's metrics per episode. Floats must be finite:
``NaN`` and ``Infinity`` are rejected everywhere, including inside ``env_config``.

Example::

    EvaluationCreate.model_validate({
        "run_id": "run_abc123", "model": "PPO", "env_id": "TradeReady-BTC-v0", "seed": 0,
        "episodes": [{"episode": 1, "seed": 0, "start_index": 100, "end_index": 600,
                      "start_time": 1700000000000, "end_time": 1701800000000, "steps": 500}],
        "agents": [{"name": "PPO", "kind": "model", "episodes": [{"episode": 1, "roi_pct": 2.5, ...}]},
                   {"name": "buy_and_hold", "kind": "baseline", "episodes": [...]}],
    })
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from tradeready.server.schemas.training import CLIENT_RUN_ID_PATTERN, check_finite_json

__all__ = [
    "AGENT_NAME_PATTERN",
    "EVALUATION_ID_PATTERN",
    "MAX_AGENTS",
    "MAX_EVALUATION_EPISODES",
    "REFERENCE_BASELINE",
    "AgentDetailPublic",
    "AgentEpisodeIn",
    "AgentEpisodePublic",
    "AgentIn",
    "AgentPublic",
    "AgentSummaryPublic",
    "EvaluationCreate",
    "EvaluationListPublic",
    "EvaluationPublic",
    "EvaluationSummaryPublic",
    "EvaluationWindow",
]

EVALUATION_ID_PATTERN = r"^eval_[A-Za-z0-9_-]{1,64}$"
"""Evaluation ids: ``eval_`` + 16 random hex from the server, or a client-chosen ``eval_<letters, digits, _ ->``."""

AGENT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.:+-]{0,99}$"

MAX_EVALUATION_EPISODES = 10_000
MAX_AGENTS = 20

REFERENCE_BASELINE = "buy_and_hold"
"""The baseline the verdict ``beats_buy_and_hold`` compares the model with."""

Finite = Annotated[float, Field(allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=2_147_483_647)]


class EvaluationWindow(BaseModel):
    """One held-out episode, the same for every agent: candles ``start_index..end_index``."""

    model_config = ConfigDict(extra="forbid")

    episode: int = Field(ge=1, le=MAX_EVALUATION_EPISODES)
    seed: int | None = Field(default=None, ge=0)
    start_index: Count | None = None
    end_index: Count | None = None
    start_time: int = Field(ge=0, description="Open time of the episode's first candle (epoch ms).")
    end_time: int = Field(ge=0, description="Close time of its last candle (epoch ms).")
    steps: Count

    @model_validator(mode="after")
    def _ordered(self) -> EvaluationWindow:
        if self.end_time <= self.start_time:
            raise ValueError(f"end_time ({self.end_time}) must be after start_time ({self.start_time})")
        return self


class AgentEpisodeIn(BaseModel):
    """One agent's metrics on one episode (after fees, from the shared engine)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    episode: int = Field(ge=1, le=MAX_EVALUATION_EPISODES)
    roi_pct: Finite
    sharpe_ratio: Finite
    max_drawdown_pct: Finite = Field(ge=0)
    total_trades: Count
    sortino_ratio: Finite | None = None
    win_rate: Finite | None = Field(default=None, ge=0, le=1)
    exposure_pct: Finite | None = Field(default=None, ge=0, le=100)
    final_equity: Finite | None = None
    total_fees: Finite | None = Field(default=None, ge=0)
    reward_sum: Finite | None = None
    steps: Count | None = None


class AgentIn(BaseModel):
    """An agent of the evaluation: the evaluated ``model`` or a rule-based ``baseline``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=AGENT_NAME_PATTERN)
    kind: Literal["model", "baseline"]
    episodes: list[AgentEpisodeIn] = Field(min_length=1, max_length=MAX_EVALUATION_EPISODES)


class EvaluationCreate(BaseModel):
    """``POST /evaluations``. Resending the same ``evaluation_id`` returns the stored evaluation (200)."""

    model_config = ConfigDict(extra="forbid")

    evaluation_id: str | None = Field(default=None, pattern=EVALUATION_ID_PATTERN, max_length=72)
    run_id: str | None = Field(default=None, pattern=CLIENT_RUN_ID_PATTERN, max_length=72)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    model: str = Field(pattern=AGENT_NAME_PATTERN, description="Name of the evaluated agent (kind 'model').")
    env_id: str = Field(min_length=1, max_length=200)
    env_config: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = Field(default=None, ge=0)
    deterministic: bool = True
    episodes: list[EvaluationWindow] = Field(min_length=1, max_length=MAX_EVALUATION_EPISODES)
    agents: list[AgentIn] = Field(min_length=1, max_length=MAX_AGENTS)

    @field_validator("env_config")
    @classmethod
    def _config_is_finite_and_bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        checked: dict[str, Any] = check_finite_json(value, "env_config")
        return checked

    @field_validator("episodes")
    @classmethod
    def _unique_episodes(cls, value: list[EvaluationWindow]) -> list[EvaluationWindow]:
        numbers = [w.episode for w in value]
        if len(set(numbers)) != len(numbers):
            raise ValueError("episode numbers must be unique")
        return value

    @field_validator("agents")
    @classmethod
    def _agents_cover_the_episodes(cls, value: list[AgentIn], info: ValidationInfo) -> list[AgentIn]:
        names = [a.name for a in value]
        if len(set(names)) != len(names):
            raise ValueError(f"agent names must be unique; got {names}")
        model = info.data.get("model")
        models = [a.name for a in value if a.kind == "model"]
        if model is not None and models != [model]:
            raise ValueError(f"exactly one agent of kind 'model' named {model!r} (the model field); got {models}")
        windows = info.data.get("episodes")
        if windows is not None:
            expected = sorted(w.episode for w in windows)
            for agent in value:
                got = sorted(e.episode for e in agent.episodes)
                if got != expected:
                    raise ValueError(
                        f"agent {agent.name!r} must report exactly the episodes {_span(expected)}; got {_span(got)}"
                    )
        return value


def _span(numbers: list[int]) -> str:
    if len(numbers) > 6:
        return f"[{', '.join(map(str, numbers[:3]))}, ..., {numbers[-1]}] ({len(numbers)} episodes)"
    return str(numbers)


# --- responses ------------------------------------------------------------------------------


class AgentSummaryPublic(BaseModel):
    """Means over one agent's episodes."""

    episodes: int
    mean_roi_pct: float
    std_roi_pct: float
    mean_sharpe_ratio: float
    mean_max_drawdown_pct: float
    mean_total_trades: float
    mean_win_rate: float | None
    mean_total_fees: float | None


class AgentEpisodePublic(BaseModel):
    episode: int
    roi_pct: float
    sharpe_ratio: float
    max_drawdown_pct: float
    total_trades: int
    sortino_ratio: float | None
    win_rate: float | None
    exposure_pct: float | None
    final_equity: float | None
    total_fees: float | None
    reward_sum: float | None
    steps: int | None


class AgentPublic(BaseModel):
    name: str
    kind: Literal["model", "baseline"]
    summary: AgentSummaryPublic


class AgentDetailPublic(AgentPublic):
    episodes: list[AgentEpisodePublic]


class EvaluationSummaryPublic(BaseModel):
    """An evaluation as listed: metadata, the verdict and every agent's summary."""

    evaluation_id: str
    run_id: str | None
    name: str | None
    model: str
    env_id: str
    seed: int | None
    deterministic: bool
    n_episodes: int
    created_at: datetime
    beats_buy_and_hold: bool | None = Field(
        description="Model's mean ROI (after fees) above buy_and_hold's; null without that baseline."
    )
    episodes_won_vs_buy_and_hold: int | None = Field(
        description="Episodes on which the model's ROI was above buy_and_hold's."
    )
    roi_gap_vs_buy_and_hold_pct: float | None = Field(
        description="Model's mean ROI minus buy_and_hold's, in percentage points."
    )
    agents: list[AgentPublic]


class EvaluationPublic(EvaluationSummaryPublic):
    """``GET /evaluations/{id}``: everything, with the episode windows and per-episode metrics."""

    env_config: dict[str, Any]
    episodes: list[EvaluationWindow]
    agents: list[AgentDetailPublic]  # type: ignore[assignment]


class EvaluationListPublic(BaseModel):
    evaluations: list[EvaluationSummaryPublic]
    total: int
    limit: int
    offset: int
