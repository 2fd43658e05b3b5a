"""Environment step throughput and peak memory: TradeReady's envs against gym-anytrading and Gym-Trading-Env.

Run from the repository root with the project venv::

    .venv/bin/python bench/env_step.py                 # 3 interleaved rounds, table + ratios
    .venv/bin/python bench/env_step.py --rounds 1 --steps 50000
    .venv/bin/python bench/env_step.py --only Portfolio,anytrading,gte --instructions

Every configuration runs in its own fresh process (so its peak RSS is its own), on the same real
candles (``BTCUSDT-1h.csv`` and, for the portfolio env, ETH and SOL from the same folder). The
peers are installed on first run into their own venv, ``bench/.venv-peers`` (pip, pinned
versions), and run in a subprocess of that venv; our envs run in the project venv.

Per configuration: actions are pre-drawn (sampling is not timed), 2,000 warm-up steps, then
``--steps`` timed ``env.step`` calls with resets inside the timed loop when an episode ends.
Ours use the seed's feature set (``ohlcv, rsi_14, macd, bollinger, balance, position``) and
``lookback_window=50``, each raw (``.unwrapped``) and through ``gymnasium.make`` (default
wrappers). Peers: gym-anytrading ``StocksEnv`` (window 50) and Gym-Trading-Env ``TradingEnv``
(positions -1/0/1, its docs' features, ``windows=None`` and ``windows=50``).

Figures: the median over rounds and the best round (as ``timeit`` reports its minimum: on a shared
machine the least disturbed run is the closest to the code's own speed). ``cal`` is a same-process
calibration taken just before and after each timed loop (millions of ``x += i * 0.5`` loop
iterations per second, the mean of the two): it shows how fast the machine was during that run, and
the "calibrated" ratio divides every run's rate by it, taking the machine's own speed out.
``--instructions`` adds a figure no other load can disturb: CPU instructions per step, counted by
valgrind's callgrind as the difference between a run of ``--steps`` timed steps (at most 22,000)
and one of 2,000 (the same set-up in both), divided by the difference in steps; it needs
``valgrind`` and takes about a minute per configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PEERS_VENV = ROOT / "bench" / ".venv-peers"
PEER_PACKAGES = ["gym-anytrading==2.0.0", "gym-trading-env==0.3.5"]
DEFAULT_DATA = Path(os.environ.get("TRADEREADY_MARKET_DATA", "/work/shared/data/market"))
FEATURES = ["ohlcv", "rsi_14", "macd", "bollinger", "balance", "position"]
LOOKBACK = 50
WARMUP_STEPS = 2_000

OURS = [
    *(f"TradeReady-{a}-v0" for a in ("BTC", "ETH", "SOL")),
    *(f"TradeReady-{a}-Continuous-v0" for a in ("BTC", "ETH", "SOL")),
    "TradeReady-Portfolio-v0",
]
PEERS = ["anytrading", "anytrading-make", "gte", "gte-w50"]


# ------------------------------------------------------------------------------------- workers
def _calibrate() -> float:
    start = time.perf_counter()
    x = 0.0
    for i in range(2_000_000):
        x += i * 0.5
    return 2.0 / (time.perf_counter() - start)


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _time_steps(env: Any, actions: list[Any], steps: int) -> tuple[float, float, float]:
    """Return (steps per second, milliseconds per reset, calibration around the timed loop)."""
    t0 = time.perf_counter()
    for _ in range(5):
        env.reset(seed=0)
    reset_ms = (time.perf_counter() - t0) / 5 * 1e3
    env.reset(seed=0)
    n = len(actions)
    for i in range(WARMUP_STEPS):
        _, _, terminated, truncated, _ = env.step(actions[i % n])
        if terminated or truncated:
            env.reset()
    step = env.step
    reset = env.reset
    cal_before = _calibrate()
    t0 = time.perf_counter()
    for i in range(steps):
        _, _, terminated, truncated, _ = step(actions[i % n])
        if terminated or truncated:
            reset()
    elapsed = time.perf_counter() - t0
    return steps / elapsed, reset_ms, (cal_before + _calibrate()) / 2


def _worker_ours(name: str, mode: str, steps: int, data_dir: Path) -> dict[str, Any]:
    import gymnasium as gym
    import numpy as np
    import pandas as pd

    import tradeready_gym  # noqa: F401  (registers the ids)

    if "Portfolio" in name:
        data: Any = {s: pd.read_csv(data_dir / f"{s}USDT-1h.csv") for s in ("BTC", "ETH", "SOL")}
    else:
        data = pd.read_csv(data_dir / f"{name.split('-')[1]}USDT-1h.csv")
    t0 = time.perf_counter()
    env = gym.make(name, data=data, lookback_window=LOOKBACK, observation_features=FEATURES, track_training=False)
    build_s = time.perf_counter() - t0
    if mode == "raw":
        env = env.unwrapped
    env.action_space.seed(1)
    sampled = [env.action_space.sample() for _ in range(4096)]
    actions = [int(a) for a in sampled] if isinstance(sampled[0], np.integer | int) else sampled
    rate, reset_ms, cal = _time_steps(env, actions, steps)
    obs_size = int(np.prod(env.observation_space.shape or (0,)))
    return {"steps_per_s": rate, "reset_ms": reset_ms, "build_s": build_s, "obs": obs_size, "cal": cal}


def _gte_frame(data_dir: Path) -> Any:
    import pandas as pd

    df = pd.read_csv(data_dir / "BTCUSDT-1h.csv", parse_dates=["open_time"], index_col="open_time")
    df["feature_close"] = df["close"].pct_change().fillna(0.0)
    df["feature_open"] = df["open"] / df["close"]
    df["feature_high"] = df["high"] / df["close"]
    df["feature_low"] = df["low"] / df["close"]
    df["feature_volume"] = df["volume"] / df["volume"].rolling(7 * 24, min_periods=1).max()
    return df


def _worker_peer(name: str, steps: int, data_dir: Path) -> dict[str, Any]:
    import warnings

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    if name.startswith("anytrading"):
        import gymnasium as gym
        from gym_anytrading.envs import StocksEnv

        df = pd.read_csv(data_dir / "BTCUSDT-1h.csv", parse_dates=["open_time"], index_col="open_time")
        df = df.rename(columns=str.capitalize)
        bound = (LOOKBACK, len(df))
        if name == "anytrading-make":
            env: Any = gym.make("stocks-v0", df=df, window_size=LOOKBACK, frame_bound=bound)
        else:
            env = StocksEnv(df=df, window_size=LOOKBACK, frame_bound=bound)
        actions: list[Any] = rng.integers(0, 2, size=4096).tolist()
    else:
        from gym_trading_env.environments import TradingEnv

        warnings.resetwarnings()  # its import sets a process-wide "error" filter
        env = TradingEnv(
            df=_gte_frame(data_dir),
            positions=[-1, 0, 1],
            trading_fees=0.01 / 100,
            borrow_interest_rate=0.0003 / 100,
            windows=LOOKBACK if name == "gte-w50" else None,
            verbose=0,
        )
        actions = rng.integers(0, 3, size=4096).tolist()
    build_s = time.perf_counter() - t0
    rate, reset_ms, cal = _time_steps(env, actions, steps)
    obs_size = int(np.prod(env.observation_space.shape))
    return {"steps_per_s": rate, "reset_ms": reset_ms, "build_s": build_s, "obs": obs_size, "cal": cal}


def worker_main(args: argparse.Namespace) -> None:
    if args.worker in PEERS:
        result = _worker_peer(args.worker, args.steps, Path(args.data))
    else:
        name, mode = args.worker.rsplit(":", 1)
        result = _worker_ours(name, mode, args.steps, Path(args.data))
    result.update(peak_rss_mib=_peak_rss_mib())
    print(json.dumps(result))


# ------------------------------------------------------------------------------------- driver
def ensure_peers_venv() -> Path:
    python = PEERS_VENV / "bin" / "python"
    marker = PEERS_VENV / ".installed"
    if marker.exists() and marker.read_text() == " ".join(PEER_PACKAGES):
        return python
    if not python.exists():
        print(f"creating {PEERS_VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    print(f"installing {', '.join(PEER_PACKAGES)} into {PEERS_VENV} (first run only) ...", flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PEER_PACKAGES], check=True)
    marker.write_text(" ".join(PEER_PACKAGES))
    return python


def run_worker(python: Path, worker: str, steps: int, data: Path) -> dict[str, Any]:
    cmd = [str(python), str(Path(__file__).resolve()), "--worker", worker, "--steps", str(steps), "--data", str(data)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{worker} failed:\n{done.stderr[-3000:]}")
    parsed: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return parsed


def count_instructions(python: Path, worker: str, steps: int, data: Path) -> float:
    """CPU instructions per ``env.step`` (callgrind): a run of ``steps`` minus one of 2,000 steps, per step.

    The two runs go side by side (one core each); a fixed hash seed makes their set-up identical.
    """
    short = 2_000
    if steps <= short:
        raise SystemExit(f"--steps must be more than {short} with --instructions; got {steps}")
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    valgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    script = [str(python), str(Path(__file__).resolve()), "--worker", worker, "--data", str(data)]
    runs = [
        subprocess.Popen(
            [*valgrind, *script, "--steps", str(n)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for n in (steps, short)
    ]
    totals: list[int] = []
    for run in runs:
        _, stderr = run.communicate()
        found = re.search(r"Collected : (\d+)", stderr)
        if run.returncode != 0 or found is None:
            raise RuntimeError(f"{worker} under callgrind failed:\n{stderr[-3000:]}")
        totals.append(int(found.group(1)))
    return (totals[0] - totals[1]) / (steps - short)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median and best reported)")
    parser.add_argument("--steps", type=int, default=100_000, help="timed steps per configuration")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="folder holding BTCUSDT-1h.csv etc.")
    parser.add_argument("--only", help="comma-separated substrings: run only the configurations naming one")
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions per step with callgrind (slow)"
    )
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return

    peers_python = ensure_peers_venv()
    ours = Path(sys.executable)
    configs: list[tuple[str, Path]] = [(f"{name}:{mode}", ours) for name in OURS for mode in ("raw", "make")]
    configs += [(peer, peers_python) for peer in PEERS]
    if args.only:
        wanted = [w for w in args.only.split(",") if w]
        # the ratios need their references: gym-anytrading (raw and make) and Gym-Trading-Env
        configs = [(n, p) for n, p in configs if n in PEERS[:3] or any(w in n for w in wanted)]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in configs}
    for r in range(args.rounds):
        for name, python in configs:
            print(f"round {r + 1}/{args.rounds}: {name}", flush=True)
            results[name].append(run_worker(python, name, args.steps, Path(args.data)))
    instructions: dict[str, float] = {}
    if args.instructions:
        for name, python in configs:
            print(f"callgrind: {name}", flush=True)
            instructions[name] = count_instructions(python, name, min(args.steps, 22_000), Path(args.data))
    if args.json:
        Path(args.json).write_text(json.dumps({"rounds": results, "instructions": instructions}, indent=2))
    print_tables(configs, results, instructions, args.rounds, args.steps)


def print_tables(
    configs: list[tuple[str, Path]],
    results: dict[str, list[dict[str, Any]]],
    instructions: dict[str, float],
    rounds: int,
    steps: int,
) -> None:
    def med(name: str, key: str) -> float:
        return float(statistics.median(float(x[key]) for x in results[name]))

    def best(name: str) -> float:
        return max(float(x["steps_per_s"]) for x in results[name])

    def adjusted(name: str) -> float:
        # steps per calibration unit: each run's rate over its machine speed measured around its timed loop
        return float(statistics.median(float(x["steps_per_s"]) / float(x["cal"]) for x in results[name]))

    # like for like: raw envs against raw gym-anytrading, gym.make'd ones against gym.make'd gym-anytrading
    def any_ref(name: str) -> str:
        return "anytrading-make" if name.endswith("make") else "anytrading"

    def ratios(name: str, ref: str) -> str:
        values = (
            med(name, "steps_per_s") / med(ref, "steps_per_s"),
            best(name) / best(ref),
            adjusted(name) / adjusted(ref),
        )
        return "/".join(f"{v:.2f}" for v in values)

    header = (
        f"{'environment':<36} {'obs':>5} {'median/s':>10} {'µs':>6} {'best/s':>10} {'µs':>6} {'reset ms':>8} "
        f"{'MiB':>6} {'cal':>5}  {'vs anytrading':>15}  {'vs gte':>15}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for name, _ in configs:
        rate, top = med(name, "steps_per_s"), best(name)
        print(
            f"{name:<36} {int(med(name, 'obs')):>5} {rate:>10,.0f} {1e6 / rate:>6.2f} {top:>10,.0f} {1e6 / top:>6.2f} "
            f"{med(name, 'reset_ms'):>8.3f} {med(name, 'peak_rss_mib'):>6.1f} {med(name, 'cal'):>5.1f}  "
            f"{ratios(name, any_ref(name)):>15}  {ratios(name, 'gte'):>15}"
        )
    print(
        f"\n{rounds} round(s) x {steps:,} timed steps per configuration. Ratios (higher is faster): "
        "median / best / calibrated steps per second over gym-anytrading (raw for raw rows, through gym.make for "
        "make rows) and over Gym-Trading-Env (windows=None, raw); calibrated = the median of each run's rate "
        "divided by its cal, which takes out how fast the machine was during that run."
    )
    if instructions:
        header = f"{'environment':<36} {'instructions/step':>18} {'vs anytrading':>14} {'vs gte':>8}"
        print("\n" + header + "\n" + "-" * len(header))
        for name, _ in configs:
            n = instructions[name]
            print(f"{name:<36} {n:>18,.0f} {instructions[any_ref(name)] / n:>13.2f}x {instructions['gte'] / n:>7.1f}x")
        print("\nInstructions per step counted by callgrind (fewer is faster); ratios are the peers' counts over ours.")


if __name__ == "__main__":
    main()
