"""Per-request overhead and memory of ``tradeready serve``: p50 latency of the hot routes, server RSS.

Starts the real platform in a subprocess (SQLite under a temporary home, or PostgreSQL with
``--database-url``), then times keep-alive requests one at a time with ``httpx.Client`` and with the
standard library's ``http.client`` (the client floor differs by ~0.3 ms), and reads the server's
``VmRSS``/``VmHWM`` idle and after the load::

    .venv/bin/python bench/server_overhead.py
    .venv/bin/python bench/server_overhead.py --n 3000 --database-url postgresql://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from remote_step import _free_port, _prepare, _server, _session_body  # type: ignore[import-not-found]
from tradeready.server.settings import Settings


def _status(pid: int) -> dict[str, float]:
    """``VmRSS``/``VmHWM`` of ``pid`` in MiB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) / 1024
    return out


def _server_pid(port: int) -> int:
    """The pid listening on ``port`` (the uvicorn process), from ``/proc/net/tcp`` inodes."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if int(parts[1].split(":")[1], 16) == port and parts[3] == "0A":
                inodes.add(parts[9])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(pid)
        except OSError:
            continue
    raise RuntimeError(f"no process listens on port {port}")


def _p50(n: int, call: Callable[[int], object]) -> float:
    for k in range(min(100, n)):
        call(k)
    times = []
    for k in range(n):
        started = time.perf_counter()
        call(k)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="timed requests per route and client")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tradeready-bench-") as tmp:
        home = Path(tmp)
        _, api_key = _prepare(Settings(home=home, database_url=args.database_url))
        port = _free_port()
        with _server(home, args.database_url, port) as (url, _process):
            pid = _server_pid(port)
            time.sleep(0.5)
            idle = _status(pid)
            headers = {"X-API-Key": api_key, "Content-Type": "application/json"}
            with httpx.Client(base_url=url + "/api/v1", headers=headers) as hx:
                run_id = hx.post("/training/runs", json={"strategy_label": "bench"}).json()["run_id"]
                bt = hx.post("/backtests", json=_session_body(4 * args.n + 500)).json()["session_id"]
            conn = http.client.HTTPConnection("127.0.0.1", port)
            episode = iter(range(1, 10**9))

            def raw(
                method: str, path: str, body: Callable[[], bytes] | None = None, ok: int = 200
            ) -> Callable[[int], object]:
                def call(_: int) -> object:
                    conn.request(method, "/api/v1" + path, body=body() if body else None, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                    if response.status != ok:
                        raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
                    return data

                return call

            def episode_body() -> bytes:
                k = next(episode)
                return json.dumps(
                    {
                        "episode": k,
                        "roi_pct": 0.1 * (k % 7),
                        "sharpe_ratio": 0.5,
                        "max_drawdown_pct": 3.0,
                        "total_trades": 12,
                        "reward_sum": 1.5,
                    }
                ).encode()

            routes: dict[str, tuple[str, str, Callable[[], bytes] | None, int]] = {
                "GET /health": ("GET", "/health", None, 200),
                "GET /account": ("GET", "/account", None, 200),
                "GET 404": ("GET", "/nope", None, 404),
                "POST episode": ("POST", f"/training/runs/{run_id}/episodes", episode_body, 200),
                "POST heartbeat": (
                    "POST",
                    f"/training/runs/{run_id}/heartbeat",
                    lambda: b'{"step": 10, "episode": 1, "episode_steps": 5, "steps_per_second": 100.0}',
                    200,
                ),
                "POST step": ("POST", f"/backtests/{bt}/step", lambda: b'{"steps": 1, "targets": [0.3]}', 200),
            }
            print(
                f"server overhead, p50 ms per keep-alive request ({'postgresql' if args.database_url else 'sqlite'}, "
                f"load {os.getloadavg()[0]:.2f}); idle RSS {idle['VmRSS']:.0f} MiB"
            )
            print(f"  {'route':16} {'http.client':>12} {'httpx':>8}")
            with httpx.Client(base_url=url + "/api/v1", headers=headers) as hx:
                for name, (method, path, body, ok) in routes.items():
                    std = _p50(args.n, raw(method, path, body, ok))

                    def via_httpx(
                        _: int,
                        method: str = method,
                        path: str = path,
                        body: Callable[[], bytes] | None = body,
                        ok: int = ok,
                    ) -> object:
                        response = hx.request(method, path, content=body() if body else None)
                        if response.status_code != ok:
                            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:200]}")
                        return response

                    print(f"  {name:16} {std:12.3f} {_p50(args.n, via_httpx):8.3f}")
            loaded = _status(pid)
            print(f"  RSS after load {loaded['VmRSS']:.0f} MiB, peak (VmHWM) {loaded['VmHWM']:.0f} MiB")


if __name__ == "__main__":
    main()
