"""Evaluate a trained agent against rule-based baselines on the same held-out episodes.

Usage::

    import gymnasium as gym
    import tradeready_gym
    from stable_baselines3 import PPO
    from tradeready_gym.evaluation import evaluate

    env = gym.make("TradeReady-BTC-v0", api_key="ak_live_...", start_time="2025-07-01",
                   end_time="2025-10-01", episode_length=720, track_training=False)
    result = evaluate(PPO.load("ppo_btc"), env, n_episodes=10, seed=0, run_id="run_abc123")
    print(result)                      # summary table: mean ROI, Sharpe, max DD, trades, win rate
    result.beats_buy_and_hold          # True / False: mean ROI after fees above buy-and-hold's?
    result.evaluation_id               # "eval_..." when recorded on the platform

Same episodes
    Episode ``i`` (1-based) of every agent starts with ``env.reset(seed=seed + i - 1)``, so with
    ``episode_length`` each agent trades the same random window (the env draws it from its seeded
    RNG), and without it the whole range; the window of every agent is checked to be the same.
    Fees, slippage and the starting balance are the env's, for every agent. While evaluating,
    a :class:`~tradeready_gym.wrappers.NormalizationWrapper` in the env is frozen and the env's
    training tracker is paused (evaluation episodes are not training episodes).

Agents
    The evaluated ``policy_or_model`` is anything with ``predict(obs, deterministic=...)``
    returning ``(action, state)`` (Stable-Baselines3 models), a :class:`~tradeready_gym.strategies.Strategy`,
    or a callable ``fn(obs) -> action``. ``baselines`` are strategy names
    (:data:`~tradeready_gym.strategies.STRATEGIES`) or :class:`~tradeready_gym.strategies.Strategy`
    instances.

Recording
    With ``record=True`` and a platform connection (``client=``, or the env's ``client``/
    ``api_key``, or an env that loads its candles from the platform), the result is sent to
    ``POST /api/v1/evaluations`` as a strategy test linked to ``run_id``. A ``run_id`` is checked
    before any episode runs; a failure to deliver at the end is logged and kept in
    :attr:`EvaluationResult.record_error` (call :meth:`EvaluationResult.record` to retry).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import gymnasium as gym
import numpy as np
import pandas as pd

from agentexchange import AgentExchangeClient, AgentExchangeError, NotFoundError
from tradeready_core.timeframes import timeframe_ms
from tradeready_gym.envs import DiscreteTradingEnv, NullTracker, TradingEnv
from tradeready_gym.errors import TradeReadyGymError
from tradeready_gym.strategies import STRATEGIES, Strategy, make_strategy
from tradeready_gym.wrappers import NormalizationWrapper

__all__ = [
    "DEFAULT_BASELINES",
    "REFERENCE_BASELINE",
    "AgentEpisode",
    "AgentSummary",
    "EpisodeWindow",
    "EvaluationError",
    "EvaluationResult",
    "evaluate",
]

logger = logging.getLogger("tradeready_gym.evaluation")

DEFAULT_BASELINES: Final[tuple[str, ...]] = ("buy_and_hold", "sma_crossover", "rsi_mean_reversion")
"""The baselines :func:`evaluate` runs unless told otherwise."""

REFERENCE_BASELINE: Final[str] = "buy_and_hold"
"""The baseline the verdict compares against ("does the agent beat buy-and-hold after fees?")."""

_MAX_EPISODES: Final[int] = 10_000
_AGENT_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:+-]{0,99}$")  # as the platform accepts


class EvaluationError(TradeReadyGymError):
    """An evaluation could not run (bad arguments, episodes that differ between agents, unknown run)."""


@dataclass(frozen=True, slots=True)
class EpisodeWindow:
    """The candles of one evaluation episode, identical for every agent.

    ``start_index``/``end_index`` are bar indices in the env's candles (the first decision is taken
    after candle ``start_index`` closed); ``start_time`` is that candle's open time and ``end_time``
    the close time of the last candle, in epoch ms.
    """

    episode: int
    seed: int
    start_index: int
    end_index: int
    start_time: int
    end_time: int
    steps: int

    def as_dict(self) -> dict[str, int]:
        """The window as a plain dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class AgentEpisode:
    """One agent's metrics on one episode (the engine's single metrics definition, after fees)."""

    episode: int
    roi_pct: float
    sharpe_ratio: float
    sortino_ratio: float
    max_drawdown_pct: float
    total_trades: int
    win_rate: float
    exposure_pct: float
    final_equity: float
    total_fees: float
    reward_sum: float
    steps: int

    def as_dict(self) -> dict[str, float | int]:
        """The metrics as a plain dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class AgentSummary:
    """Means over an agent's episodes (and the spread of its ROI)."""

    agent: str
    kind: str
    episodes: int
    mean_roi_pct: float
    std_roi_pct: float
    mean_sharpe_ratio: float
    mean_max_drawdown_pct: float
    mean_total_trades: float
    mean_win_rate: float
    mean_total_fees: float

    @classmethod
    def of(cls, agent: str, kind: str, episodes: Sequence[AgentEpisode]) -> AgentSummary:
        """Summarise ``episodes`` (at least one)."""
        rois = [e.roi_pct for e in episodes]
        return cls(
            agent=agent,
            kind=kind,
            episodes=len(episodes),
            mean_roi_pct=statistics.fmean(rois),
            std_roi_pct=statistics.stdev(rois) if len(rois) > 1 else 0.0,
            mean_sharpe_ratio=statistics.fmean(e.sharpe_ratio for e in episodes),
            mean_max_drawdown_pct=statistics.fmean(e.max_drawdown_pct for e in episodes),
            mean_total_trades=statistics.fmean(e.total_trades for e in episodes),
            mean_win_rate=statistics.fmean(e.win_rate for e in episodes),
            mean_total_fees=statistics.fmean(e.total_fees for e in episodes),
        )

    def as_dict(self) -> dict[str, Any]:
        """The summary as a plain dict."""
        return asdict(self)


@dataclass
class EvaluationResult:
    """What :func:`evaluate` measured: per-episode metrics of every agent on the same windows.

    ``agents`` maps each agent's name to its kind (``"model"`` first, then ``"baseline"``\\ s),
    ``episodes`` each name to its :class:`AgentEpisode` list (in episode order).
    """

    model: str
    env_id: str
    env_config: dict[str, Any]
    seed: int
    deterministic: bool
    windows: list[EpisodeWindow]
    agents: dict[str, str]
    episodes: dict[str, list[AgentEpisode]]
    run_id: str | None = None
    evaluation_id: str | None = None
    record_error: str | None = None
    name: str | None = None
    _client_id: str = field(default_factory=lambda: f"eval_{secrets.token_hex(8)}", repr=False)

    # ------------------------------------------------------------------ summaries
    @property
    def summary(self) -> list[AgentSummary]:
        """One :class:`AgentSummary` per agent, the model first."""
        return [AgentSummary.of(name, kind, self.episodes[name]) for name, kind in self.agents.items()]

    def summary_frame(self) -> pd.DataFrame:
        """:attr:`summary` as a DataFrame indexed by agent."""
        return pd.DataFrame([s.as_dict() for s in self.summary]).set_index("agent")

    def to_frame(self) -> pd.DataFrame:
        """Every agent's per-episode metrics, one row per (agent, episode)."""
        rows = [{"agent": name, **e.as_dict()} for name, eps in self.episodes.items() for e in eps]
        return pd.DataFrame(rows)

    @property
    def beats_buy_and_hold(self) -> bool | None:
        """Whether the model's mean ROI (after fees) is above buy-and-hold's; ``None`` without that baseline."""
        if REFERENCE_BASELINE not in self.episodes or self.model == REFERENCE_BASELINE:
            return None
        model = statistics.fmean(e.roi_pct for e in self.episodes[self.model])
        reference = statistics.fmean(e.roi_pct for e in self.episodes[REFERENCE_BASELINE])
        return model > reference

    @property
    def episodes_beating_buy_and_hold(self) -> int | None:
        """On how many episodes the model's ROI was above buy-and-hold's; ``None`` without that baseline."""
        if REFERENCE_BASELINE not in self.episodes or self.model == REFERENCE_BASELINE:
            return None
        pairs = zip(self.episodes[self.model], self.episodes[REFERENCE_BASELINE], strict=True)
        return sum(1 for m, b in pairs if m.roi_pct > b.roi_pct)

    def verdict(self) -> str:
        """One sentence answering "does the agent beat buy-and-hold after fees?"."""
        beats = self.beats_buy_and_hold
        if beats is None:
            return f"{self.model}: no buy_and_hold baseline to compare with"
        by_name = {s.agent: s for s in self.summary}
        gap = by_name[self.model].mean_roi_pct - by_name[REFERENCE_BASELINE].mean_roi_pct
        won = self.episodes_beating_buy_and_hold
        word = "beats" if beats else "does not beat"
        return (
            f"{self.model} {word} buy-and-hold after fees: {gap:+.2f} pp mean ROI, "
            f"ahead on {won}/{len(self.windows)} episodes"
        )

    def __str__(self) -> str:
        header = f"{'agent':<24}{'ROI %':>10}{'Sharpe':>9}{'max DD %':>10}{'trades':>9}{'win rate':>10}"
        lines = [header]
        for s in self.summary:
            lines.append(
                f"{s.agent:<24}{s.mean_roi_pct:>10.2f}{s.mean_sharpe_ratio:>9.2f}{s.mean_max_drawdown_pct:>10.2f}"
                f"{s.mean_total_trades:>9.1f}{s.mean_win_rate:>10.2f}"
            )
        lines.append(self.verdict())
        return "\n".join(lines)

    # ------------------------------------------------------------------ platform
    def to_payload(self) -> dict[str, Any]:
        """The body of ``POST /api/v1/evaluations``."""
        return {
            "evaluation_id": self.evaluation_id or self._client_id,
            "run_id": self.run_id,
            "name": self.name,
            "model": self.model,
            "env_id": self.env_id,
            "env_config": self.env_config,
            "seed": self.seed,
            "deterministic": self.deterministic,
            "episodes": [w.as_dict() for w in self.windows],
            "agents": [
                {"name": name, "kind": kind, "episodes": [e.as_dict() for e in self.episodes[name]]}
                for name, kind in self.agents.items()
            ],
        }

    def record(self, client: AgentExchangeClient, *, run_id: str | None = None) -> str:
        """Record the evaluation on the platform (idempotent: resending stores it once); returns its id."""
        if run_id is not None:
            self.run_id = run_id
        answer = client.record_evaluation(self.to_payload())
        self.evaluation_id = str(answer["evaluation_id"])
        self.record_error = None
        return self.evaluation_id


# ---------------------------------------------------------------------------------------- agents
class _Agent:
    """A uniform face over models, strategies and callables: ``reset`` then ``act`` once per step."""

    def __init__(self, name: str, kind: str, act: Callable[[Any, Mapping[str, Any]], Any], strategy: Strategy | None):
        self.name, self.kind, self._act, self._strategy = name, kind, act, strategy

    def reset(self, env: gym.Env[Any, Any], info: Mapping[str, Any]) -> None:
        if self._strategy is not None:
            self._strategy.reset(env, info)

    def act(self, obs: Any, info: Mapping[str, Any]) -> Any:
        return self._act(obs, info)


def _model_agent(policy: Any, deterministic: bool, name: str | None) -> _Agent:
    if isinstance(policy, Strategy):
        return _Agent(name or policy.name, "model", policy.act, policy)
    predict = getattr(policy, "predict", None)
    if callable(predict):

        def act(obs: Any, info: Mapping[str, Any]) -> Any:
            action, _state = predict(obs, deterministic=deterministic)
            return action

        return _Agent(name or type(policy).__name__, "model", act, None)
    if callable(policy):
        label = name or str(getattr(policy, "__name__", None) or type(policy).__name__)
        if name is None and not _AGENT_NAME.match(label):
            label = "model"  # e.g. a lambda
        return _Agent(label, "model", lambda obs, info: policy(obs), None)
    raise EvaluationError(
        "policy_or_model must have predict(obs, deterministic=...) (e.g. a Stable-Baselines3 model), "
        f"be a tradeready_gym.strategies.Strategy, or be a callable fn(obs) -> action; got {type(policy).__name__}"
    )


def _baseline_agents(baselines: Sequence[str | Strategy]) -> list[_Agent]:
    if isinstance(baselines, str):
        raise EvaluationError(f"baselines must be a sequence of names or strategies; got the string {baselines!r}")
    agents = []
    for item in baselines:
        if isinstance(item, str):
            if item not in STRATEGIES:
                raise EvaluationError(f"unknown baseline {item!r}; built-in ones are {sorted(STRATEGIES)}")
            strategy = make_strategy(item)
        elif isinstance(item, Strategy):
            strategy = item
        else:
            raise EvaluationError(f"each baseline must be a strategy name or a Strategy; got {item!r}")
        agents.append(_Agent(strategy.name, "baseline", strategy.act, strategy))
    return agents


# ---------------------------------------------------------------------------------------- env helpers
def _trading_env(env: gym.Env[Any, Any]) -> TradingEnv:
    if not isinstance(env, gym.Env):
        raise EvaluationError(f"env must be a gymnasium.Env (e.g. gym.make('TradeReady-BTC-v0', ...)); got {env!r}")
    base = env.unwrapped
    if not isinstance(base, TradingEnv):
        raise EvaluationError(f"env must be a TradeReady environment; got {type(base).__name__}")
    return base


def _env_id(env: gym.Env[Any, Any], base: TradingEnv) -> str:
    spec = env.spec or base.spec
    return spec.id if spec is not None else type(base).__name__


def _env_config(base: TradingEnv) -> dict[str, Any]:
    market = base.market
    config: dict[str, Any] = {
        "symbols": list(base.symbols),
        "timeframe": base.timeframe,
        "start_time": int(market.open_time[0]) if base.start_ms is None else base.start_ms,
        "end_time": base.end_ms,
        "episode_length": base.episode_length,
        "lookback_window": base.lookback_window,
        "observation_features": list(base.pipeline.features),
        "reward": type(base.reward_function).__name__,
        "engine": base.config.as_dict(),
        "data_sources": list(market.sources),
        "data_fingerprint": market.fingerprint,
        "candles": len(market),
    }
    if isinstance(base, DiscreteTradingEnv):
        config["position_size"] = base.position_size
    return config


@contextlib.contextmanager
def _evaluation_mode(env: gym.Env[Any, Any], base: TradingEnv) -> Iterator[None]:
    """Freeze observation normalisation and pause the training tracker; restore both afterwards."""
    thawed: list[NormalizationWrapper[Any]] = []
    current: Any = env
    while isinstance(current, gym.Wrapper):
        if isinstance(current, NormalizationWrapper) and not current.frozen:
            current.freeze()
            thawed.append(current)
        current = current.env
    tracker = base.tracker
    base.attach_tracker(NullTracker())
    try:
        yield
    finally:
        base.attach_tracker(tracker)
        for wrapper in thawed:
            wrapper.unfreeze()


def _platform_client(base: TradingEnv) -> tuple[AgentExchangeClient | None, bool]:
    """The env's platform client (and whether we made it), or ``None`` when the env is offline."""
    own = base.client
    if own is not None:
        return own, False
    if base.api_key is not None:
        return AgentExchangeClient(api_key=base.api_key, base_url=base.base_url), True
    if base._data is None and os.environ.get("TRADEREADY_API_KEY"):
        return AgentExchangeClient(base_url=base.base_url), True
    return None, False


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not low <= int(value) <= high:
        raise EvaluationError(f"{name} must be an integer in [{low}, {high}]; got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------------------- running
def _run_episode(env: gym.Env[Any, Any], agent: _Agent, seed: int) -> tuple[AgentEpisode, dict[str, Any]]:
    obs, info = env.reset(seed=seed)
    agent.reset(env, info)
    while True:
        obs, _reward, terminated, truncated, info = env.step(agent.act(obs, info))
        if terminated or truncated:
            break
    metrics = info["episode_metrics"]
    result = env.unwrapped.episode_result()  # type: ignore[attr-defined]
    episode = AgentEpisode(
        episode=0,
        roi_pct=float(metrics["roi_pct"]),
        sharpe_ratio=float(metrics["sharpe_ratio"]),
        sortino_ratio=float(metrics["sortino_ratio"]),
        max_drawdown_pct=float(metrics["max_drawdown_pct"]),
        total_trades=int(metrics["total_trades"]),
        win_rate=float(metrics["win_rate"]),
        exposure_pct=float(metrics["exposure_pct"]),
        final_equity=float(metrics["final_equity"]),
        total_fees=float(result.total_fees),
        reward_sum=float(info["reward_sum"]),
        steps=int(metrics["steps"]),
    )
    return episode, info


def evaluate(
    policy_or_model: Any,
    env: gym.Env[Any, Any],
    n_episodes: int = 10,
    *,
    seed: int = 0,
    deterministic: bool = True,
    baselines: Sequence[str | Strategy] = DEFAULT_BASELINES,
    record: bool = True,
    run_id: str | None = None,
    name: str | None = None,
    client: AgentExchangeClient | None = None,
) -> EvaluationResult:
    """Run ``policy_or_model`` and ``baselines`` on the same ``n_episodes`` episodes of ``env``.

    Episode ``i`` of every agent uses ``env.reset(seed=seed + i - 1)``. ``deterministic`` is passed
    to ``predict``. ``name`` labels the model (default: its class or function name). ``run_id``
    links the recorded evaluation to the training run it evaluates. See the module docstring.
    """
    base = _trading_env(env)
    n = _check_int("n_episodes", n_episodes, 1, _MAX_EPISODES)
    seed = _check_int("seed", seed, 0, 2**63 - 1 - n)
    if not isinstance(deterministic, bool) or not isinstance(record, bool):
        raise EvaluationError(f"deterministic and record must be True or False; got {deterministic!r}, {record!r}")
    if client is not None and not isinstance(client, AgentExchangeClient):
        raise EvaluationError(f"client must be an agentexchange.AgentExchangeClient; got {client!r}")
    model = _model_agent(policy_or_model, deterministic, name)
    agents = [model, *_baseline_agents(baselines)]
    names = [a.name for a in agents]
    for label in names:
        if not _AGENT_NAME.match(label):
            raise EvaluationError(
                f"agent names must start with a letter or digit and use letters, digits, spaces and _ . : + - "
                f"(at most 100 characters); got {label!r}"
            )
    if len(set(names)) != len(names):
        raise EvaluationError(f"agent names must be distinct (pass name= for the model); got {names}")

    api, owned = (client, False) if client is not None else _platform_client(base)
    try:
        if run_id is not None:
            _check_run(api, run_id)
        windows: list[EpisodeWindow] = []
        episodes: dict[str, list[AgentEpisode]] = {a.name: [] for a in agents}
        with _evaluation_mode(env, base):
            for i in range(n):
                window: EpisodeWindow | None = None
                for agent in agents:
                    result, info = _run_episode(env, agent, seed + i)
                    seen = _window(base, i + 1, seed + i, int(info["episode_start_index"]))
                    if window is None:
                        window = seen
                    elif seen != window:
                        raise EvaluationError(
                            f"episode {i + 1}: {agent.name} traded bars {seen.start_index}..{seen.end_index} but "
                            f"{agents[0].name} bars {window.start_index}..{window.end_index}; the env must draw "
                            "its windows only from reset(seed=)"
                        )
                    episodes[agent.name].append(_numbered(result, i + 1))
                assert window is not None
                windows.append(window)
        evaluation = EvaluationResult(
            model=model.name,
            env_id=_env_id(env, base),
            env_config=_env_config(base),
            seed=seed,
            deterministic=deterministic,
            windows=windows,
            agents={a.name: a.kind for a in agents},
            episodes=episodes,
            run_id=run_id,
            name=name,
        )
        if record and api is not None:
            try:
                evaluation.record(api)
            except AgentExchangeError as exc:
                evaluation.record_error = str(exc)
                logger.warning("the evaluation was not recorded on the platform: %s", exc)
        return evaluation
    finally:
        if owned and api is not None:
            api.close()


def _window(base: TradingEnv, episode: int, seed: int, start: int) -> EpisodeWindow:
    """The planned window of an episode starting at bar ``start`` (an agent may end it early by going bankrupt)."""
    market = base.market
    last = len(market) - 1
    end = last if base.episode_length is None else min(last, start + base.episode_length)
    step = timeframe_ms(market.timeframe)
    return EpisodeWindow(
        episode=episode,
        seed=seed,
        start_index=start,
        end_index=end,
        start_time=int(market.open_time[start]),
        end_time=int(market.open_time[end]) + step,
        steps=end - start,
    )


def _numbered(episode: AgentEpisode, number: int) -> AgentEpisode:
    values = episode.as_dict()
    values["episode"] = number
    return AgentEpisode(**values)  # type: ignore[arg-type]


def _check_run(api: AgentExchangeClient | None, run_id: str) -> None:
    if not isinstance(run_id, str) or not run_id.startswith("run_"):
        raise EvaluationError(f"run_id must be a training run id such as 'run_3f9a0c2e1b7d4a55'; got {run_id!r}")
    if api is None:
        raise EvaluationError(
            f"run_id={run_id!r} links the evaluation to a training run on the platform, but the env is offline: "
            "pass client=AgentExchangeClient(...) or create the env with api_key="
        )
    try:
        api.get_training_run(run_id, episodes_limit=1)
    except NotFoundError as exc:
        raise EvaluationError(f"no training run {run_id!r} in this account on {api.base_url}") from exc
