"""Run the platform under uvicorn, with one or several worker processes.

uvicorn's own multi-worker mode binds a listening socket whose protocol number is 0, so asyncio
does not set ``TCP_NODELAY`` on the accepted connections and every keep-alive response waits for
the client's delayed ACK (~40 ms per request; uvicorn issue #3149). :func:`bind_socket` binds the
socket ourselves with ``IPPROTO_TCP`` and ``TCP_NODELAY`` set on the listening socket, which Linux
copies to every accepted connection, whatever the worker count or event loop.

Example::

    run_server(Settings(port=8000, workers=2))      # blocks until Ctrl-C
"""

from __future__ import annotations

import os
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

from tradeready.server.db.migrate import upgrade
from tradeready.server.settings import Settings

__all__ = ["APP_FACTORY", "bind_socket", "export_settings", "run_server"]

APP_FACTORY = "tradeready.server.app:create_app_from_env"
"""Import string of the application factory each worker calls (settings from ``TRADEREADY_*``)."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket with ``TCP_NODELAY`` set, inherited by every connection it accepts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def export_settings(settings: Settings) -> None:
    """Put the resolved settings into ``TRADEREADY_*`` so worker processes build the same app."""
    os.environ["TRADEREADY_HOME"] = str(settings.home)
    if settings.database_url:
        os.environ["TRADEREADY_DATABASE_URL"] = settings.database_url
    os.environ["TRADEREADY_HOST"] = settings.host
    os.environ["TRADEREADY_PORT"] = str(settings.port)
    os.environ["TRADEREADY_WORKERS"] = str(settings.workers)
    os.environ["TRADEREADY_RATE_LIMIT_PER_MINUTE"] = str(settings.rate_limit_per_minute)
    os.environ["TRADEREADY_LOG_LEVEL"] = settings.log_level


def run_server(settings: Settings) -> None:
    """Migrate once, bind the socket, then serve with ``settings.workers`` processes (blocks)."""
    settings.home.mkdir(parents=True, exist_ok=True)
    if settings.migrate_on_start:
        upgrade(settings.resolved_database_url)
    export_settings(settings)
    os.environ["TRADEREADY_MIGRATE_ON_START"] = "false"  # done above; workers must not race on it
    sock = bind_socket(settings.host, settings.port)
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        proxy_headers=False,
    )
    try:
        if settings.workers > 1:
            Multiprocess(config, sockets=[sock]).run()
        else:
            uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
