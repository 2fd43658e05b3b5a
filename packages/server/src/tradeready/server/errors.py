"""Platform errors: one hierarchy, stable codes on the wire, one handler that renders the envelope.

Every non-2xx answer is ``{"error": {"code": str, "message": str, "details": object | None}}``.
Services raise these; routes never build error responses themselves.

Hierarchy::

    PlatformError (500 internal_error)
    ├── BadRequestError (400 bad_request)
    ├── UnauthorizedError (401 unauthorized)
    ├── NotFoundError (404 not_found; subclasses use run_not_found, session_not_found, ...)
    ├── ConflictError (409 conflict)
    ├── PayloadTooLargeError (413 payload_too_large)
    ├── RequestValidationFailed (422 validation_error)
    └── RateLimitedError (429 rate_limited, Retry-After)
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "BadRequestError",
    "ConflictError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PlatformError",
    "RateLimitedError",
    "RequestValidationFailed",
    "UnauthorizedError",
    "error_body",
    "error_envelope",
    "install_error_handlers",
]

logger = logging.getLogger("tradeready.server")


class PlatformError(Exception):
    """Base of every error the platform reports to a client."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details
        self.headers = headers or {}


class BadRequestError(PlatformError):
    status_code = 400
    code = "bad_request"


class UnauthorizedError(PlatformError):
    status_code = 401
    code = "unauthorized"


class NotFoundError(PlatformError):
    """Unknown id, or an id that belongs to another account (never 403: existence is not revealed)."""

    status_code = 404
    code = "not_found"


class ConflictError(PlatformError):
    status_code = 409
    code = "conflict"


class PayloadTooLargeError(PlatformError):
    status_code = 413
    code = "payload_too_large"


class RequestValidationFailed(PlatformError):
    status_code = 422
    code = "validation_error"


class RateLimitedError(PlatformError):
    status_code = 429
    code = "rate_limited"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The error envelope."""
    return {"error": {"code": code, "message": message, "details": details}}


def _jsonable(value: Any) -> Any:
    """Make validation details JSON-safe (pydantic puts raw inputs, possibly NaN or bytes, in them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors():
        item: dict[str, Any] = {
            "field": _field_name(tuple(err.get("loc", ()))),
            "message": err.get("msg", "invalid value"),
            "type": err.get("type"),
        }
        if "input" in err:
            item["received"] = _jsonable(err["input"])
        ctx = err.get("ctx") or {}
        if "expected" in ctx:
            item["allowed"] = _jsonable(ctx["expected"])
        details.append(item)
    return details


def error_envelope(exc: Exception) -> tuple[int, dict[str, Any], dict[str, str]]:
    """``(status, envelope, headers)`` of an error: a :class:`PlatformError`, a request validation
    error, or anything else (500 ``internal_error``, without the internals; the caller logs it).

    What the HTTP handlers answer, for transports that are not an HTTP response (the step stream).
    """
    if isinstance(exc, PlatformError):
        return exc.status_code, error_body(exc.code, exc.message, exc.details), exc.headers
    if isinstance(exc, RequestValidationError):
        details = _validation_details(exc)
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        return 422, error_body("validation_error", f"Invalid request: {summary}", details), {}
    return 500, error_body("internal_error", "Internal server error"), {}


def install_error_handlers(app: FastAPI) -> None:
    """Render every error, ours or the framework's, as the envelope."""

    @app.exception_handler(PlatformError)
    async def _platform_error(request: Request, exc: PlatformError) -> JSONResponse:
        if exc.status_code >= 500:
            logger.error("internal error on %s %s: %s", request.method, request.url.path, exc.message)
        status, body, headers = error_envelope(exc)
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, body, _ = error_envelope(exc)
        return JSONResponse(body, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 413: "payload_too_large"}
        code = codes.get(exc.status_code, "bad_request" if exc.status_code < 500 else "internal_error")
        message = str(exc.detail) if exc.detail else "Request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"No route for {request.method} {request.url.path}"
        return JSONResponse(
            error_body(code, message), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "Internal server error"), status_code=500)
