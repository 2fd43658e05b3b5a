"""Shared CLI plumbing: the console, settings, a store session, and one-line user errors."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.db.migrate import upgrade
from tradeready.server.errors import PlatformError
from tradeready.server.settings import Settings
from tradeready_core.errors import TradeReadyCoreError

__all__ = ["CliError", "console", "err_console", "load_settings", "open_session", "user_errors"]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

P = ParamSpec("P")
R = TypeVar("R")


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 1 (or ``exit_code``)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def load_settings(**overrides: Any) -> Settings:
    """Settings from explicit values, then ``TRADEREADY_*``, then defaults (``None`` values are ignored)."""
    values = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise CliError(f"invalid settings: {problems}") from None


@contextmanager
def open_session(settings: Settings | None = None, *, migrate: bool = True) -> Iterator[Session]:
    """A store session on the configured database (migrated first); committed on success."""
    settings = settings or load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    if migrate:
        upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            yield session
            session.commit()
    finally:
        engine.dispose()


def _describe_db_error(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip().splitlines()[0]
    return f"database error: {text}"


def user_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn expected failures into a one-line ``Error: ...`` on stderr and a non-zero exit (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except CliError as exc:
            err_console.print(f"[red]Error:[/red] {exc}")
            raise typer.Exit(exc.exit_code) from None
        except PlatformError as exc:
            err_console.print(f"[red]Error:[/red] {exc.message}")
            raise typer.Exit(1) from None
        except TradeReadyCoreError as exc:
            err_console.print(f"[red]Error:[/red] {exc}")
            raise typer.Exit(1) from None
        except OperationalError as exc:
            err_console.print(f"[red]Error:[/red] {_describe_db_error(exc)} (check TRADEREADY_DATABASE_URL)")
            raise typer.Exit(1) from None
        except OSError as exc:
            err_console.print(f"[red]Error:[/red] {exc}")
            raise typer.Exit(1) from None

    return wrapper
