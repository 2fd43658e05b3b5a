"""The hot lane: the few routes a trainer calls hundreds of times a second, dispatched ahead of FastAPI's router.

A route function decorated with :func:`hot` stays an ordinary FastAPI route (it is documented in the
OpenAPI schema and served by FastAPI wherever the lane is absent), and :class:`HotLane`, a pure ASGI
middleware, serves its requests directly: it matches the route's own path pattern, validates a
pydantic body straight from the raw bytes, calls the same function and sends its response. That
skips FastAPI's route scan, dependency solving and response wrappers, about 0.25 ms of CPU a
request on this project's 2-core reference machine, which is as much as the work of an episode
ingest itself (``bench/tracking.py``, ``bench/remote_step.py``). Errors go through the
application's own exception handlers, so answers are the same envelope, byte for byte.

A hot route may take only its path parameters (strings), ``request: Request`` and at most one
pydantic model (the JSON body), and has no route or router dependencies; anything it needs beyond
that it gets through
:func:`~tradeready.server.api.deps.run_authenticated`. :class:`HotLane` checks this at start-up.

Example::

    @router.post("/backtests/{session_id}/step")
    @hot
    async def step_backtest(session_id: str, body: BacktestStep, request: Request) -> Response: ...

    app.add_middleware(HotLane, mounts=[("/api/v1", router)])   # each router with the prefix it is included at
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path

__all__ = ["HotLane", "hot", "validate_json_body"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Endpoint = Callable[..., Awaitable[Response]]
F = TypeVar("F", bound=Endpoint)
M = TypeVar("M", bound=BaseModel)

_HOT_ATTRIBUTE = "__tradeready_hot__"


def hot(endpoint: F) -> F:
    """Mark a route function for :class:`HotLane` (apply it below the router's decorator)."""
    setattr(endpoint, _HOT_ATTRIBUTE, True)
    return endpoint


@dataclass(frozen=True)
class _Lane:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    endpoint: Endpoint
    request_param: str
    body_param: str | None
    body_model: type[BaseModel] | None


def _lane(prefix: str, route: APIRoute) -> _Lane:
    """The lane of a hot route included at ``prefix``; ``TypeError`` when its signature is more than the lane serves."""
    if route.dependencies:
        raise TypeError(f"hot route {route.path}: the hot lane does not run dependencies; remove them or the @hot mark")
    hints = typing.get_type_hints(route.endpoint)
    pattern, _, convertors = compile_path(prefix + route.path)
    path_params = set(convertors)
    request_param, body_param, body_model = None, None, None
    for name in inspect.signature(route.endpoint).parameters:
        annotation = hints.get(name)
        if annotation is Request:
            request_param = name
        elif name in path_params and annotation is str:
            continue
        elif inspect.isclass(annotation) and issubclass(annotation, BaseModel) and body_model is None:
            body_param, body_model = name, annotation
        else:
            raise TypeError(
                f"hot route {route.path} ({route.endpoint.__qualname__}): parameter {name!r} ({annotation!r}) is not "
                "a string path parameter, the Request or one pydantic body; use an ordinary route or "
                "run_authenticated()"
            )
    if request_param is None:
        raise TypeError(f"hot route {route.path} ({route.endpoint.__qualname__}) must take `request: Request`")
    return _Lane(
        methods=frozenset(route.methods or ()),
        pattern=pattern,
        endpoint=route.endpoint,
        request_param=request_param,
        body_param=body_param,
        body_model=body_model,
    )


class HotLane:
    """Pure ASGI middleware serving the routes marked :func:`hot` without FastAPI's router.

    ``mounts`` are the routers holding hot routes, each with the prefix the application includes it at.
    """

    def __init__(self, app: ASGIApp, mounts: Sequence[tuple[str, APIRouter]]) -> None:
        self.app = app
        self.lanes = [
            _lane(prefix, route)
            for prefix, router in mounts
            for route in router.routes
            if isinstance(route, APIRoute) and getattr(route.endpoint, _HOT_ATTRIBUTE, False)
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            for lane in self.lanes:
                if method in lane.methods:
                    match = lane.pattern.match(path)
                    if match is not None:
                        await self._serve(lane, match.groupdict(), scope, receive, send)
                        return
        await self.app(scope, receive, send)

    async def _serve(self, lane: _Lane, params: dict[str, Any], scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            params[lane.request_param] = request
            if lane.body_model is not None and lane.body_param is not None:
                params[lane.body_param] = validate_json_body(lane.body_model, await request.body())
            response = await lane.endpoint(**params)
        except Exception as exc:
            handler = _handler_for(scope["app"].exception_handlers, exc)
            if handler is None:
                raise  # the server-error middleware answers 500 with the envelope
            response = await handler(request, exc)
        await response(scope, receive, send)


def validate_json_body(model: type[M], raw: bytes) -> M:
    """``model`` from a raw JSON body; errors as FastAPI reports a body's (``loc`` starts with ``body``)."""
    if not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**err, "loc": ("body", *err["loc"])} for err in exc.errors(include_url=False)]
        ) from exc


def _handler_for(handlers: dict[Any, Any], exc: Exception) -> Callable[..., Awaitable[Response]] | None:
    """The application's handler for ``exc``'s class or nearest base, not counting the catch-all ``Exception``."""
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        handler = handlers.get(cls)
        if handler is not None:
            return typing.cast(Callable[..., Awaitable[Response]], handler)
    return None
