"""The training tracker's cost on the training thread: per step and per episode, against a live platform.

Starts the real platform (``tradeready serve``, SQLite under a temporary home by default, or
PostgreSQL with ``--database-url``), then steps ``TradeReady-BTC-v0`` (raw, the seed's features,
``lookback_window=50``) on the real BTCUSDT 1h candles with ``track_training=False`` and with
``track_training=True`` reporting to that platform, in interleaved rounds::

    .venv/bin/python bench/tracker_overhead.py
    .venv/bin/python bench/tracker_overhead.py --episode-length 100 --steps 200000
    .venv/bin/python bench/tracker_overhead.py --ppo 20000     # also: SB3 PPO learn() wall time, on vs off

Per round and mode: pre-drawn random actions, ``--steps`` timed ``env.step`` calls with the resets
of ended episodes inside the timed loop. With tracking on, the time spent inside the tracker's
hooks on the training thread (``on_reset``, ``on_episode_end``) is measured directly; what is left
of the difference to the untracked run is the per-step cost of the tracker's background threads
(sender and heartbeat compete for the GIL). After ``env.close()`` every episode must be on the
platform (checked, else the run fails). ``--ppo N`` adds what a user sees: the wall time of
Stable-Baselines3 PPO ``learn(total_timesteps=N)`` (default hyperparameters but ``n_steps=512``)
with tracking off and on.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import tradeready_gym  # noqa: F401  (registers the environment ids)
from agentexchange import AgentExchangeClient
from remote_step import _free_port, _prepare, _server  # type: ignore[import-not-found]
from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.settings import Settings
from tradeready.server.store.market import MarketStore
from tradeready_core.data import load_candles

DATA = Path(os.environ.get("TRADEREADY_MARKET_DATA", "/work/shared/data/market")) / "BTCUSDT-1h.csv"
FEATURES = ["ohlcv", "rsi_14", "macd", "bollinger", "balance", "position"]


class _TimedHooks:
    """Wraps a tracker's hooks, adding up the seconds they take and counting the calls."""

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker
        self.seconds = {"on_reset": 0.0, "on_episode_end": 0.0}
        self.calls = {"on_reset": 0, "on_episode_end": 0}
        self.episodes_ended = 0  # over the whole run, warm-up included

    def on_reset(self, env: Any) -> None:
        started = time.perf_counter()
        self.tracker.on_reset(env)
        self.seconds["on_reset"] += time.perf_counter() - started
        self.calls["on_reset"] += 1

    def on_episode_end(self, env: Any, info: Any, reward_sum: float) -> None:
        started = time.perf_counter()
        self.tracker.on_episode_end(env, info, reward_sum)
        self.seconds["on_episode_end"] += time.perf_counter() - started
        self.calls["on_episode_end"] += 1
        self.episodes_ended += 1

    def on_close(self, env: Any) -> None:
        self.tracker.on_close(env)


def _store_real_candles(settings: Settings) -> None:
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as db:
            MarketStore(db).insert_candles(load_candles(DATA))
            db.commit()
    finally:
        engine.dispose()


def run(mode: str, url: str, api_key: str, steps: int, episode_length: int, seed: int) -> dict[str, Any]:
    """One timed run; returns its figures (and the run id when tracked)."""
    tracked = mode == "tracked"
    env: Any = gym.make(
        "TradeReady-BTC-v0",
        data=DATA,
        lookback_window=50,
        observation_features=FEATURES,
        episode_length=episode_length,
        track_training=tracked,
        strategy_label=f"bench-overhead-{seed}",
        api_key=api_key if tracked else None,
        base_url=url if tracked else None,
    ).unwrapped
    hooks = None
    if tracked:
        hooks = _TimedHooks(env.tracker)  # measure the hooks where the env calls them
        env.attach_tracker(hooks)
    actions = np.random.default_rng(seed).integers(0, 3, size=8192).tolist()
    env.reset(seed=seed)
    step, reset = env.step, env.reset
    for k in range(2_000):  # warm-up
        if step(actions[k & 8191])[2:4] != (False, False):
            reset()
    episodes = 0
    if hooks is not None:
        hooks.seconds = dict.fromkeys(hooks.seconds, 0.0)
        hooks.calls = dict.fromkeys(hooks.calls, 0)
    started = time.perf_counter()
    for k in range(steps):
        _, _, terminated, truncated, _ = step(actions[k & 8191])
        if terminated or truncated:
            episodes += 1
            reset()
    elapsed = time.perf_counter() - started
    result: dict[str, Any] = {"us_per_step": 1e6 * elapsed / steps, "episodes": episodes}
    if hooks is not None:
        result["hook_s"] = sum(hooks.seconds.values())
        result["us_per_episode_hooks"] = 1e6 * result["hook_s"] / max(1, hooks.calls["on_episode_end"])
        run_id = hooks.tracker.run_id
        env.close()  # completes the run: drains the sender
        with AgentExchangeClient(api_key=api_key, base_url=url) as client:
            stored = client.get_training_run(run_id)
        ended = hooks.episodes_ended  # close() may also report the unfinished last episode
        if not ended <= stored["total_episodes"] <= ended + 1 or stored["status"] != "completed":
            raise RuntimeError(f"run {run_id}: {stored['total_episodes']} episodes stored, {ended} ended")
        result["stored"] = stored["total_episodes"]
    else:
        env.close()
    return result


def run_ppo(mode: str, url: str, api_key: str, timesteps: int, episode_length: int) -> float:
    """Seconds of ``PPO.learn(timesteps)`` with tracking off or on (the run is checked complete)."""
    from stable_baselines3 import PPO

    tracked = mode == "tracked"
    env: Any = gym.make(
        "TradeReady-BTC-v0", data=DATA, lookback_window=50, observation_features=FEATURES,
        episode_length=episode_length, track_training=tracked, strategy_label="bench-overhead-ppo",
        api_key=api_key if tracked else None, base_url=url if tracked else None,
    )  # fmt: skip
    model = PPO("MlpPolicy", env, n_steps=512, seed=0, device="cpu", verbose=0)
    started = time.perf_counter()
    model.learn(total_timesteps=timesteps)
    elapsed = time.perf_counter() - started
    run_id = env.unwrapped.tracking_run_id
    env.close()
    if tracked:
        with AgentExchangeClient(api_key=api_key, base_url=url) as client:
            stored = client.get_training_run(run_id)
        if stored["status"] != "completed" or stored["total_episodes"] < timesteps // episode_length:
            raise RuntimeError(f"PPO run {run_id}: {stored['status']}, {stored['total_episodes']} episodes")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="timed steps per run (default 100,000)")
    parser.add_argument("--episode-length", type=int, default=200, help="steps per episode (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median shown)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite in a temp home)")
    parser.add_argument("--ppo", type=int, default=0, help="also time SB3 PPO learn() for this many timesteps")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tradeready-bench-") as tmp:
        home = Path(tmp)
        settings = Settings(home=home, database_url=args.database_url)
        _, api_key = _prepare(settings)
        _store_real_candles(settings)  # so the platform can replay each episode (what the tracker asks of it)
        with _server(home, args.database_url, _free_port()) as (url, _process):
            results: dict[str, list[dict[str, Any]]] = {"untracked": [], "tracked": []}
            for r in range(args.rounds):
                for mode in results:
                    results[mode].append(run(mode, url, api_key, args.steps, args.episode_length, seed=r))
            ppo = {m: run_ppo(m, url, api_key, args.ppo, args.episode_length) for m in results} if args.ppo else {}
    off = statistics.median(x["us_per_step"] for x in results["untracked"])
    on = statistics.median(x["us_per_step"] for x in results["tracked"])
    hooks_per_episode = statistics.median(x["us_per_episode_hooks"] for x in results["tracked"])
    hooks_per_step = statistics.median(1e6 * x["hook_s"] / args.steps for x in results["tracked"])
    background = on - off - hooks_per_step
    episodes = statistics.median(x["episodes"] for x in results["tracked"])
    backend = "postgresql" if args.database_url else "sqlite"
    print(
        f"tracker overhead on the training thread ({backend}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; "
        f"{args.rounds} rounds x {args.steps:,} steps, episodes of {args.episode_length} steps, median)"
    )
    print(f"  env.step untracked            {off:8.2f} us/step")
    print(f"  env.step tracked              {on:8.2f} us/step   ({on / off - 1:+.1%})")
    print(
        f"  tracker hooks, per episode    {hooks_per_episode:8.1f} us      ({episodes:.0f} episodes a run, all stored)"
    )
    print(f"  background threads, per step  {background:8.2f} us      (tracked - untracked - hooks; the sender and")
    per_episode = background * args.episode_length
    print(f"    = per episode               {per_episode:8.1f} us       heartbeat threads hold the GIL)")
    if ppo:
        on_s, off_s = ppo["tracked"], ppo["untracked"]
        print(
            f"  SB3 PPO learn({args.ppo:,})        {off_s:8.2f} s untracked, {on_s:.2f} s tracked "
            f"({on_s / off_s - 1:+.1%}, one run each)"
        )


if __name__ == "__main__":
    main()
