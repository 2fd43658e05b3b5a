"""The ``tradeready`` command line: serve, init, accounts, keys, db, data.

Settings come from options, then ``TRADEREADY_*`` environment variables, then defaults::

    tradeready init                                  # data dir, database, first account + API key
    tradeready serve --port 8000 --workers 2
    tradeready data import BTCUSDT-1h.csv
    tradeready data fetch --symbol BTCUSDT --timeframe 1h --start 2024-01-01
    tradeready data demo                             # labelled SYNTHETIC demo dataset
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tradeready.cli import gym_commands
from tradeready.cli._common import CliError, console, err_console, load_settings, open_session, user_errors
from tradeready.server.store.accounts import AccountStore

__all__ = ["app"]

app = typer.Typer(
    name="tradeready",
    help="TradeReady platform: serve, accounts, keys, market data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
accounts_app = typer.Typer(help="Accounts (each with its own API keys, sessions and runs).", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (shown once at creation; stored hashed).", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
data_app = typer.Typer(help="Market data: import files, fetch Binance archives, list, demo.", no_args_is_help=True)
sessions_app = typer.Typer(help="Backtest sessions (read only).", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
app.add_typer(data_app, name="data")
app.add_typer(sessions_app, name="sessions")
gym_commands.register(app)  # training-side commands (evaluate); they import the gym lazily


@app.callback()
def main(
    home: Annotated[
        Path | None, typer.Option(help="Data directory (env TRADEREADY_HOME; default ~/.local/share/tradeready).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (env TRADEREADY_DATABASE_URL; default SQLite under home).")
    ] = None,
) -> None:
    """TradeReady platform command line."""
    if home is not None:
        os.environ["TRADEREADY_HOME"] = str(home)
    if database_url is not None:
        os.environ["TRADEREADY_DATABASE_URL"] = database_url


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )


# ---- serve / init ------------------------------------------------------------------------------


@app.command()
@user_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default 1).")] = None,
    log_level: Annotated[str | None, typer.Option(help="uvicorn log level (default info).")] = None,
) -> None:
    """Run the platform (REST API under /api/v1, dashboard, docs at /docs)."""
    from tradeready.cli.serve import run_server

    settings = load_settings(host=host, port=port, workers=workers, log_level=log_level)
    where = "SQLite at " + str(settings.home / "tradeready.db") if settings.is_sqlite else "PostgreSQL"
    err_console.print(
        f"TradeReady on [bold]http://{settings.host}:{settings.port}[/bold] "
        f"({settings.workers} worker(s), {where}); API docs at /docs"
    )
    try:
        run_server(settings)
    except OSError as exc:
        raise CliError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None


@app.command()
@user_errors
def init(
    name: Annotated[str, typer.Option(help="Name of the first account.")] = "admin",
) -> None:
    """Create the data directory and database, and the first account with its API key (printed once)."""
    settings = load_settings()
    with open_session(settings) as session:
        store = AccountStore(session)
        existing = store.list_accounts()
        if existing:
            console.print(
                f"Already initialised: {len(existing)} account(s) exist (first: {existing[0].name!r}) in "
                f"{settings.resolved_database_url if not settings.is_sqlite else settings.home}. "
                "Nothing changed. Add accounts with `tradeready accounts create NAME`, "
                "keys with `tradeready keys create --account NAME`."
            )
            return
        account, key = store.create_account(name)
    console.print(f"Initialised TradeReady in {settings.home}")
    console.print(f"Account [bold]{account.name}[/bold] ({account.id})")
    _print_new_key(key.plaintext, settings.host, settings.port)


def _print_new_key(plaintext: str, host: str, port: int) -> None:
    console.print(f"API key (shown only now, store it safely): [bold green]{plaintext}[/bold green]", soft_wrap=True)
    console.print("Use it:", soft_wrap=True)
    console.print(f"  export TRADEREADY_API_KEY={plaintext}", soft_wrap=True)
    console.print("  tradeready serve", soft_wrap=True)
    console.print(f'  curl -H "X-API-Key: $TRADEREADY_API_KEY" http://{host}:{port}/api/v1/account', soft_wrap=True)


# ---- accounts / keys ---------------------------------------------------------------------------


@accounts_app.command("create")
@user_errors
def accounts_create(name: Annotated[str, typer.Argument(help="Unique account name.")]) -> None:
    """Add an account and print its first API key (once)."""
    settings = load_settings()
    name = name.strip()
    if not name or len(name) > 100:
        raise CliError(f"account name must be 1-100 characters; got {name!r}")
    with open_session(settings) as session:
        store = AccountStore(session)
        if store.get_account_by_name(name) is not None:
            raise CliError(f"an account named {name!r} already exists; choose another name")
        account, key = store.create_account(name)
    console.print(f"Account [bold]{account.name}[/bold] ({account.id})")
    _print_new_key(key.plaintext, settings.host, settings.port)


@accounts_app.command("list")
@user_errors
def accounts_list() -> None:
    """List accounts."""
    with open_session() as session:
        store = AccountStore(session)
        table = Table("account_id", "name", "created_at", "active keys")
        for account in store.list_accounts():
            active = sum(1 for k in store.list_keys(account.id) if k.revoked_at is None)
            table.add_row(account.id, account.name, f"{account.created_at:%Y-%m-%d %H:%M:%S}Z", str(active))
    console.print(table)


def _resolve_account(store: AccountStore, account: str | None) -> str:
    accounts = store.list_accounts()
    if not accounts:
        raise CliError("no account yet; run `tradeready init` first")
    if account is None:
        if len(accounts) > 1:
            names = ", ".join(a.name for a in accounts)
            raise CliError(f"several accounts exist ({names}); choose one with --account NAME")
        return accounts[0].id
    for a in accounts:
        if account in (a.id, a.name):
            return a.id
    raise CliError(f"no account {account!r}; existing: {', '.join(a.name for a in accounts)}")


@keys_app.command("create")
@user_errors
def keys_create(
    account: Annotated[str | None, typer.Option(help="Account name or id (needed when several exist).")] = None,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "cli",
) -> None:
    """Create an API key and print it (once)."""
    settings = load_settings()
    with open_session(settings) as session:
        store = AccountStore(session)
        key = store.create_key(_resolve_account(store, account), name)
    console.print(f"Key {key.key.id} ({key.key.name})")
    _print_new_key(key.plaintext, settings.host, settings.port)


@keys_app.command("list")
@user_errors
def keys_list(
    account: Annotated[str | None, typer.Option(help="Only this account (name or id).")] = None,
) -> None:
    """List API keys (prefix only; the full key is never stored)."""
    with open_session() as session:
        store = AccountStore(session)
        accounts = store.list_accounts()
        if account is not None:
            wanted = _resolve_account(store, account)
            accounts = [a for a in accounts if a.id == wanted]
        table = Table("key_id", "account", "name", "prefix", "created_at", "status")
        for a in accounts:
            for k in store.list_keys(a.id):
                status = "revoked" if k.revoked_at else "active"
                table.add_row(k.id, a.name, k.name, k.prefix + "...", f"{k.created_at:%Y-%m-%d %H:%M:%S}Z", status)
    console.print(table)


@keys_app.command("revoke")
@user_errors
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (key_...), see `tradeready keys list`.")],
) -> None:
    """Revoke an API key (requests with it answer 401 from now on)."""
    from tradeready.server.store.models import ApiKey

    with open_session() as session:
        key = session.get(ApiKey, key_id)
        if key is None:
            raise CliError(f"no API key {key_id!r}; see `tradeready keys list`")
        AccountStore(session).revoke_key(key)
    console.print(f"Revoked {key_id}")


# ---- db ----------------------------------------------------------------------------------------


@db_app.command("upgrade")
@user_errors
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default head)."""
    from tradeready.server.db.migrate import upgrade

    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url, revision)
    console.print(f"Database at revision {_current_revision(settings.resolved_database_url)}")


@db_app.command("downgrade")
@user_errors
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision ('base' drops everything).")]) -> None:
    """Revert migrations down to REVISION (e.g. 0001_accounts, -1, base)."""
    from tradeready.server.db.migrate import downgrade

    settings = load_settings()
    downgrade(settings.resolved_database_url, revision)
    console.print(f"Database at revision {_current_revision(settings.resolved_database_url)}")


@db_app.command("current")
@user_errors
def db_current() -> None:
    """Show the database's migration revision."""
    settings = load_settings()
    console.print(_current_revision(settings.resolved_database_url))


def _current_revision(url: str) -> str:
    from alembic.runtime.migration import MigrationContext

    from tradeready.server.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            heads = MigrationContext.configure(conn).get_current_heads()
    finally:
        engine.dispose()
    return ", ".join(heads) if heads else "base (empty database)"


# ---- data --------------------------------------------------------------------------------------


def _store_candles(candles: object, overwrite: bool, label: str) -> None:
    from tradeready.server.services.market import import_candles
    from tradeready.server.store.market import MarketStore
    from tradeready_core.data import Candles

    assert isinstance(candles, Candles)
    with open_session() as session, _progress() as progress:
        task = progress.add_task(f"storing {label}", total=len(candles))
        result = import_candles(
            MarketStore(session),
            candles,
            overwrite=overwrite,
            progress=lambda n: progress.advance(task, n),
        )
    tag = " [bold yellow](SYNTHETIC)[/bold yellow]" if candles.is_synthetic else ""
    console.print(
        f"{result.symbol} {result.timeframe}{tag}: {result.received} candles read, {result.inserted} new, "
        f"{result.unchanged} already stored, {result.conflicts} conflicting, {result.overwritten} overwritten"
    )
    if result.replaced_synthetic:
        console.print(f"  replaced {result.replaced_synthetic} synthetic demo candles with real data")
    if result.conflicts and not overwrite:
        console.print(
            f"[yellow]Warning:[/yellow] {result.conflicts} candle(s) already stored with different values were "
            "kept; pass --overwrite to replace them. First ones:"
        )
        for ex in result.conflict_examples:
            d = ex.to_dict()
            console.print(f"  {d['open_time']}: stored {d['stored']} / file {d['incoming']}", soft_wrap=True)


@data_app.command("import")
@user_errors
def data_import(
    paths: Annotated[list[Path], typer.Argument(help="CSV, ZIP (Binance klines) or Parquet files.")],
    symbol: Annotated[str | None, typer.Option(help="Symbol (default: from the file name or contents).")] = None,
    timeframe: Annotated[str | None, typer.Option(help="Timeframe (default: from the file name or spacing).")] = None,
    tz: Annotated[str, typer.Option(help="Time zone of naive timestamps.")] = "UTC",
    overwrite: Annotated[bool, typer.Option(help="Replace stored candles whose values differ.")] = False,
    strict: Annotated[bool, typer.Option(help="Treat gaps and spikes as errors.")] = False,
) -> None:
    """Import candle files (idempotent; conflicting candles are reported, not overwritten)."""
    from tradeready_core.data import load_candles_with_report

    for path in paths:
        if not path.is_file():
            raise CliError(f"no such file: {str(path)!r}")
        with err_console.status(f"reading {path.name}"):
            candles, report = load_candles_with_report(path, symbol=symbol, timeframe=timeframe, tz=tz, strict=strict)
        console.print(report.summary(), soft_wrap=True)
        for gap in report.gaps[:5]:
            console.print(f"  {gap}", soft_wrap=True)
        _store_candles(candles, overwrite, path.name)


@data_app.command("fetch")
@user_errors
def data_fetch(
    symbol: Annotated[str, typer.Option(help="Binance spot symbol, e.g. BTCUSDT.")],
    start: Annotated[str, typer.Option(help="First day (ISO-8601 or epoch ms).")],
    timeframe: Annotated[str, typer.Option(help="1m, 5m, 15m, 1h, 4h or 1d.")] = "1h",
    end: Annotated[str | None, typer.Option(help="End, exclusive (default: now).")] = None,
    base_url: Annotated[str, typer.Option(help="Archive host.")] = "https://data.binance.vision",
    overwrite: Annotated[bool, typer.Option(help="Replace stored candles whose values differ.")] = False,
) -> None:
    """Download Binance public kline archives (checksum-verified, resumable) and store them."""
    from tradeready.server.fetch import FetchEvent, fetch_klines
    from tradeready.server.services.market import check_symbol, check_timeframe, parse_time

    settings = load_settings()
    symbol = check_symbol(symbol)
    check_timeframe(timeframe)
    start_ms = parse_time(start, "start")
    end_ms = parse_time(end, "end")
    assert start_ms is not None
    with _progress() as progress:
        task = progress.add_task(f"fetching {symbol} {timeframe}", total=0)

        def on_event(event: FetchEvent) -> None:
            if event.kind == "planned":
                total = progress.tasks[0].total or 0
                progress.update(task, total=total + event.total)
            else:
                assert event.file is not None
                progress.update(task, advance=1, description=f"{event.file.name} ({event.status})")

        result = fetch_klines(
            symbol,
            timeframe,
            start_ms,
            end_ms,
            cache_dir=settings.home / "cache" / "binance",
            base_url=base_url,
            progress=on_event,
        )
    console.print(
        f"{result.downloaded} archive(s) downloaded, {result.cached} already verified in the cache, "
        f"{len(result.missing)} not published"
    )
    if not len(result.candles):
        raise CliError(f"no {symbol} {timeframe} candles found between {start} and {end or 'now'} at {base_url}")
    _store_candles(result.candles, overwrite, f"{symbol} {timeframe}")


@data_app.command("list")
@user_errors
def data_list() -> None:
    """Show the stored datasets."""
    from tradeready.server.store.market import MarketStore

    with open_session() as session:
        datasets = MarketStore(session).list_datasets()
    if not datasets:
        console.print(
            "No market data stored. Use `tradeready data import PATH`, `tradeready data fetch ...` "
            "or `tradeready data demo` (synthetic)."
        )
        return
    table = Table("symbol", "timeframe", "source", "first", "last", "count", "gaps", "missing bars")
    for d in datasets:
        w = d.to_dict()
        source = "SYNTHETIC" if d.source == "synthetic" else d.source
        table.add_row(
            d.symbol,
            d.timeframe,
            source,
            w["first_time"],
            w["last_time"],
            str(d.count),
            str(d.gaps),
            str(d.missing_bars),
        )
    console.print(table)


@data_app.command("demo")
@user_errors
def data_demo(
    timeframe: Annotated[str, typer.Option(help="Timeframe of the demo candles.")] = "1h",
    days: Annotated[int, typer.Option(min=1, max=3650, help="Length in days.")] = 365,
    seed: Annotated[int, typer.Option(help="Random seed (the dataset is deterministic).")] = 7,
    symbols: Annotated[str, typer.Option(help="Comma-separated symbols.")] = "BTCUSDT,ETHUSDT,SOLUSDT",
) -> None:
    """Create the SYNTHETIC demo dataset (clearly labelled; never real market data)."""
    from tradeready.server.services.market import check_symbol, check_timeframe, demo_candles
    from tradeready_core.timeframes import timeframe_seconds

    check_timeframe(timeframe)
    names = [check_symbol(s) for s in symbols.split(",") if s.strip()]
    periods = days * 86_400 // timeframe_seconds(timeframe)
    console.print(
        "[bold yellow]Creating a SYNTHETIC demo dataset[/bold yellow] (generated prices, labelled "
        "source=synthetic; not real market data). Import or fetch real data to replace it."
    )
    from tradeready.server.store.market import MarketStore

    with open_session() as session:
        datasets = MarketStore(session).list_datasets()
    real = {d.symbol for d in datasets if d.timeframe == timeframe and d.source != "synthetic"}
    for candles in demo_candles(names, timeframe, periods, seed):
        if candles.symbol in real:
            console.print(f"{candles.symbol} {timeframe}: real market data is stored; demo data skipped")
            continue
        _store_candles(candles, False, f"{candles.symbol} {timeframe} (synthetic)")


@data_app.command("delete")
@user_errors
def data_delete(
    symbol: Annotated[str, typer.Argument(help="Symbol, e.g. BTCUSDT.")],
    timeframe: Annotated[str, typer.Option(help="Timeframe to delete.")],
) -> None:
    """Delete one stored dataset."""
    from tradeready.server.services.market import check_symbol, check_timeframe
    from tradeready.server.store.market import MarketStore

    symbol, timeframe = check_symbol(symbol), check_timeframe(timeframe)
    with open_session() as session:
        store = MarketStore(session)
        if store.get_dataset(symbol, timeframe) is None:
            raise CliError(f"no {symbol} {timeframe} dataset stored; see `tradeready data list`")
        deleted = store.delete_dataset(symbol, timeframe)
    console.print(f"Deleted {deleted} {symbol} {timeframe} candles")


# ---- sessions ----------------------------------------------------------------------------------


@sessions_app.command("list")
@user_errors
def sessions_list(
    account: Annotated[str | None, typer.Option(help="Account name or id (needed when several exist).")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status (e.g. running, completed).")] = None,
    label: Annotated[str | None, typer.Option(help="Only this strategy label.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many (newest first).")] = 20,
) -> None:
    """List an account's backtest sessions, newest first."""
    from tradeready.server.store.backtests import BacktestStore, SessionFilter

    with open_session() as session:
        account_id = _resolve_account(AccountStore(session), account)
        rows, total = BacktestStore(session).list_sessions(
            account_id, SessionFilter(status=status, strategy_label=label), limit=limit, offset=0
        )
        table = Table("session_id", "status", "label", "symbols", "tf", "step", "equity", "roi %", "created_at")
        for r in rows:
            roi = (r.metrics or {}).get("roi_pct")
            table.add_row(
                r.id,
                r.status,
                r.strategy_label,
                ",".join(r.symbols),
                r.timeframe,
                f"{r.step}/{r.total_steps}",
                f"{r.equity:,.2f}",
                "" if roi is None else f"{roi:.2f}",
                f"{r.created_at:%Y-%m-%d %H:%M:%S}Z",
            )
    console.print(table)
    console.print(f"{len(rows)} of {total} session(s)")


@sessions_app.command("show")
@user_errors
def sessions_show(
    session_id: Annotated[str, typer.Argument(help="The session id, see `tradeready sessions list`.")],
) -> None:
    """Show one backtest session: settings, progress and metrics."""
    from tradeready.server.store.models.backtests import BacktestSession
    from tradeready_core.data._time import format_ms

    with open_session() as session:
        row = session.get(BacktestSession, session_id)
        if row is None:
            raise CliError(f"no backtest session {session_id!r}; see `tradeready sessions list`")
        owner = AccountStore(session).get_account(row.account_id)
        table = Table("field", "value", show_header=False)
        fields: list[tuple[str, object]] = [
            ("session_id", row.id),
            ("account", owner.name if owner else row.account_id),
            ("status", row.status),
            ("source", row.source),
            ("strategy_label", row.strategy_label),
            ("symbols", ", ".join(row.symbols)),
            ("timeframe", row.timeframe),
            ("range", f"{format_ms(row.start_ms)} .. {format_ms(row.end_ms)}"),
            ("step", f"{row.step}/{row.total_steps}"),
            ("starting_balance", f"{row.starting_balance:,.2f}"),
            ("equity", f"{row.equity:,.2f}"),
            ("fee_rate / slippage_bps", f"{row.fee_rate} / {row.slippage_bps}"),
            ("training_run_id", row.training_run_id or "-"),
            ("episode", "-" if row.episode is None else row.episode),
            ("created_at", f"{row.created_at:%Y-%m-%d %H:%M:%S}Z"),
        ]
        for name, value in sorted((row.metrics or {}).items()):
            fields.append((f"metric {name}", f"{value:.6g}" if isinstance(value, float) else value))
        for name, value in fields:
            table.add_row(name, str(value))
    console.print(table)
