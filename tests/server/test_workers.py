"""`tradeready serve --workers 2` as a real subprocess over PostgreSQL: keep-alive, accounts, shared rate limit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from tests.support.platform import PostgresDatabases, create_account, free_port

from tradeready.cli.serve import bind_socket
from tradeready.server.settings import Settings

LIMIT = 30


def test_listening_socket_gives_accepted_connections_tcp_nodelay() -> None:
    listener = bind_socket("127.0.0.1", 0)
    listener.listen(1)
    try:
        assert listener.proto == socket.IPPROTO_TCP
        client = socket.create_connection(listener.getsockname()[:2])
        accepted, _ = listener.accept()
        with client, accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        listener.close()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.fixture
def two_workers(postgres_databases: PostgresDatabases, tmp_path: Path) -> Iterator[tuple[str, Settings, int]]:
    url = postgres_databases.new_database()
    port = free_port()
    env = {
        **os.environ,
        "TRADEREADY_HOME": str(tmp_path / "home"),
        "TRADEREADY_DATABASE_URL": url,
        "TRADEREADY_RATE_LIMIT_PER_MINUTE": str(LIMIT),
    }
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tradeready.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {(tmp_path / 'serve.log').read_text()}")
            try:
                if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200 and len(_children(proc.pid)) >= 2:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {(tmp_path / 'serve.log').read_text()}")
            time.sleep(0.2)
        yield base, Settings(home=tmp_path / "home", database_url=url), proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def test_two_workers_serve_keep_alive_requests_and_share_the_rate_limit(
    two_workers: tuple[str, Settings, int],
) -> None:
    base, settings, pid = two_workers
    assert len(_children(pid)) >= 2
    alice, bob = create_account(settings, "alice"), create_account(settings, "bob")
    remaining = 60.0 - time.time() % 60.0
    if remaining < 25.0:  # keep the whole burst inside one rate-limit window
        time.sleep(remaining + 0.05)

    with httpx.Client(base_url=base + "/api/v1", headers={"X-API-Key": alice.api_key}) as keep_alive:
        first = [keep_alive.get("/account") for _ in range(10)]
    assert [r.status_code for r in first] == [200] * 10
    assert {r.json()["account_id"] for r in first} == {alice.account_id}

    def burst(key: str) -> list[tuple[int, str | None]]:
        with httpx.Client(base_url=base + "/api/v1", headers={"X-API-Key": key}, timeout=30) as http:
            out = []
            for _ in range(25):
                r = http.get("/account")
                out.append((r.status_code, r.json().get("account_id") if r.status_code == 200 else None))
            return out

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(burst, [alice.api_key, alice.api_key, bob.api_key, bob.api_key]))
    alice_results, bob_results = results[0] + results[1], results[2] + results[3]
    # alice already used 10 of her 30; bob has all 30
    assert sum(code == 200 for code, _ in alice_results) == LIMIT - 10
    assert sum(code == 200 for code, _ in bob_results) == LIMIT
    assert {acc for code, acc in alice_results if code == 200} == {alice.account_id}
    assert {acc for code, acc in bob_results if code == 200} == {bob.account_id}
    assert {code for code, _ in alice_results + bob_results} == {200, 429}
