"""MkDocs hook: the ``tradeready`` command-line reference, generated from the CLI's own command tree.

Every command and subcommand of ``tradeready.cli.main.app`` (Typer), with its help, arguments and
options, rendered as ``cli.md`` at build time, so the page always matches the installed CLI.
Also usable alone::

    python docs/_hooks/cli.py > cli.md
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["PAGE", "on_files", "render_markdown"]

PAGE = "cli.md"

_INTRO = """# Command line

`tradeready` runs and administers the platform. Global options (before the command) choose the
platform's data directory and database; every command has `--help`. Generated from the installed
CLI when these docs are built.

"""


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _param_row(param: Any) -> str:
    names = ", ".join(f"`{n}`" for n in (*param.opts, *(param.secondary_opts or ())))
    default = param.default
    shown = "" if default is None or callable(default) or default in ((), []) or param.required else f"`{default}`"
    bounds = [f"{label} {value}" for label, value in ((">=", param.min), ("<=", param.max)) if value is not None]
    text = " ".join([param.help or "", f"({', '.join(bounds)})" if bounds else ""])
    kind = "flag" if param.is_flag else "value"
    return f"| {names} | {kind} | {'yes' if param.required else 'no'} | {shown} | {_cell(text)} |"


def _command(path: list[str], command: Any, lines: list[str]) -> None:
    name = " ".join(path)
    depth = min(len(path) + 1, 4)
    lines += [f"{'#' * depth} `{name}`", ""]
    if command.help:
        lines += [command.help.strip(), ""]
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    options = [p for p in command.params if p.param_type_name == "option" and p.name != "help"]
    usage = " ".join([name, *(f"{p.name.upper()}{'...' if p.nargs == -1 else ''}" for p in arguments)])
    subcommands = getattr(command, "commands", None)
    group = " COMMAND [ARGS]..." if isinstance(subcommands, dict) else ""
    lines += [f"Usage: `{usage}{' [OPTIONS]' if options else ''}{group}`", ""]
    if options or arguments:
        lines += ["| argument / option | takes | required | default | help |", "|---|---|---|---|---|"]
        for p in arguments:
            takes = "one or more values" if p.nargs == -1 else "value"
            required = "yes" if p.required else "no"
            lines.append(f"| `{p.name.upper()}` | {takes} | {required} |  | {_cell(p.help or '')} |")
        lines += [_param_row(p) for p in options]
        lines.append("")
    if isinstance(subcommands, dict):
        for sub_name, sub in subcommands.items():
            if not getattr(sub, "hidden", False):
                _command([*path, sub_name], sub, lines)


def render_markdown() -> str:
    """The reference page of the installed ``tradeready`` CLI."""
    import typer.main

    from tradeready.cli.main import app

    lines = [_INTRO.rstrip(), ""]
    _command(["tradeready"], typer.main.get_command(app), lines)
    return "\n".join(lines).rstrip() + "\n"


def on_files(files: Any, config: Any) -> Any:
    """MkDocs event: add the generated page to the site."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, PAGE, content=render_markdown()))
    return files


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
