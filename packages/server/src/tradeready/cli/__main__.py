"""``python -m tradeready.cli``: the same as the ``tradeready`` command."""

from tradeready.cli.main import app

app(prog_name="tradeready")
