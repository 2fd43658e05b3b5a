"""Training-tracking benchmark: our platform (SQLite and PostgreSQL) against an MLflow tracking server.

Same episodes (5 metrics each: roi_pct, sharpe_ratio, max_drawdown_pct, total_trades, reward_sum), same
machine, loopback, one table at the end with ratios. Scenarios:

1. one writer, one request per episode (MLflow: ``log_batch`` of the 5 metrics per episode); ours
   with a lean keep-alive ``http.client`` client (the headline figure, with the server's CPU time
   per request read from ``/proc``) and again through httpx, our SDK's transport, which on this
   machine costs the client about as much CPU per request as the whole ingest costs the server;
2. one writer, batched (ours: 1,000 episodes per request; MLflow: ``log_batch`` at its limit of
   1,000 metrics, i.e. 200 episodes, per call);
3. four concurrent writers (separate processes, lean client), one request per episode each, one run each;
4. reading a 100,000-episode learning curve (ours: ``max_points=1000`` for a chart, and every point;
   MLflow: ``get_metric_history`` of the whole series);
5. peak server memory (ours: the one server process's VmHWM; MLflow: the largest sampled RSS summed
   over its process tree).

MLflow is installed on first run into ``bench/.venv-mlflow`` with pip and driven through
``MlflowClient`` from that venv in subprocesses; its server runs twice, ``--workers 1`` and default.
MLflow scenarios are capped in time (``--mlflow-cap``) and report the rate reached, as the anchors did.

Usage::

    .venv/bin/python bench/tracking.py                     # everything (about 10 minutes)
    .venv/bin/python bench/tracking.py --no-mlflow         # ours only
    .venv/bin/python bench/tracking.py --backends sqlite --single 1000 --curve-episodes 20000
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent
MLFLOW_VENV = ROOT / ".venv-mlflow"
RESULTS = ROOT / "results"
PG_ADMIN_DSN = os.environ.get("TRADEREADY_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
TRAINING = "/api/v1/training"

SERVE = """
import sys
from tradeready.cli.serve import run_server
from tradeready.server.settings import Settings
# the path of `tradeready serve`: migrate, TCP_NODELAY socket, uvicorn (uvloop + httptools), one worker
run_server(Settings(home=sys.argv[1], database_url=sys.argv[2] or None, port=int(sys.argv[3]), log_level="warning"))
"""

MLFLOW_CLIENT = r"""
import json, random, sys, time
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

args = json.loads(sys.argv[1])
client = MlflowClient(tracking_uri=args["uri"])
mode = args["mode"]
if mode == "setup":
    print(json.dumps({"experiment_id": client.create_experiment(f"bench-{time.time_ns()}")}))
    sys.exit()
rng = random.Random(args["seed"])
run_id = args.get("run_id") or client.create_run(args["experiment_id"]).info.run_id
names = ("roi_pct", "sharpe_ratio", "max_drawdown_pct", "total_trades", "reward_sum")

def metrics(episode, only=None):
    ts = int(time.time() * 1000)
    values = (rng.gauss(0.5, 2), rng.gauss(0.3, 1), rng.uniform(0, 20), rng.randint(0, 50), rng.gauss(0, 1))
    return [Metric(k, float(v), ts, episode) for k, v in zip(names, values) if only is None or k == only]

cap, n = args["cap"], args["n"]
start = time.perf_counter()
latencies, done = [], 0
if mode == "single":
    for episode in range(1, n + 1):
        t0 = time.perf_counter()
        client.log_batch(run_id, metrics=metrics(episode))
        latencies.append(time.perf_counter() - t0)
        done = episode
        if time.perf_counter() - start > cap:
            break
elif mode in ("batched", "curve"):
    per_call = 200 if mode == "batched" else 1000   # MLflow accepts at most 1,000 metrics per log_batch
    only = None if mode == "batched" else "roi_pct"
    while done < n and time.perf_counter() - start < cap:
        chunk = range(done + 1, min(n, done + per_call) + 1)
        batch = [m for e in chunk for m in metrics(e, only)]
        t0 = time.perf_counter()
        client.log_batch(run_id, metrics=batch)
        latencies.append(time.perf_counter() - t0)
        done = chunk[-1]
elapsed = time.perf_counter() - start
result = {"run_id": run_id, "episodes": done, "seconds": elapsed, "latencies": latencies}
if mode == "curve":
    reads = []
    for _ in range(3):
        t0 = time.perf_counter()
        history = client.get_metric_history(run_id, "roi_pct")
        reads.append(time.perf_counter() - t0)
    result.update(curve_points=len(history), curve_ms=1000 * sorted(reads)[1])
print(json.dumps(result))
"""


# --- small helpers --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def tree_pids(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def status_kib(pid: int, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class MemorySampler:
    """Samples the summed RSS of a process tree every 0.2 s; keeps the peak (and the process count)."""

    def __init__(self, root: int) -> None:
        self.root, self.peak_kib, self.processes = root, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            pids = tree_pids(self.root)
            total = sum(status_kib(pid, "VmRSS") for pid in pids)
            if total > self.peak_kib:
                self.peak_kib, self.processes = total, len(pids)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kib / 1024


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def episode_rows(start: int, count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "episode": n,
            "roi_pct": rng.gauss(0.5, 2),
            "sharpe_ratio": rng.gauss(0.3, 1),
            "max_drawdown_pct": rng.uniform(0, 20),
            "total_trades": rng.randint(0, 50),
            "reward_sum": rng.gauss(0, 1),
            "steps": 500,
        }
        for n in range(start, start + count)
    ]


@dataclass
class Result:
    """One system's figures."""

    name: str
    single_eps: float = float("nan")
    single_p50_ms: float = float("nan")
    single_p99_ms: float = float("nan")
    single_server_cpu_ms: float = float("nan")
    single_httpx_eps: float = float("nan")
    single_httpx_p50_ms: float = float("nan")
    batched_eps: float = float("nan")
    writers_eps: float = float("nan")
    writers_p99_ms: float = float("nan")
    curve_chart_ms: float = float("nan")
    curve_chart_first_ms: float = float("nan")
    curve_full_ms: float = float("nan")
    curve_points: int = 0
    memory_mib: float = float("nan")
    processes: int = 0
    notes: list[str] = field(default_factory=list)


# --- our platform ---------------------------------------------------------------------------


class LeanClient:
    """A keep-alive JSON client on the standard library's ``http.client``: little client CPU per request.

    On this 2-core machine httpx spends about 0.4-0.9 ms of CPU per request, as much as the server's
    whole ingest; the lean client shows what the server sustains. Both are reported.
    """

    def __init__(self, base: str, key: str) -> None:
        url = httpx.URL(base)
        self.prefix = url.path.rstrip("/")
        self.conn = http.client.HTTPConnection(url.host, url.port, timeout=120)
        self.headers = {"X-API-Key": key, "Content-Type": "application/json"}

    def post(self, path: str, payload: Any) -> Any:
        self.conn.request("POST", self.prefix + path, body=json.dumps(payload), headers=self.headers)
        response = self.conn.getresponse()
        body = response.read()
        if response.status >= 300:
            raise RuntimeError(f"POST {path}: {response.status} {body[:200]!r}")
        return json.loads(body)

    def close(self) -> None:
        self.conn.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (from ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _our_writer(base: str, key: str, n: int, seed: int, barrier_at: float) -> tuple[int, float, list[float]]:
    """One of the concurrent writers: its own run, one POST per episode (lean client)."""
    client = LeanClient(base, key)
    try:
        run_id = client.post("/runs", {"strategy_label": f"writer-{seed}"})["run_id"]
        rows = episode_rows(1, n, seed)
        while time.time() < barrier_at:
            time.sleep(0.001)
        latencies = []
        start = time.perf_counter()
        for row in rows:
            t0 = time.perf_counter()
            client.post(f"/runs/{run_id}/episodes", row)
            latencies.append(time.perf_counter() - t0)
        return n, time.perf_counter() - start, latencies
    finally:
        client.close()


def _single(post: Any, run_id: str, rows: list[dict[str, Any]], server_pid: int) -> tuple[float, list[float], float]:
    """One POST per episode: (episodes/s, latencies, server CPU ms per request); 50 warm-up rows not counted."""
    for row in rows[:50]:
        post(f"/runs/{run_id}/episodes", row)
    latencies = []
    cpu0, start = cpu_seconds(server_pid), time.perf_counter()
    for row in rows[50:]:
        t0 = time.perf_counter()
        post(f"/runs/{run_id}/episodes", row)
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, latencies, 1000 * (cpu_seconds(server_pid) - cpu0) / len(latencies)


@contextlib.contextmanager
def our_server(backend: str, work: Path) -> Iterator[tuple[str, str, subprocess.Popen[bytes], str]]:
    """Start our server in its own process on ``backend``; yield (base url, api key, process, db url)."""
    import psycopg

    from tradeready.server.db.engine import make_engine, make_session_factory
    from tradeready.server.store.accounts import AccountStore

    home = work / f"home-{backend}"
    database_url, pg_name = "", ""
    if backend == "postgresql":
        pg_name = f"trbench_{os.getpid()}_{secrets.token_hex(3)}"
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        database_url = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + pg_name
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVE, str(home), database_url, str(port)])
    try:
        wait_http(f"http://127.0.0.1:{port}/api/v1/health", 60, proc)
        url = database_url or f"sqlite:///{home / 'tradeready.db'}"
        engine = make_engine(url)
        with make_session_factory(engine)() as session:
            _, created = AccountStore(session).create_account("bench")
            session.commit()
        engine.dispose()
        yield f"http://127.0.0.1:{port}{TRAINING}", created.plaintext, proc, url
    finally:
        proc.terminate()
        proc.wait(30)
        if pg_name:
            with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def bench_ours(backend: str, args: argparse.Namespace, work: Path) -> Result:
    result = Result(f"ours ({backend})", processes=1)
    with our_server(backend, work) as (base, key, proc, _url):
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=120) as http:
            # 1. one request per episode: the lean client, then httpx (our SDK's transport), each its own run
            lean = LeanClient(base, key)
            try:
                run_id = lean.post("/runs", {"strategy_label": "single"})["run_id"]
                rate, latencies, cpu_ms = _single(lean.post, run_id, episode_rows(1, args.single, 1), proc.pid)
            finally:
                lean.close()
            result.single_eps, result.single_server_cpu_ms = rate, cpu_ms
            result.single_p50_ms, result.single_p99_ms = 1000 * pct(latencies, 0.5), 1000 * pct(latencies, 0.99)
            assert http.get(f"/runs/{run_id}").json()["total_episodes"] == args.single

            def httpx_post(path: str, payload: Any) -> Any:
                response = http.post(path, json=payload)
                response.raise_for_status()
                return response.json()

            run_id = http.post("/runs", json={"strategy_label": "single-httpx"}).json()["run_id"]
            rate, latencies, _ = _single(httpx_post, run_id, episode_rows(1, args.single, 2), proc.pid)
            result.single_httpx_eps, result.single_httpx_p50_ms = rate, 1000 * pct(latencies, 0.5)
            assert http.get(f"/runs/{run_id}").json()["total_episodes"] == args.single

            # 2. batched (this run is also the 100k-episode curve)
            curve_run = http.post("/runs", json={"strategy_label": "batched"}).json()["run_id"]
            n, size = args.curve_episodes, args.batch
            batches = [
                json.dumps({"episodes": episode_rows(s, min(size, n - s + 1), s)}).encode()
                for s in range(1, n + 1, size)
            ]
            start = time.perf_counter()
            for body in batches:
                response = http.post(
                    f"/runs/{curve_run}/episodes", content=body, headers={"content-type": "application/json"}
                )
                response.raise_for_status()
            result.batched_eps = n / (time.perf_counter() - start)
            assert http.get("/runs", params={"strategy_label": "batched"}).json()["runs"][0]["total_episodes"] == n

            # 4. the learning curve of that run
            chart, full = [], []
            for _ in range(7):
                t0 = time.perf_counter()
                curve = http.get(f"/runs/{curve_run}/learning-curve", params={"max_points": 1000}).json()
                chart.append(time.perf_counter() - t0)
                assert curve["n_total"] == n and curve["n_returned"] == min(n, 1000)
            for _ in range(3):
                t0 = time.perf_counter()
                curve = http.get(f"/runs/{curve_run}/learning-curve").json()
                full.append(time.perf_counter() - t0)
            result.curve_points = len(curve["curve"])
            result.curve_chart_first_ms = 1000 * chart[0]
            result.curve_chart_ms, result.curve_full_ms = (
                1000 * statistics.median(chart),
                1000 * statistics.median(full),
            )

        # 3. four concurrent writers, one process each
        ctx = multiprocessing.get_context("spawn")
        barrier = time.time() + 3.0
        with ctx.Pool(args.writers) as pool:
            jobs = [
                pool.apply_async(_our_writer, (base, key, args.per_writer, 100 + i, barrier))
                for i in range(args.writers)
            ]
            outcomes = [job.get(timeout=900) for job in jobs]
        total = sum(o[0] for o in outcomes)
        result.writers_eps = total / max(o[1] for o in outcomes)
        result.writers_p99_ms = 1000 * pct([lat for o in outcomes for lat in o[2]], 0.99)
        result.memory_mib = status_kib(proc.pid, "VmHWM") / 1024
    return result


# --- MLflow ---------------------------------------------------------------------------------


def ensure_mlflow_venv() -> Path:
    """Create ``bench/.venv-mlflow`` with MLflow on first use; return its python."""
    python = MLFLOW_VENV / "bin" / "python"
    if not (MLFLOW_VENV / "bin" / "mlflow").exists():
        print(f"installing MLflow into {MLFLOW_VENV} (first run only) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(MLFLOW_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "mlflow"], check=True)
    return python


def mlflow_call(python: Path, **args: Any) -> dict[str, Any]:
    out = subprocess.run([str(python), "-c", MLFLOW_CLIENT, json.dumps(args)], check=True, capture_output=True)
    parsed: dict[str, Any] = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return parsed


def bench_mlflow(workers: int | None, args: argparse.Namespace, work: Path) -> Result:
    python = ensure_mlflow_venv()
    label = f"MLflow ({'default' if workers is None else f'{workers} worker'})"
    result = Result(label)
    store = work / f"mlflow-{workers or 'default'}"
    store.mkdir()
    port = free_port()
    command = [
        str(MLFLOW_VENV / "bin" / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{store / 'mlflow.db'}",
        "--default-artifact-root",
        str(store / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if workers is not None:
        command += ["--workers", str(workers)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    sampler = MemorySampler(proc.pid)
    uri = f"http://127.0.0.1:{port}"
    cap = args.mlflow_cap
    try:
        wait_http(f"{uri}/health", 180, proc)
        exp = mlflow_call(python, uri=uri, mode="setup", seed=0)["experiment_id"]
        single = mlflow_call(python, uri=uri, mode="single", experiment_id=exp, n=args.single, cap=cap, seed=1)
        result.single_eps = single["episodes"] / single["seconds"]
        result.single_p50_ms = 1000 * pct(single["latencies"], 0.5)
        result.single_p99_ms = 1000 * pct(single["latencies"], 0.99)
        if single["episodes"] < args.single:
            result.notes.append(f"one-per-request capped at {cap:.0f}s: {single['episodes']} episodes")
        batched = mlflow_call(
            python, uri=uri, mode="batched", experiment_id=exp, n=args.curve_episodes, cap=cap, seed=2
        )
        result.batched_eps = batched["episodes"] / batched["seconds"]
        if batched["episodes"] < args.curve_episodes:
            result.notes.append(f"batched capped at {cap:.0f}s: {batched['episodes']} episodes")
        procs = [
            subprocess.Popen(
                [
                    str(python),
                    "-c",
                    MLFLOW_CLIENT,
                    json.dumps(
                        {
                            "uri": uri,
                            "mode": "single",
                            "experiment_id": exp,
                            "n": args.per_writer,
                            "cap": cap,
                            "seed": 10 + i,
                        }
                    ),
                ],
                stdout=subprocess.PIPE,
            )
            for i in range(args.writers)
        ]
        outcomes = [json.loads(p.communicate()[0].decode().strip().splitlines()[-1]) for p in procs]
        result.writers_eps = sum(o["episodes"] for o in outcomes) / max(o["seconds"] for o in outcomes)
        result.writers_p99_ms = 1000 * pct([lat for o in outcomes for lat in o["latencies"]], 0.99)
        curve = mlflow_call(
            python, uri=uri, mode="curve", experiment_id=exp, n=args.curve_episodes, cap=3 * cap, seed=3
        )
        result.curve_full_ms, result.curve_points = curve["curve_ms"], curve["curve_points"]
        if curve["episodes"] < args.curve_episodes:
            result.notes.append(f"curve run capped at {3 * cap:.0f}s: {curve['episodes']} points logged and read")
    finally:
        result.memory_mib = sampler.stop()
        result.processes = sampler.processes
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        proc.wait(30)
    return result


# --- report ---------------------------------------------------------------------------------

ROWS = [
    ("episodes/s, one request per episode", "single_eps", "{:,.0f}", True, ">= 1,000"),
    ("  p50 latency ms", "single_p50_ms", "{:.2f}", False, ""),
    ("  p99 latency ms", "single_p99_ms", "{:.2f}", False, ""),
    ("  server CPU ms per request", "single_server_cpu_ms", "{:.3f}", False, ""),
    ("  same through httpx, episodes/s", "single_httpx_eps", "{:,.0f}", True, ""),
    ("  same through httpx, p50 ms", "single_httpx_p50_ms", "{:.2f}", False, ""),
    ("episodes/s, batched", "batched_eps", "{:,.0f}", True, ">= 50,000"),
    ("episodes/s, 4 writers total", "writers_eps", "{:,.0f}", True, ">= 2,000"),
    ("  4 writers p99 ms", "writers_p99_ms", "{:.1f}", False, ""),
    ("curve, 1,000-point chart of 100k, ms", "curve_chart_ms", "{:.1f}", False, "< 100"),
    ("  first (cold) read ms", "curve_chart_first_ms", "{:.1f}", False, ""),
    ("curve, every point, ms", "curve_full_ms", "{:.1f}", False, ""),
    ("  points read (full)", "curve_points", "{:,}", True, ""),
    ("peak server memory MiB", "memory_mib", "{:,.0f}", False, "< 250"),
    ("server processes", "processes", "{}", False, "1"),
]


def render(results: list[Result]) -> str:
    ours = [r for r in results if r.name.startswith("ours")]
    theirs = [r for r in results if not r.name.startswith("ours")]
    headers = ["metric", "target"] + [r.name for r in results]
    ratio_pairs = [(o, t) for o in ours for t in theirs]
    headers += [f"{o.name.split('(')[1][:-1]} / {t.name}" for o, t in ratio_pairs]
    lines = [headers]
    for label, attr, fmt, higher, target in ROWS:
        row = [label, target]
        for r in results:
            value = getattr(r, attr)
            row.append("-" if isinstance(value, float) and value != value else fmt.format(value))
        for o, t in ratio_pairs:
            a, b = float(getattr(o, attr)), float(getattr(t, attr))
            if a != a or b != b or a == 0 or b == 0 or attr in ("curve_points", "processes"):
                row.append("")
            else:
                row.append(f"{a / b:,.1f}x" if higher else f"{b / a:,.1f}x better")
        lines.append(row)
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(headers))]
    out = [
        "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
        for line in lines
    ]
    out.insert(1, "-" * len(out[0]))
    for r in results:
        out.extend(f"note, {r.name}: {note}" for note in r.notes)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql", help="ours: sqlite,postgresql")
    parser.add_argument("--single", type=int, default=3000, help="episodes sent one per request")
    parser.add_argument("--batch", type=int, default=1000, help="episodes per batched request (ours)")
    parser.add_argument("--curve-episodes", type=int, default=100_000, help="episodes in the batched/curve run")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--per-writer", type=int, default=2500)
    parser.add_argument("--mlflow", default="1,default", help="MLflow server configurations, or 'none'")
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--mlflow-cap", type=float, default=40.0, help="seconds per MLflow scenario")
    args = parser.parse_args(argv)

    results: list[Result] = []
    work = Path(tempfile.mkdtemp(prefix="trbench-"))
    try:
        for backend in [b for b in args.backends.split(",") if b]:
            print(f"running ours on {backend} ...", flush=True)
            results.append(bench_ours(backend, args, work))
        if not args.no_mlflow and args.mlflow != "none":
            for config in args.mlflow.split(","):
                print(f"running MLflow ({config}) ...", flush=True)
                results.append(bench_mlflow(None if config == "default" else int(config), args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = render(results)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"tracking-{stamp}.json").write_text(json.dumps([r.__dict__ for r in results], indent=2))
    (RESULTS / f"tracking-{stamp}.txt").write_text(table + "\n")


if __name__ == "__main__":
    main()
