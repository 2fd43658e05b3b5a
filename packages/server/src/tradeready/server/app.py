"""The application factory.

Example::

    from tradeready.server.app import create_app
    from tradeready.server.settings import Settings

    app = create_app(Settings(home="/tmp/tr"))   # serve with uvicorn, or wrap in TestClient
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI

from tradeready import __version__
from tradeready.server.api.hot import HotLane
from tradeready.server.api.routes import account, backtests, evaluations, market, meta, training
from tradeready.server.auth_cache import AuthCache
from tradeready.server.dashboard import routes as dashboard
from tradeready.server.db.engine import make_engine, make_session_factory
from tradeready.server.db.migrate import upgrade
from tradeready.server.errors import error_body, install_error_handlers
from tradeready.server.services.ratelimit import RateLimiter
from tradeready.server.settings import Settings

__all__ = ["API_PREFIX", "create_app", "create_app_from_env"]

API_PREFIX = "/api/v1"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodySizeLimit:
    """Pure ASGI middleware: answers 413 with the error envelope when a body exceeds ``max_bytes``.

    Checks ``Content-Length`` up front and counts streamed chunks, so nothing oversized is read.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._reject(send, declared)
                    return
        seen = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    raise _BodyTooLarge(seen)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge as exc:
            await self._reject(send, exc.size)

    async def _reject(self, send: Send, size: int) -> None:
        import orjson

        body = orjson.dumps(
            error_body(
                "payload_too_large",
                f"Request body of {size} bytes exceeds the limit of {self.max_bytes} bytes; send smaller batches.",
                {"limit_bytes": self.max_bytes, "received_bytes": size},
            )
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the platform application: database (migrated), routes, dashboard, error envelope."""
    settings = settings or Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    if settings.migrate_on_start:
        upgrade(url)
    engine = make_engine(url)

    app = FastAPI(
        title="TradeReady",
        version=__version__,
        description="Train reinforcement-learning trading agents on crypto market data and watch them learn.",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.rate_limiter = RateLimiter(engine, settings.rate_limit_per_minute)
    app.state.auth_cache = AuthCache(settings.auth_cache_ttl_s)
    install_error_handlers(app)

    # Most frequent first: FastAPI matches routes in order, and each candidate costs a few microseconds, so
    # the training and stepping routes (hundreds of requests per second from a trainer) come before the rest.
    routers = (training.router, backtests.router, market.router, account.router, evaluations.router, meta.router)
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(dashboard.router)

    # the hot lane inside the body limit, so oversized bodies never reach it
    app.add_middleware(HotLane, mounts=[(API_PREFIX, training.router), (API_PREFIX, backtests.router)])
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn workers (``tradeready.server.app:create_app_from_env``): settings from ``TRADEREADY_*``.

    The worker is a long-lived process, so the start-up heap (modules, the application) is frozen out
    of the cyclic garbage collector's way (:func:`gc.freeze`): a collection then walks only what
    requests allocate. Ingesting a batch of 1,000 episodes spent about half its parse time in
    collections that walked the whole start-up heap.
    """
    app = create_app(Settings())
    gc.collect()
    gc.freeze()
    return app
