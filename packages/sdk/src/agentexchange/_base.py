"""Transport-agnostic machinery shared by the sync and async clients.

A method of either client builds a :class:`Call` (see ``_endpoints``), and the client's one
``_send`` loop turns it into an ``httpx.Request`` (:meth:`BaseClient._build_request`), asks the
:class:`RetryPolicy` whether a failure may be retried and after how long, and turns the final
answer into a result or an exception (:meth:`BaseClient._process_response`). Only the I/O, the
sleep and the loop itself differ between the two clients.
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import httpx
import orjson

from agentexchange._config import mask_api_key, resolve_api_key, resolve_url_prefix
from agentexchange._errors import (
    APIConnectionError,
    APIResponseError,
    APITimeoutError,
    InvalidArgumentError,
    MissingAPIKeyError,
    parse_retry_after,
    status_error_from_response,
)
from agentexchange._version import __version__

__all__ = [
    "IDEMPOTENT_METHODS",
    "BaseClient",
    "Call",
    "RetryPolicy",
    "TimeoutTypes",
    "encode_json",
    "format_time",
    "retry_policy",
]

T = TypeVar("T")
TimeoutTypes = float | httpx.Timeout | None
ParamValue = str | int | float | bool

logger = logging.getLogger("agentexchange")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API call, described without doing any I/O.

    ``path`` is relative to ``/api/v1``; ``body`` is JSON-encodable (``None``: no body);
    ``idempotent`` (default: by method) decides whether failures may be retried; ``parse`` turns
    the decoded JSON into the method's return value and raises ``ValueError`` on a wrong shape.
    """

    method: str
    path: str
    parse: Callable[[Any], T]
    params: Mapping[str, ParamValue | None] = field(default_factory=dict)
    body: Any = None
    idempotent: bool | None = None
    authenticated: bool = True

    @property
    def retry_safe(self) -> bool:
        """Whether sending this call twice has the same effect as sending it once."""
        return self.idempotent if self.idempotent is not None else self.method in IDEMPOTENT_METHODS


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and after how long a failed attempt is retried.

    Retried, at most ``max_retries`` times: any call that was rejected before it ran (429, a
    refused connection); idempotent calls on 408, 5xx and lost connections or timeouts. The wait
    is the server's ``Retry-After`` when given (a wait over ``max_retry_after`` is not worth it,
    so the error is raised at once), else exponential backoff from ``initial_delay``, capped at
    ``max_delay``, shortened by up to ``jitter`` (a fraction) so that clients spread out.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    jitter: float = 0.25

    def backoff(self, attempt: int) -> float:
        """Wait before retry number ``attempt + 1``."""
        delay = min(self.max_delay, self.initial_delay * 2.0**attempt)
        return delay * (1.0 - self.jitter * random.random())

    def after_response(self, response: httpx.Response, *, retry_safe: bool, attempt: int) -> float | None:
        """Seconds to wait before retrying this answer, or ``None`` to stop here."""
        status = response.status_code
        if attempt >= self.max_retries or status not in _RETRYABLE_STATUSES:
            return None
        if status != 429 and not retry_safe:
            return None
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is None:
            return self.backoff(attempt)
        return retry_after if retry_after <= self.max_retry_after else None

    def after_error(self, error: httpx.TransportError, *, retry_safe: bool, attempt: int) -> float | None:
        """Seconds to wait before retrying after a transport error, or ``None`` to stop here."""
        if attempt >= self.max_retries:
            return None
        never_sent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        if retry_safe or never_sent:
            return self.backoff(attempt)
        return None


def retry_policy(max_retries: int) -> RetryPolicy:
    """The default policy with ``max_retries``, checked."""
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise InvalidArgumentError(f"max_retries must be an integer >= 0, got {max_retries!r}")
    return RetryPolicy(max_retries=max_retries)


def _check_finite(value: Any, path: str) -> None:
    """Raise if a float in a request body is NaN or infinite (JSON cannot carry them)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgumentError(
                f"{path} is {value!r}; NaN and Infinity cannot be sent: use None for a missing value"
            )
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_finite(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_finite(item, f"{path}[{index}]")


def _json_default(value: Any) -> Any:
    """Encode what ``json`` does not know: datetimes as UTC ISO 8601, numpy values via ``tolist()``."""
    if isinstance(value, datetime):
        return format_time(value)
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` (a naive datetime is taken to be UTC already)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


def encode_json(body: Any) -> bytes:
    """Compact JSON bytes of a request body, naming the field when a value cannot be encoded."""
    try:
        return json.dumps(body, separators=(",", ":"), allow_nan=False, default=_json_default).encode()
    except ValueError as exc:
        _check_finite(body, "body")
        raise InvalidArgumentError(f"request body cannot be encoded as JSON: {exc}") from exc
    except TypeError as exc:
        raise InvalidArgumentError(f"request body cannot be encoded as JSON: {exc}") from exc


class BaseClient:
    """Configuration, request building and response handling common to both clients."""

    _http_owned: bool

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        timeout: TimeoutTypes,
        max_retries: int,
        http_client: httpx.Client | httpx.AsyncClient | None,
    ) -> None:
        self._api_key = resolve_api_key(api_key)
        self._url_prefix = resolve_url_prefix(base_url, http_client)
        self._timeout = timeout
        self._retry = retry_policy(max_retries)
        self._headers = {
            "Accept": "application/json",
            "User-Agent": f"agentexchange/{__version__} python-httpx/{httpx.__version__}",
        }

    @property
    def base_url(self) -> str:
        """The URL every API path is appended to (``.../api/v1``), for messages and logs."""
        prefix = self._url_prefix
        if prefix.startswith(("http://", "https://")):
            return prefix
        return str(self._http_base_url()).rstrip("/") + prefix

    @property
    def max_retries(self) -> int:
        """How many times a retry-safe call is retried."""
        return self._retry.max_retries

    @property
    def timeout(self) -> TimeoutTypes:
        """Per-request timeout in seconds (or an ``httpx.Timeout``; ``None`` waits forever)."""
        return self._timeout

    @property
    def has_api_key(self) -> bool:
        """Whether authenticated endpoints can be called."""
        return self._api_key is not None

    @property
    def api_key(self) -> str | None:
        """The API key this client sends in ``X-API-Key``, or ``None`` without one (read-only).

        The ``api_key`` argument, else ``TRADEREADY_API_KEY`` as read at construction, stripped of
        surrounding whitespace. This is the secret itself: pass it on (e.g. to build another client
        or to tag local state with a hash of it), never log or display it; ``repr(client)`` and
        messages show it masked.
        """
        return self._api_key

    def _http_base_url(self) -> httpx.URL:
        raise NotImplementedError

    def __repr__(self) -> str:
        key = mask_api_key(self._api_key)
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={key!r})"

    def _build_request(self, http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
        headers = dict(self._headers)
        if call.authenticated:
            if self._api_key is None:
                raise MissingAPIKeyError()
            headers["X-API-Key"] = self._api_key
        content = None
        if call.body is not None:
            content = encode_json(call.body)
            headers["Content-Type"] = "application/json"
        params = {name: value for name, value in call.params.items() if value is not None}
        return http.build_request(
            call.method,
            self._url_prefix + call.path,
            params=params or None,
            content=content,
            headers=headers,
            timeout=self._timeout,
        )

    def _connection_error(self, request: httpx.Request, error: httpx.TransportError) -> APIConnectionError:
        target = f"{request.url.scheme}://{request.url.netloc.decode()}"
        if isinstance(error, httpx.TimeoutException):
            return APITimeoutError(
                f"{request.method} {request.url.path} to the TradeReady platform at {target} timed out "
                f"({type(error).__name__}); raise timeout= or check the platform's load",
                request=request,
            )
        return APIConnectionError(
            f"Could not reach the TradeReady platform at {target} ({type(error).__name__}: {error}). "
            "Is it running? Start it with `tradeready serve`, or set TRADEREADY_BASE_URL / base_url "
            "to where it runs.",
            request=request,
        )

    def _log_retry(self, request: httpx.Request, reason: str, delay: float, attempt: int) -> None:
        logger.info(
            "Retrying %s %s in %.2fs after %s (retry %d of %d)",
            request.method,
            request.url.path,
            delay,
            reason,
            attempt + 1,
            self._retry.max_retries,
        )

    @staticmethod
    def _process_response(call: Call[T], response: httpx.Response) -> T:
        """The call's result from a final answer, or the matching exception."""
        if not response.is_success:
            raise status_error_from_response(response)
        if response.status_code == 204 or not response.content:
            data: Any = None
        else:
            try:
                data = orjson.loads(response.content)  # about 5x the standard library's speed on large answers
            except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
                content_type = response.headers.get("Content-Type", "no content type")
                raise APIResponseError(
                    f"{call.method} {response.request.url.path} answered {response.status_code} with a "
                    f"body that is not JSON ({content_type}); is base_url pointing at the platform?",
                    response=response,
                ) from exc
        try:
            return call.parse(data)
        except ValueError as exc:
            raise APIResponseError(
                f"{call.method} {response.request.url.path}: unexpected response shape: {exc}", response=response
            ) from exc
