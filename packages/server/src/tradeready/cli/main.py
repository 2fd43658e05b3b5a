"""The ``tradeready`` command line."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="tradeready", help="TradeReady platform: serve, accounts, keys, market data.", no_args_is_help=True
)


@app.callback()
def main() -> None:
    """TradeReady platform command line."""
