"""``python -m tradeready_gym.tracking sync``: deliver spooled training runs (``tradeready sync``).

Usage::

    python -m tradeready_gym.tracking sync [--spool-dir DIR] [--base-url URL] [--api-key KEY]

The API key defaults to ``TRADEREADY_API_KEY``; each journal goes to the platform it was written
for unless ``--base-url`` is given. Exit status 0 when nothing is left to deliver, 1 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from tradeready_gym.tracking import default_spool_dir, sync

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tradeready_gym.tracking", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("sync", help="deliver spooled training runs to the platform")
    cmd.add_argument("--spool-dir", default=None, help=f"default: {default_spool_dir()}")
    cmd.add_argument("--base-url", default=None, help="default: the platform each journal was written for")
    cmd.add_argument("--api-key", default=None, help="default: $TRADEREADY_API_KEY")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    report = sync(api_key=args.api_key, base_url=args.base_url, spool_dir=args.spool_dir)
    sys.stdout.write(f"{report}\n")
    return 0 if not report.remaining else 1


if __name__ == "__main__":
    raise SystemExit(main())
