"""The SDK's one exception hierarchy, mapped from the platform's error envelope.

Every non-2xx answer of the platform is ``{"error": {"code", "message", "details"}}``; the client
turns it into the matching subclass of :class:`APIStatusError`, keeping the stable ``code``::

    AgentExchangeError
    ├── MissingAPIKeyError          no key given and TRADEREADY_API_KEY unset
    ├── InvalidArgumentError        (also a ValueError) an argument the client can reject itself
    ├── APIResponseError            a 2xx answer that is not the JSON the method expects
    ├── APIConnectionError          the platform could not be reached
    │   └── APITimeoutError
    └── APIStatusError              the platform answered with an error status
        ├── BadRequestError         400 bad_request
        ├── AuthenticationError     401 unauthorized
        ├── PermissionDeniedError   403
        ├── NotFoundError           404 not_found, run_not_found, session_not_found, ...
        ├── ConflictError           409 conflict, run_not_running
        ├── PayloadTooLargeError    413 payload_too_large
        ├── ValidationError         422 validation_error (details: [{"field", "message", "allowed"?}])
        ├── RateLimitError          429 rate_limited (.retry_after, seconds)
        └── ServerError             5xx internal_error

Usage::

    try:
        client.get_training_run("run_unknown")
    except NotFoundError as exc:
        print(exc.code, exc.message)   # run_not_found  Training run 'run_unknown' not found
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx

__all__ = [
    "APIConnectionError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "AgentExchangeError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InvalidArgumentError",
    "MissingAPIKeyError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "ValidationError",
    "parse_retry_after",
    "status_error_from_response",
]

_MAX_TEXT_IN_MESSAGE = 300


class AgentExchangeError(Exception):
    """Base of every error raised by the SDK.

    Errors pickle with their attributes, so they cross process boundaries intact (for example
    from a ``SubprocVecEnv`` worker to the trainer).
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args, self.__dict__))


def _restore(cls: type[AgentExchangeError], args: tuple[Any, ...], state: dict[str, Any]) -> AgentExchangeError:
    """Rebuild an unpickled error without calling its ``__init__`` (whose signature varies)."""
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class MissingAPIKeyError(AgentExchangeError):
    """An authenticated endpoint was called without an API key."""

    def __init__(self) -> None:
        super().__init__(
            "No API key: pass api_key='ak_live_...' to the client or set TRADEREADY_API_KEY. "
            "Create a key with `tradeready init` (first account) or `tradeready keys create`."
        )


class InvalidArgumentError(AgentExchangeError, ValueError):
    """An argument the client rejects before sending (the platform stays the authority)."""


class APIResponseError(AgentExchangeError):
    """A successful answer whose body is not what the method expects."""

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        super().__init__(message)
        self.response = response


class APIConnectionError(AgentExchangeError):
    """The request did not get an answer: refused connection, DNS failure, dropped connection."""

    def __init__(self, message: str, *, request: httpx.Request) -> None:
        super().__init__(message)
        self.request = request


class APITimeoutError(APIConnectionError):
    """The request timed out (connecting, writing, reading or waiting for a pooled connection)."""


class APIStatusError(AgentExchangeError):
    """The platform answered with an error status (4xx or 5xx).

    Attributes: ``status_code``, ``code`` (stable error code, ``None`` if the body was not the
    envelope), ``message``, ``details`` (``None`` or the envelope's details) and ``response``.
    """

    def __init__(
        self,
        status_code: int,
        code: str | None,
        message: str,
        details: Any = None,
        response: httpx.Response | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details
        self.response = response
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = ""
        if self.response is not None:
            try:
                request = self.response.request
            except RuntimeError:  # a Response built without a request
                request = None
            if request is not None:
                where = f"{request.method} {request.url.path} -> "
        code = f" {self.code}" if self.code else ""
        return f"{where}{self.status_code}{code}: {self.message}"


class BadRequestError(APIStatusError):
    """400: malformed input that is not a schema error."""


class AuthenticationError(APIStatusError):
    """401: missing, unknown or revoked API key."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not do this."""


class NotFoundError(APIStatusError):
    """404: unknown id, or an id owned by another account."""


class ConflictError(APIStatusError):
    """409: the resource's state forbids the call (for example ``run_not_running``)."""


class PayloadTooLargeError(APIStatusError):
    """413: the request body is over the platform's limit; send smaller batches."""


class ValidationError(APIStatusError):
    """422: a field or parameter is invalid; ``details`` lists ``{"field", "message", "allowed"?}``."""


class RateLimitError(APIStatusError):
    """429: the key's rate limit was hit; ``retry_after`` is the wait the platform asked for (s)."""

    def __init__(
        self,
        status_code: int,
        code: str | None,
        message: str,
        details: Any = None,
        response: httpx.Response | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(status_code, code, message, details, response)


class ServerError(APIStatusError):
    """5xx: the platform failed; the message never carries its internals."""


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: ValidationError,
    429: RateLimitError,
}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), else ``None``."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _envelope(response: httpx.Response) -> tuple[str | None, str, Any]:
    """(code, message, details) from the envelope, or the best that a foreign body allows."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        if len(text) > _MAX_TEXT_IN_MESSAGE:
            text = text[:_MAX_TEXT_IN_MESSAGE] + "..."
        return None, text or response.reason_phrase or "no message", None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        code = error.get("code")
        return (code if isinstance(code, str) else None), error["message"], error.get("details")
    if isinstance(body, dict) and "detail" in body:  # a framework default, not our envelope
        detail = body["detail"]
        if isinstance(detail, str):
            return None, detail, None
        return None, response.reason_phrase or "request failed", detail
    return None, response.reason_phrase or "request failed", body


def status_error_from_response(response: httpx.Response) -> APIStatusError:
    """The :class:`APIStatusError` subclass for an error response, with its envelope parsed."""
    status = response.status_code
    code, message, details = _envelope(response)
    if status == 429:
        return RateLimitError(
            status, code, message, details, response, parse_retry_after(response.headers.get("Retry-After"))
        )
    cls = _STATUS_CLASSES.get(status, ServerError if status >= 500 else APIStatusError)
    return cls(status, code, message, details, response)
