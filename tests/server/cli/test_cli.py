"""The `tradeready` CLI on SQLite and PostgreSQL (typer's runner; the real store underneath)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.binance_archive import ArchiveServer, day_bounds_ms, month_bounds_ms, select, write_archive
from tests.support.platform import LiveServer
from tests.support.shared_data import MARKET
from typer.testing import CliRunner

from tradeready.cli.main import app
from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.settings import Settings
from tradeready.server.store.accounts import AccountStore
from tradeready.server.store.market import MarketStore, clear_cache
from tradeready_core.data import Candles, load_candles

KEY = re.compile(r"ak_live_[A-Za-z0-9_\-]{20,}")


@pytest.fixture
def cli(platform_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("TRADEREADY_HOME", str(platform_settings.home))
    monkeypatch.setenv("COLUMNS", "250")
    if platform_settings.database_url:
        monkeypatch.setenv("TRADEREADY_DATABASE_URL", platform_settings.database_url)
    else:
        monkeypatch.delenv("TRADEREADY_DATABASE_URL", raising=False)
    clear_cache()
    yield CliRunner()


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.output


def _fails(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.output


def _authenticates(settings: Settings, key: str) -> bool:
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            return AccountStore(session).authenticate(key) is not None
    finally:
        engine.dispose()


def _datasets(settings: Settings) -> dict[tuple[str, str], tuple[str, int]]:
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            return {(d.symbol, d.timeframe): (d.source, d.count) for d in MarketStore(session).list_datasets()}
    finally:
        engine.dispose()


def test_init_prints_the_first_key_once_and_is_idempotent(cli: CliRunner, platform_settings: Settings) -> None:
    out = _ok(cli, "init")
    keys = KEY.findall(out)
    assert keys and len(set(keys)) == 1
    assert "X-API-Key" in out and "export TRADEREADY_API_KEY=" in out
    assert _authenticates(platform_settings, keys[0])
    again = _ok(cli, "init")
    assert "Already initialised" in again and not KEY.search(again)


def test_accounts_and_keys(cli: CliRunner, platform_settings: Settings) -> None:
    _ok(cli, "init", "--name", "alice")
    bob_key = KEY.findall(_ok(cli, "accounts", "create", "bob"))[0]
    assert "already exists" in _fails(cli, "accounts", "create", "bob")
    listed = _ok(cli, "accounts", "list")
    assert "alice" in listed and "bob" in listed
    assert "--account" in _fails(cli, "keys", "create")  # two accounts: which one?
    new_key = KEY.findall(_ok(cli, "keys", "create", "--account", "bob", "--name", "ci"))[0]
    keys = _ok(cli, "keys", "list", "--account", "bob")
    assert "ci" in keys and new_key[:16] in keys and new_key not in keys and bob_key not in keys
    assert _authenticates(platform_settings, new_key)
    revoked_key_id = next(line for line in keys.splitlines() if " ci " in line).split()[1]
    _ok(cli, "keys", "revoke", revoked_key_id)
    assert not _authenticates(platform_settings, new_key)
    assert _authenticates(platform_settings, bob_key)
    assert "no API key 'key_nope'" in _fails(cli, "keys", "revoke", "key_nope")


def test_data_import_is_idempotent_and_reports_conflicts(
    cli: CliRunner, platform_settings: Settings, tmp_path: Path
) -> None:
    source = MARKET / "BTCUSDT-1h.csv"
    out = _ok(cli, "data", "import", str(source))
    assert "44080 new" in out and "5 gap(s)" in out
    assert "0 new, 44080 already stored" in _ok(cli, "data", "import", str(source))
    lines = source.read_text().splitlines()
    fields = lines[1].split(",")
    fields[4] = str(float(fields[4]) * 1.5)  # a different close for the first candle
    fields[2] = str(max(float(fields[2]), float(fields[4])))
    edited = tmp_path / "BTCUSDT-1h.csv"
    edited.write_text("\n".join([lines[0], ",".join(fields), *lines[2:100]]) + "\n")
    report = _ok(cli, "data", "import", str(edited))
    assert "1 conflicting, 0 overwritten" in report and "--overwrite" in report and "2021-04-04T20:00:00Z" in report
    assert "1 conflicting, 1 overwritten" in _ok(cli, "data", "import", str(edited), "--overwrite")
    assert _datasets(platform_settings) == {("BTCUSDT", "1h"): ("file", 44080)}
    listed = _ok(cli, "data", "list")
    assert "BTCUSDT" in listed and "44080" in listed and "2021-04-04T20:00:00Z" in listed


def test_data_import_errors_are_one_line(cli: CliRunner, tmp_path: Path) -> None:
    assert "no such file" in _fails(cli, "data", "import", str(tmp_path / "missing.csv"))
    bad = tmp_path / "BTCUSDT-1h.csv"
    bad.write_text("open_time,open,high,low,close,volume\n2024-01-01T00:00:00Z,10,5,9,9,1\n")
    out = _fails(cli, "data", "import", str(bad))
    assert out.startswith("Error:") and "row 2" in out


def test_data_demo_is_labelled_synthetic_and_never_overrides_real_data(
    cli: CliRunner, platform_settings: Settings
) -> None:
    _ok(cli, "data", "import", str(MARKET / "SOLUSDT-1h.csv"))
    out = _ok(cli, "data", "demo", "--days", "20")
    assert "SYNTHETIC" in out and "SOLUSDT 1h: real market data is stored; demo data skipped" in out
    assert "0 new" in _ok(cli, "data", "demo", "--days", "20")  # deterministic: a re-run changes nothing
    assert _datasets(platform_settings) == {
        ("BTCUSDT", "1h"): ("synthetic", 480),
        ("ETHUSDT", "1h"): ("synthetic", 480),
        ("SOLUSDT", "1h"): ("file", 49750),
    }
    assert "SYNTHETIC" in _ok(cli, "data", "list")


def test_data_fetch_from_a_local_archive_host(cli: CliRunner, platform_settings: Settings, tmp_path: Path) -> None:
    btc: Candles = load_candles(MARKET / "BTCUSDT-1h.csv")
    root = tmp_path / "host"
    for month in (11, 12):
        write_archive(root, "monthly", select(btc, *month_bounds_ms(2024, month)), f"2024-{month:02d}", 3_600_000)
    args = ["data", "fetch", "--symbol", "BTCUSDT", "--timeframe", "1h", "--start", "2024-11-01", "--end", "2025-01-01"]
    with ArchiveServer(root) as server:
        first = _ok(cli, *args, "--base-url", server.url)
        second = _ok(cli, *args, "--base-url", server.url)
    assert "2 archive(s) downloaded" in first and "1464 new" in first
    assert "0 archive(s) downloaded, 2 already verified" in second and "0 new" in second
    assert _datasets(platform_settings) == {("BTCUSDT", "1h"): ("binance", 1464)}


def test_db_commands_and_bad_settings(cli: CliRunner) -> None:
    _ok(cli, "db", "upgrade")
    from alembic.script import ScriptDirectory

    from tradeready.server.db.migrate import alembic_config

    head = _ok(cli, "db", "current").strip()
    assert head == ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert "0001_accounts" in _ok(cli, "db", "downgrade", "0001_accounts")
    assert head in _ok(cli, "db", "upgrade")
    assert "invalid settings" in _fails(cli, "serve", "--port", "0")
    assert "timeframe must be one of" in _fails(cli, "data", "demo", "--timeframe", "2h")


def test_sessions_list_and_show(cli: CliRunner, platform_settings: Settings) -> None:
    key = KEY.findall(_ok(cli, "init", "--name", "alice"))[0]
    _ok(cli, "data", "demo", "--days", "10", "--symbols", "BTCUSDT")
    with (
        LiveServer(platform_settings) as server,
        httpx.Client(base_url=server.url + "/api/v1", headers={"X-API-Key": key}) as http,
    ):
        created = http.post(
            "/backtests",
            json={
                "symbols": ["BTCUSDT"],
                "timeframe": "1h",
                "start_time": 1_704_067_200_000,
                "end_time": 1_704_412_800_000,
                "strategy_label": "cli-test",
            },
        )
        assert created.status_code == 201, created.text
        session_id = created.json()["session_id"]
        assert http.post(f"/backtests/{session_id}/step", json={"steps": 5}).status_code == 200
    listed = _ok(cli, "sessions", "list")
    assert session_id in listed and "cli-test" in listed and "1 of 1 session(s)" in listed
    shown = _ok(cli, "sessions", "show", session_id)
    assert "cli-test" in shown and "BTCUSDT" in shown and "alice" in shown and "5/" in shown
    assert "no backtest session 'bt_nope'" in _fails(cli, "sessions", "show", "bt_nope")


def test_import_a_binance_zip_with_microsecond_times_and_delete_it(
    cli: CliRunner, platform_settings: Settings, tmp_path: Path
) -> None:
    btc: Candles = load_candles(MARKET / "BTCUSDT-1m.csv")
    day = select(btc, *day_bounds_ms(2025, 1, 2))
    archive = write_archive(tmp_path, "daily", day, "2025-01-02", 60_000)  # 2025: µs timestamps
    assert "1440 new" in _ok(cli, "data", "import", str(archive))
    assert _datasets(platform_settings) == {("BTCUSDT", "1m"): ("binance", 1440)}
    assert "Deleted 1440 BTCUSDT 1m candles" in _ok(cli, "data", "delete", "BTCUSDT", "--timeframe", "1m")
    assert _datasets(platform_settings) == {}
    assert "no BTCUSDT 1m dataset stored" in _fails(cli, "data", "delete", "BTCUSDT", "--timeframe", "1m")
