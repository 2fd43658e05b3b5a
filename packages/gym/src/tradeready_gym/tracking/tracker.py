"""The training tracker: the env's hook that reports a training run to the platform.

Lifecycle (the seed's three events, made robust)::

    env = gym.make("TradeReady-BTC-Continuous-v0", api_key="ak_live_...", strategy_label="ppo_v1")
    env.reset()      # first reset: run_id = "run_" + 16 hex, chosen here at once; registration queued
    ...              # end of every episode (terminated or truncated): metrics + action log queued
    env.close()      # completion queued, queue drained within close_timeout, the rest spooled

The environment calls :meth:`TrainingTracker.on_reset`, :meth:`~TrainingTracker.on_episode_end`
and :meth:`~TrainingTracker.on_close` (the :class:`~tradeready_gym.envs.base.TrainingHook`
protocol); ``step()`` never calls the tracker. Everything that touches the network runs on the
background :class:`~tradeready_gym.tracking.sender.Sender`: the training thread only builds small
dicts and appends to a queue. Tracking errors are logged once on the ``tradeready_gym.tracking``
logger and never raised into the training loop. A tracker not closed by the user is closed at
interpreter exit (``atexit``).

Registration carries ``strategy_label`` as given (default: the env id), the env id and its
parameters, the reward (``reward.config()``), the feature pipeline, the wrapper stack (found once,
at the first reset), the dataset, the package versions and, through the Stable-Baselines3 callback
(:mod:`tradeready_gym.tracking.sb3`), the algorithm, its hyperparameters and ``total_timesteps``.

Each episode's report holds ``roi_pct``, ``sharpe_ratio``, ``max_drawdown_pct``, ``total_trades``
(the engine's single metrics definition, from the env's ``episode_metrics``), ``reward_sum``,
``steps``, ``started_at``/``ended_at`` (wall-clock UTC) and the ``session_id`` of the backtest
session the platform records by replaying the episode's action log through the same engine.

Vectorised training reports one run: see :mod:`tradeready_gym.tracking.group`.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import secrets
import threading
import time
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentexchange import AgentExchangeClient
from tradeready_gym.tracking.describe import env_params, iso_ms, json_safe, wrapper_stack
from tradeready_gym.tracking.group import RunGroup, group_key, session_token
from tradeready_gym.tracking.sender import Complete, Episode, Once, Progress, Register, Sender
from tradeready_gym.tracking.spool import default_spool_dir

if TYPE_CHECKING:
    from tradeready_gym.envs.base import TradingEnv

__all__ = ["DEFAULT_CLOSE_TIMEOUT", "TrainingTracker", "new_run_id", "read_context", "write_context"]

logger = logging.getLogger("tradeready_gym.tracking")

DEFAULT_CLOSE_TIMEOUT = 10.0
"""Seconds ``env.close()`` waits at most for the queue to drain (the rest goes to the spool)."""

_live: weakref.WeakSet[TrainingTracker] = weakref.WeakSet()
_live_lock = threading.Lock()


def new_run_id() -> str:
    """``run_`` + 16 random hex digits."""
    return f"run_{secrets.token_hex(8)}"


def _utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _context_path(spool_dir: Path, session: str) -> Path:
    return spool_dir / ".groups" / f"{session}.context.json"


def write_context(spool_dir: Path, session: str, context: Mapping[str, Any]) -> None:
    """Publish the trainer's context (algorithm, hyperparameters, total and done timesteps, losses).

    Written atomically by :class:`~tradeready_gym.tracking.sb3.TrainingTrackerCallback`; every
    tracker of the same training session (its workers included) reads it at heartbeat time.
    """
    path = _context_path(spool_dir, session)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(json_safe(dict(context)), separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)


def read_context(spool_dir: Path, session: str) -> dict[str, Any]:
    """The context last written by :func:`write_context` for ``session`` (empty if none)."""
    try:
        data = json.loads(_context_path(spool_dir, session).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class TrainingTracker:
    """Reports one environment's training to the platform (see the module docstring).

    Usage (the environment builds one when ``track_training=True``)::

        tracker = TrainingTracker(api_key="ak_live_...", strategy_label="ppo_v1")
        env.unwrapped.attach_tracker(tracker)   # in place of the one the env built itself
        env.reset(); ...; env.close()
        print(tracker.run_id)

    ``client`` (an :class:`agentexchange.AgentExchangeClient`) is used as given; otherwise the env's
    client, else one built from ``api_key``/``base_url`` (then the env's, then
    ``TRADEREADY_API_KEY``/``TRADEREADY_BASE_URL``). Without any API key tracking is off (logged
    once). ``spool_dir`` defaults to :func:`~tradeready_gym.tracking.spool.default_spool_dir`;
    ``close_timeout`` bounds how long ``close()`` waits for delivery; ``replay=False`` skips the
    per-episode backtest session (episodes are then reported without ``session_id``).
    """

    def __init__(
        self,
        client: AgentExchangeClient | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        strategy_label: str | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
        heartbeat_interval: float = 0.5,
        request_timeout: float = 10.0,
        replay: bool = True,
    ) -> None:
        if client is not None and not isinstance(client, AgentExchangeClient):
            raise TypeError(f"client must be an agentexchange.AgentExchangeClient or None; got {client!r}")
        if not (isinstance(close_timeout, int | float) and close_timeout >= 0):
            raise ValueError(f"close_timeout must be a number of seconds >= 0; got {close_timeout!r}")
        self.run_id: str | None = None
        self.strategy_label = strategy_label
        self.close_timeout = float(close_timeout)
        self._client = client
        self._api_key = api_key
        self._base_url = base_url
        self._spool_dir = None if spool_dir is None else Path(spool_dir)
        self._heartbeat_interval = heartbeat_interval
        self._request_timeout = request_timeout
        self._replay = replay
        self._state = "new"  # new -> running -> closed; or off
        self._sender: Sender | None = None
        self._group: RunGroup | None = None
        self._env: TradingEnv | None = None
        self._episodes = 0
        self._steps_done = 0
        self._episode_started = ""
        self._started = 0.0
        self._started_wall = 0.0
        self._replay_base: dict[str, Any] = {}
        self._open_time: Any = None
        self._session = ""
        self._context_seen: tuple[Any, ...] = ()
        self._context_cache: tuple[float, dict[str, Any]] = (-1.0, {})
        self._log = Once()
        self._owned_client: AgentExchangeClient | None = None

    # -- the hook ------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether this tracker reports (registered and not closed)."""
        return self._state == "running"

    @property
    def episodes_reported(self) -> int:
        """Episodes handed to the sender so far by this tracker."""
        return self._episodes

    @property
    def spool_dir(self) -> Path:
        """Where undelivered operations are journaled."""
        return self._spool_dir if self._spool_dir is not None else default_spool_dir()

    @property
    def journal_path(self) -> Path | None:
        """This run's current spool journal (``None`` before the first reset or without a spool)."""
        return None if self._sender is None else self._sender.journal_path

    def on_reset(self, env: TradingEnv) -> None:
        """Start of an episode; the first one registers the run."""
        if self._state == "running":
            self._episode_started = _utcnow()
            return
        if self._state != "new":
            return
        try:
            self._start(env)
        except Exception as exc:  # never break reset() for tracking
            self._state = "off"
            self._log("start", "tracking: disabled for this env, registration failed locally: %r", exc)

    def on_episode_end(self, env: TradingEnv, info: Mapping[str, Any], reward_sum: float) -> None:
        """End of an episode (terminated, truncated or cut short by a reset): queue its report."""
        if self._state != "running" or self._sender is None:
            return
        try:
            metrics = info["episode_metrics"]
            steps = int(metrics["steps"])
            sim = env.simulator
            bankrupt = bool(sim.bankrupt) if sim is not None else False
            episode = {
                "roi_pct": metrics["roi_pct"],
                "sharpe_ratio": metrics["sharpe_ratio"],
                "max_drawdown_pct": metrics["max_drawdown_pct"],
                "total_trades": metrics["total_trades"],
                "reward_sum": float(reward_sum),
                "steps": steps,
                "started_at": self._episode_started,
                "ended_at": _utcnow(),
                "sortino_ratio": metrics.get("sortino_ratio"),
                "win_rate": metrics.get("win_rate"),
                "final_equity": metrics.get("final_equity"),
                "terminated": bankrupt,
                "truncated": not bankrupt,
            }
            replay = None
            remote_session = info.get("session_id")  # execution="remote": the platform already ran it
            if remote_session:
                episode["session_id"] = str(remote_session)
            elif self._replay and steps > 0:
                start = int(info["episode_start_index"])
                replay = {
                    **self._replay_base,
                    "start_time": int(info["episode_start_time"]),
                    "end_time": int(self._open_time[start + steps]),
                    "metrics": metrics,
                }
            self._steps_done += steps
            self._episodes += 1
            self._sender.submit(Episode(episode, replay, info["action_log"] if replay is not None else None))
        except Exception as exc:
            self._log("episode", "tracking: could not record an episode: %r", exc)

    def on_close(self, env: TradingEnv) -> None:
        """``env.close()``: complete the run (see :meth:`close`)."""
        self.close()

    def close(self, timeout: float | None = None) -> bool:
        """Complete the run and drain the queue within ``timeout`` (default ``close_timeout``) seconds.

        Returns ``True`` when everything reached the platform; otherwise the rest is in the spool.
        Safe to call more than once.
        """
        if self._state != "running" or self._sender is None:
            self._state = "closed" if self._state != "off" else "off"
            return True
        self._context()  # the trainer's last word (e.g. the SB3 callback's algorithm), while still running
        self._state = "closed"
        with _live_lock:
            _live.discard(self)
        elapsed = time.monotonic() - self._started
        stats = {
            "client_episodes": self._episodes,
            "client_steps": self._steps_done,
            "duration_s": round(elapsed, 3),
            "steps_per_second": round(self._steps_done / elapsed, 3) if elapsed > 0 else None,
        }
        self._sender.submit(Complete(final_stats=stats))
        delivered = self._sender.close(self.close_timeout if timeout is None else timeout)
        self._env = None
        if self._owned_client is not None and not self._sender.alive:
            self._owned_client.close()
            self._owned_client = None
        return delivered

    def flush(self, timeout: float = DEFAULT_CLOSE_TIMEOUT) -> bool:
        """Wait up to ``timeout`` seconds until everything reported so far reached the platform.

        Never needed for tracking to work (delivery is automatic); useful before reading the run back.
        Returns whether everything was delivered.
        """
        if self._sender is None:
            return self._state != "running"
        return self._sender.flush(timeout)

    def update_run(self, *, config: Mapping[str, Any] | None = None, total_timesteps: int | None = None) -> None:
        """Add ``config`` keys (e.g. the algorithm) and ``total_timesteps`` to the registration (queued)."""
        if self._state != "running" or self._sender is None or self.run_id is None:
            return
        body: dict[str, Any] = {
            "run_id": self.run_id,
            "strategy_label": self.strategy_label,
            "config": json_safe(dict(config or {})),
        }
        if total_timesteps is not None:
            body["total_timesteps"] = int(total_timesteps)
        self._sender.submit(Register(body))

    # -- internals -------------------------------------------------------------------------------

    def _resolve_client(self, env: TradingEnv) -> tuple[AgentExchangeClient | None, str | None]:
        client = self._client or env.client
        api_key = self._api_key or getattr(env, "api_key", None) or os.environ.get("TRADEREADY_API_KEY")
        if client is None:
            if not api_key:
                return None, None
            client = AgentExchangeClient(api_key=api_key, base_url=self._base_url or getattr(env, "base_url", None))
            self._owned_client = client  # closed with the tracker
        if not client.has_api_key:
            return None, None
        # The spool is tagged with a hash of the key that wrote it (never the key itself).
        key = api_key if self._client is None and env.client is None else None
        return client, key or client.api_key

    def _start(self, env: TradingEnv) -> None:
        client, api_key = self._resolve_client(env)
        if client is None:
            if self._owned_client is not None:
                self._owned_client.close()
                self._owned_client = None
            self._state = "off"
            self._log(
                "no-key",
                "tracking: off, no API key (pass api_key=, set TRADEREADY_API_KEY, or track_training=False)",
                level=logging.INFO,
            )
            return
        spec = getattr(env, "spec", None)
        env_id = getattr(spec, "id", None) or type(env).__name__
        label = self.strategy_label or getattr(env, "strategy_label", None) or env_id
        self.strategy_label = label
        params = env_params(env)
        reward = env.reward_function.config()
        identity = {"label": label, "env_id": env_id, "env": params, "reward": reward}
        self._session = session_token()
        spool_dir: Path | None = self.spool_dir
        try:
            group = RunGroup.join(self.spool_dir / ".groups", group_key(self._session, identity), new_run_id)
        except OSError as exc:
            self._log("group-dir", "tracking: cannot use %s (%s); no spool, one run per env", spool_dir, exc)
            group, spool_dir = RunGroup.private(new_run_id()), None
        self._group = group
        self.run_id = group.run_id
        market = env.market
        self._open_time = market.open_time
        step_ms = int(market.open_time[1] - market.open_time[0]) if len(market) > 1 else 0
        self._replay_base = {
            "symbols": list(market.symbols),
            "timeframe": env.timeframe,
            **env.config.as_dict(),
            "strategy_label": label,
            "dataset_fingerprint": {symbol: market.candles(symbol).fingerprint for symbol in market.symbols},
            "dataset_start_time": int(market.open_time[0]),
            "dataset_end_time": int(market.open_time[-1]) + step_ms,
        }
        self._replay_base = {k: v for k, v in self._replay_base.items() if k in _REPLAY_FIELDS}
        self._env = env
        self._started = time.monotonic()
        self._started_wall = time.time()
        self._episode_started = _utcnow()
        self._state = "running"
        register = None
        if group.created:
            config = {
                "env_id": env_id,
                "env": params,
                "reward": reward,
                "features": env.pipeline.config(),
                "wrappers": wrapper_stack(),
                "engine": env.config.as_dict(),
                "dataset": {
                    "symbols": list(market.symbols),
                    "timeframe": market.timeframe,
                    "bars": len(market),
                    "first_open_time": iso_ms(int(market.open_time[0])),
                    "last_open_time": iso_ms(int(market.open_time[-1])),
                    "fingerprint": market.fingerprint,
                    "synthetic": bool(market.is_synthetic),
                },
                "versions": None,  # filled in by the sender thread (slow to look up)
                "tracker": {"session": self._session, "group_member": group.member},
            }
            body = {"run_id": group.run_id, "strategy_label": label, "env_id": env_id, "config": json_safe(config)}
            register = Register(body)
        self._sender = Sender(
            client,
            run_id=group.run_id,
            group=group,
            spool_dir=spool_dir,
            api_key=api_key,
            progress=self._progress,
            context=self._context,
            heartbeat_interval=self._heartbeat_interval,
            request_timeout=self._request_timeout,
            log=self._log,
            first=register,
        )
        with _live_lock:
            _live.add(self)

    def _progress(self) -> Progress:
        env = self._env
        if env is None:
            return Progress(self._steps_done, 0, None)
        running = not env.needs_reset
        episode_steps = env.episode_step if running else 0
        sim = env.simulator
        length = int(sim.end - sim.start) if sim is not None else None
        return Progress(self._steps_done + episode_steps, episode_steps, length or None)

    def _context(self) -> dict[str, Any]:
        """The SB3 callback's context for this session; queues a registration update when it changes."""
        path = _context_path(self.spool_dir, self._session)
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return {}
        if mtime != self._context_cache[0]:
            self._context_cache = (mtime, read_context(self.spool_dir, self._session))
        context = self._context_cache[1]
        if context.get("finished") and float(context.get("updated_at", 0.0)) < self._started_wall:
            return {}  # left by a training that ended before this run started
        seen = (context.get("algorithm"), context.get("total_timesteps"), context.get("registration_version"))
        if context and seen != self._context_seen and self._group is not None and self._group.created:
            self._context_seen = seen
            extra = {k: context[k] for k in ("algorithm", "hyperparameters") if context.get(k) is not None}
            self.update_run(config=extra, total_timesteps=context.get("total_timesteps"))
        return context


_REPLAY_FIELDS = frozenset(
    {
        "symbols",
        "timeframe",
        "starting_balance",
        "fee_rate",
        "slippage_bps",
        "allow_short",
        "max_leverage",
        "borrow_rate_annual",
        "maintenance_margin",
        "min_trade_value",
        "strategy_label",
        "dataset_fingerprint",
        "dataset_start_time",
        "dataset_end_time",
    }
)


def _close_all() -> None:
    """At interpreter exit: close every tracker the user did not close."""
    with _live_lock:
        trackers = list(_live)
    for tracker in trackers:
        try:
            tracker.close()
        except Exception as exc:  # pragma: no cover - exit must not fail
            logger.warning("tracking: closing %s at exit failed: %r", tracker.run_id, exc)


atexit.register(_close_all)
