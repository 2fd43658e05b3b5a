"""Test support: real platform servers on loopback, on SQLite and PostgreSQL.

Nothing here mocks our own server: ``LiveServer`` runs the real application under uvicorn on a free
loopback port, in a background thread, and can be stopped and started again on the same port (fault
tests). PostgreSQL is the machine's server at 127.0.0.1:5432; each test gets its own database cloned
from a migrated template, so tests never see each other's rows.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import uvicorn

from tradeready.server.app import create_app
from tradeready.server.db.migrate import upgrade
from tradeready.server.settings import Settings
from tradeready.server.store.accounts import AccountStore

__all__ = [
    "PG_ADMIN_DSN",
    "AccountKey",
    "LiveServer",
    "PostgresDatabases",
    "create_account",
    "free_port",
]

PG_ADMIN_DSN = os.environ.get("TRADEREADY_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class AccountKey:
    account_id: str
    name: str
    api_key: str


def create_account(settings: Settings, name: str | None = None) -> AccountKey:
    """Create an account (and its first key) directly in the store of ``settings``' database."""
    from tradeready.server.db.engine import make_engine, make_session_factory

    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            account, key = AccountStore(session).create_account(name or f"acct-{secrets.token_hex(4)}")
            session.commit()
            return AccountKey(account.id, account.name, key.plaintext)
    finally:
        engine.dispose()


class PostgresDatabases:
    """Creates a migrated template database once, then one fresh clone per test.

    Raises (never skips) when PostgreSQL cannot be reached: a suite told to test PostgreSQL must fail.
    """

    def __init__(self, admin_dsn: str = PG_ADMIN_DSN) -> None:
        self.admin_dsn = admin_dsn
        self.prefix = f"trtest_{os.getpid()}_{secrets.token_hex(3)}"
        self.template = f"{self.prefix}_tmpl"
        self.created: list[str] = []
        try:
            self._execute(f'CREATE DATABASE "{self.template}"')
        except psycopg.OperationalError as exc:
            raise RuntimeError(
                f"PostgreSQL is required by the test suite but unreachable at {admin_dsn!r}: {exc}. "
                "Start it (pg_ctlcluster --skip-systemctl-redirect 15 main start) or run with --db=sqlite."
            ) from exc
        self.created.append(self.template)
        upgrade(self.url(self.template))

    def _execute(self, sql: str) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def url(self, name: str) -> str:
        base = self.admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        return f"{base}/{name}"

    def new_database(self) -> str:
        name = f"{self.prefix}_{len(self.created)}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return self.url(name)

    def drop_all(self) -> None:
        for name in reversed(self.created):
            with contextlib.suppress(psycopg.Error):
                self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


class LiveServer:
    """The real platform under uvicorn on 127.0.0.1, in a background thread.

    Example::

        server = LiveServer(settings).start()
        httpx.get(server.url + "/api/v1/health")
        server.stop(); server.start()      # same port, same database
    """

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        self.settings = settings
        self.port = port or free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> LiveServer:
        app = create_app(self.settings)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=f"tradeready-live-{self.port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"live server on port {self.port} exited during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError(f"live server on port {self.port} did not start within {timeout}s")
            time.sleep(0.01)
        self._server, self._thread = server, thread
        return self

    def stop(self, timeout: float = 15.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        engine = getattr(self._server.config.app, "state", None)
        if engine is not None and hasattr(engine, "engine"):
            engine.engine.dispose()
        self._server, self._thread = None, None

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> LiveServer:
        return self if self.running else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def sqlite_settings(home: Path) -> Settings:
    return Settings(home=home, database_url=None)


@contextlib.contextmanager
def running(settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(settings).start()
    try:
        yield server
    finally:
        server.stop()
