"""Remote stepping throughput: one client, one step per request (keep-alive HTTP, or the step stream), on loopback.

Starts the real platform (``tradeready serve``: uvicorn) in a subprocess (SQLite under a temporary home by default,
or PostgreSQL with ``--database-url``), stores synthetic candles, then drives backtest sessions
with the standard library's ``http.client``, a raw ``httpx.Client``, the SDK's ``AgentExchangeClient``
and the SDK's step stream (a WebSocket, what ``execution="remote"`` uses) and prints steps/s::

    .venv/bin/python bench/remote_step.py                 # SQLite, 3,000 steps per client
    .venv/bin/python bench/remote_step.py --long          # plus a 100k-step session's rebuild
    .venv/bin/python bench/remote_step.py --steps 10000 --database-url postgresql://postgres@127.0.0.1:5432/bench

The target is >= 1,000 steps/s per client (the prior system managed ~50).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client as http_client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import insert

from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.db.migrate import upgrade
from tradeready.server.schemas.backtests import BacktestCreate, BacktestStep
from tradeready.server.services.backtests import BacktestRuntime, BacktestService
from tradeready.server.settings import Settings
from tradeready.server.store.accounts import AccountStore
from tradeready.server.store.backtests import BacktestStore
from tradeready.server.store.market import MarketStore
from tradeready.server.store.models.backtests import BacktestAction
from tradeready_core.data import synthetic_candles

SYMBOL = "BTCUSDT"
BARS = 105_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _prepare(settings: Settings) -> tuple[str, str]:
    """Migrate, store candles, create an account; returns its id and API key."""
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as db:
            MarketStore(db).insert_candles(synthetic_candles(SYMBOL, "1m", "2024-01-01", BARS, seed=7))
            account, key = AccountStore(db).create_account(f"bench-{os.getpid()}-{time.time_ns()}")
            db.commit()
            return account.id, key.plaintext
    finally:
        engine.dispose()


@contextlib.contextmanager
def _server(home: Path, database_url: str | None, port: int) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    env = dict(os.environ, TRADEREADY_HOME=str(home))
    if database_url:
        env["TRADEREADY_DATABASE_URL"] = database_url
    command = [sys.executable, "-m", "tradeready.cli", "serve", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the platform did not start")
            time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def _session_body(steps: int) -> dict[str, object]:
    return {
        "symbols": [SYMBOL],
        "timeframe": "1m",
        "start_time": "2024-01-01",
        "end_time": 1_704_067_200_000 + (steps + 10) * 60_000,
        "strategy_label": "bench",
    }


def _timed(steps: int, step: Callable[[int], object]) -> float:
    for k in range(min(50, steps)):  # warm-up: connection, caches
        step(k)
    started = time.perf_counter()
    for k in range(steps):
        step(k)
    return steps / (time.perf_counter() - started)


def bench_httpx(url: str, api_key: str, steps: int) -> float:
    with httpx.Client(base_url=url + "/api/v1", headers={"X-API-Key": api_key}) as http:
        session_id = http.post("/backtests", json=_session_body(steps + 50)).json()["session_id"]
        path = f"/backtests/{session_id}/step"

        def step(k: int) -> object:
            response = http.post(path, json={"steps": 1, "targets": [0.5 if k % 2 else 0.2]})
            response.raise_for_status()
            return response

        return _timed(steps, step)


def bench_lean(url: str, api_key: str, steps: int) -> float:
    """The same steps through the standard library's keep-alive ``http.client``: little client CPU per request.

    On this 2-core machine httpx spends about as much CPU per request as the server's whole step,
    so this row shows what the server sustains for one client; the httpx and SDK rows what a
    Python client built on httpx gets.
    """
    with httpx.Client(base_url=url + "/api/v1", headers={"X-API-Key": api_key}) as http:
        session_id = http.post("/backtests", json=_session_body(steps + 50)).json()["session_id"]
    parsed = httpx.URL(url)
    conn = http_client.HTTPConnection(parsed.host, parsed.port, timeout=60)
    headers = {"X-API-Key": api_key, "Content-Type": "application/json"}
    path = f"/api/v1/backtests/{session_id}/step"

    def step(k: int) -> object:
        conn.request("POST", path, body=json.dumps({"steps": 1, "targets": [0.5 if k % 2 else 0.2]}), headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"step {k}: {response.status} {body[:200]!r}")
        return body

    try:
        return _timed(steps, step)
    finally:
        conn.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (from ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_floor(url: str, api_key: str, requests: int) -> tuple[float, float]:
    """Requests/s of the stack itself: public ``GET /health`` and authenticated ``GET /account``."""
    with httpx.Client(base_url=url + "/api/v1", headers={"X-API-Key": api_key}) as http:
        health = _timed(requests, lambda k: http.get("/health").raise_for_status())
        account = _timed(requests, lambda k: http.get("/account").raise_for_status())
    return health, account


def bench_sdk(url: str, api_key: str, steps: int) -> float:
    from agentexchange import AgentExchangeClient

    with AgentExchangeClient(api_key=api_key, base_url=url) as client:
        session_id = client.create_backtest(
            symbols=[SYMBOL], timeframe="1m", start_time="2024-01-01",
            end_time=1_704_067_200_000 + (steps + 60) * 60_000, strategy_label="bench",
        )["session_id"]  # fmt: skip

        def step(k: int) -> object:
            return client.step_backtest(session_id, steps=1, targets=[0.5 if k % 2 else 0.2])

        return _timed(steps, step)


def bench_stream(url: str, api_key: str, steps: int) -> float:
    """The same steps through the SDK's step stream (``client.stream_backtest``, a WebSocket): what the
    gym's ``execution="remote"`` uses."""
    from agentexchange import AgentExchangeClient

    with AgentExchangeClient(api_key=api_key, base_url=url) as client:
        session_id = client.create_backtest(
            symbols=[SYMBOL], timeframe="1m", start_time="2024-01-01",
            end_time=1_704_067_200_000 + (steps + 60) * 60_000, strategy_label="bench",
        )["session_id"]  # fmt: skip
        with client.stream_backtest(session_id) as stream:

            def step(k: int) -> object:
                return stream.step(1, [0.5 if k % 2 else 0.2])

            return _timed(steps, step)


def bench_long_session(settings: Settings, account_id: str, steps: int = 100_000) -> tuple[float, float]:
    """A session whose log holds ``steps`` one-step requests: cold rebuild seconds, then ms per further step.

    The log rows are written in bulk in exactly the format the step route writes (one row per
    request), standing in for ``steps`` earlier requests.
    """
    engine = make_engine(settings.resolved_database_url)
    runtime = BacktestRuntime()
    try:
        factory = make_session_factory(engine)
        with factory() as db:
            body = BacktestCreate(
                symbols=[SYMBOL], timeframe="1m", start_time="2024-01-01",
                end_time=1_704_067_200_000 + (steps + 1_000) * 60_000,
            )  # fmt: skip
            session_id = BacktestService(db, runtime).create(account_id, body).id
        weights = np.round(0.5 + 0.5 * np.sin(np.arange(steps) / 40.0), 2)
        rows = [
            {"session_id": session_id, "seq": k, "kind": "step", "steps": 1, "targets": w.tobytes(), "payload": None}
            for k, w in enumerate(weights.reshape(-1, 1).astype("<f8"))
        ]
        with factory() as db:
            db.execute(insert(BacktestAction), rows)
            BacktestStore(db).update_session(session_id, 0, {"version": steps, "status": "running", "step": steps})
            db.commit()
        runtime = BacktestRuntime()  # a fresh worker: nothing cached
        started = time.perf_counter()
        with factory() as db:
            portfolio = BacktestService(db, runtime).portfolio(account_id, session_id)
        rebuild_s = time.perf_counter() - started
        assert portfolio["step"] == steps
        n = 300
        started = time.perf_counter()
        for k in range(n):
            with factory() as db:
                BacktestService(db, runtime).step(
                    account_id, session_id, BacktestStep(steps=1, targets=[0.1 * (k % 9)])
                )
                db.commit()
        return rebuild_s, (time.perf_counter() - started) / n * 1000
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3_000, help="timed steps per client (default 3000)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite in a temp home)")
    parser.add_argument("--long", action="store_true", help="also time a 100k-step session's rebuild and steps")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tradeready-bench-") as tmp:
        home = Path(tmp)
        settings = Settings(home=home, database_url=args.database_url)
        account_id, api_key = _prepare(settings)
        backend = "postgresql" if args.database_url else "sqlite"
        with _server(home, args.database_url, _free_port()) as (url, server):
            print(f"remote step, one client, one step per request, keep-alive ({backend}, {os.cpu_count()} cores, "
                  f"load {os.getloadavg()[0]:.2f})")  # fmt: skip
            health, account = bench_floor(url, api_key, args.steps)
            print(f"  floor: GET /health    {health:8.0f} req/s   (no auth, no work)")
            print(f"  floor: GET /account   {account:8.0f} req/s   (authentication only)")
            cpu0 = cpu_seconds(server.pid)
            rate = bench_lean(url, api_key, args.steps)
            server_ms = 1000 * (cpu_seconds(server.pid) - cpu0) / (args.steps + 51)
            print(f"  http.client (lean)    {rate:8.0f} steps/s   (server CPU {server_ms:.3f} ms per step)")
            rate = bench_httpx(url, api_key, args.steps)
            print(f"  httpx.Client          {rate:8.0f} steps/s")
            try:
                rate = bench_sdk(url, api_key, args.steps)
            except ImportError as exc:
                print(f"  AgentExchangeClient   unavailable ({exc})")
            else:
                print(f"  AgentExchangeClient   {rate:8.0f} steps/s")
            cpu0 = cpu_seconds(server.pid)
            rate = bench_stream(url, api_key, args.steps)
            server_ms = 1000 * (cpu_seconds(server.pid) - cpu0) / (args.steps + 52)
            print(f"  SDK step stream (ws)  {rate:8.0f} steps/s   (server CPU {server_ms:.3f} ms per step)")
        if args.long:
            rebuild_s, step_ms = bench_long_session(settings, account_id)
            print(f"100k-step session (in-process): cold rebuild {rebuild_s:.2f} s, then {step_ms:.2f} ms per step")


if __name__ == "__main__":
    main()
