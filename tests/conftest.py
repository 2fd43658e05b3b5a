"""Shared fixtures: platform settings on each database backend, a live server, accounts.

``--db`` chooses the backends the platform tests run on: ``both`` (default), ``sqlite`` or
``postgresql``. PostgreSQL that cannot be reached is an error, never a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.platform import AccountKey, LiveServer, PostgresDatabases, create_account
from tradeready.server.settings import Settings

BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    """Keep the suite out of the user's data and cache folders (spools, caches, default homes)."""
    import os
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="tradeready-tests-"))
    os.environ["XDG_DATA_HOME"] = str(root / "data")
    os.environ["XDG_CACHE_HOME"] = str(root / "cache")
    os.environ.pop("TRADEREADY_HOME", None)
    os.environ.pop("TRADEREADY_API_KEY", None)
    os.environ.pop("TRADEREADY_BASE_URL", None)
    os.environ.pop("TRADEREADY_DATABASE_URL", None)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to start without the shared data, or on a compiled engine older than its source."""
    from tests.support.engine_source import ENGINE_SOURCE, engine_is_compiled
    from tests.support.shared_data import missing
    from tradeready_core import engine

    if problems := missing():
        raise pytest.UsageError("the test suite reads files it cannot find: " + "; ".join(problems))

    if engine_is_compiled() and Path(str(engine.__file__)).stat().st_mtime < ENGINE_SOURCE.stat().st_mtime:
        raise pytest.UsageError(
            f"{engine.__file__} was compiled before {ENGINE_SOURCE} last changed; "
            "run `make install` (or `pip install -e packages/core`) to rebuild the engine"
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        action="store",
        default="both",
        choices=("both", *BACKENDS),
        help="database backends for platform tests (default: both)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--db")
        backends = list(BACKENDS) if choice == "both" else [choice]
        metafunc.parametrize("db_backend", backends)


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    dbs = PostgresDatabases()
    try:
        yield dbs
    finally:
        dbs.drop_all()


@pytest.fixture
def platform_settings(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings of a fresh, migrated platform on ``db_backend``, with its home under ``tmp_path``."""
    home = tmp_path / "tradeready-home"
    if db_backend == "postgresql":
        dbs: PostgresDatabases = request.getfixturevalue("postgres_databases")
        return Settings(home=home, database_url=dbs.new_database())
    return Settings(home=home)


@pytest.fixture
def live_server(platform_settings: Settings) -> Iterator[LiveServer]:
    """The real platform on a loopback port."""
    server = LiveServer(platform_settings).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def account(live_server: LiveServer) -> AccountKey:
    """An account with one API key on the live server's database."""
    return create_account(live_server.settings, "alice")


@pytest.fixture
def other_account(live_server: LiveServer) -> AccountKey:
    """A second account, for ownership tests."""
    return create_account(live_server.settings, "mallory")
