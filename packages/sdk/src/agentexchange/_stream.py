"""Step streams: remote stepping of one backtest session over a WebSocket.

``client.stream_backtest(id)`` opens ``/api/v1/backtests/{id}/stream``; :meth:`BacktestStream.step`
takes the arguments of ``client.step_backtest`` and returns the same :class:`~agentexchange.types.StepResult`,
without HTTP's per-request cost (a step is one small message each way on an open connection).
Errors are the client's usual exceptions: a refused handshake (missing key, unknown or foreign
session) raises what the HTTP route would (``AuthenticationError``, ``NotFoundError``); an error
answer to one step raises its :class:`~agentexchange.APIStatusError` subclass and leaves the stream
open; a broken connection raises :class:`~agentexchange.APIConnectionError`. A step is never
retried (it must not be applied twice).

Example::

    with client.stream_backtest(session["session_id"]) as stream:
        while True:
            result = stream.step(targets=[0.5])
            if result["status"] != "running":
                break
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Self

import httpx
import orjson
from websockets.asyncio.client import ClientConnection as AsyncConnection
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from agentexchange import _endpoints as api
from agentexchange._base import encode_json
from agentexchange._errors import (
    AgentExchangeError,
    APIConnectionError,
    APIResponseError,
    APITimeoutError,
    MissingAPIKeyError,
    status_error_from_response,
)
from agentexchange.types import StepResult

__all__ = ["AsyncBacktestStream", "BacktestStream", "stream_url"]

_TimeoutTypes = float | httpx.Timeout | None


def stream_url(base_url: str, backtest_id: str) -> str:
    """The WebSocket URL of a session's step stream: ``ws://`` (or ``wss://``) for ``http://`` (``https://``)."""
    url = httpx.URL(base_url.rstrip("/") + api.stream_backtest_path(backtest_id))
    return str(url.copy_with(scheme={"http": "ws", "https": "wss"}.get(url.scheme, url.scheme)))


def _seconds(timeout: _TimeoutTypes, which: str) -> float | None:
    if isinstance(timeout, httpx.Timeout):
        value: float | None = getattr(timeout, which)
        return value
    return timeout


class _Stream:
    """What the sync and async streams share: the URL, the request encoding and the answer decoding."""

    def __init__(self, url: str, backtest_id: str, timeout: _TimeoutTypes) -> None:
        self.url = url
        self.backtest_id = backtest_id
        self._read_timeout = _seconds(timeout, "read")
        self._request = httpx.Request("GET", url)  # describes the stream in errors

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r})"

    def _encode(self, steps: int, targets: Sequence[float | None] | Mapping[str, float | None] | None) -> bytes:
        call = api.step_backtest(self.backtest_id, steps, targets)  # the HTTP route's body and argument checks
        return encode_json(call.body)

    def _decode(self, raw: str | bytes) -> StepResult:
        try:
            data = orjson.loads(raw)
        except ValueError as exc:
            raise APIResponseError(
                f"the step stream {self.url} answered a message that is not JSON", response=self._response(200, raw)
            ) from exc
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            status = data.get("status")
            headers = {"Retry-After": str(data["retry_after"])} if "retry_after" in data else {}
            raise status_error_from_response(self._response(status if isinstance(status, int) else 500, raw, headers))
        try:
            return api.parse_step_result(data)
        except ValueError as exc:
            raise APIResponseError(
                f"the step stream {self.url}: unexpected answer shape: {exc}", response=self._response(200, raw)
            ) from exc

    def _response(self, status: int, raw: str | bytes, headers: Mapping[str, str] | None = None) -> httpx.Response:
        content = raw.encode() if isinstance(raw, str) else raw
        return httpx.Response(
            status,
            headers={"Content-Type": "application/json", **(headers or {})},
            content=content,
            request=self._request,
        )

    def _refused(self, exc: Exception) -> AgentExchangeError:
        """The error for a handshake that failed: the platform's answer, or why it could not be reached."""
        if isinstance(exc, InvalidStatus):
            answer = exc.response
            return status_error_from_response(
                httpx.Response(
                    answer.status_code,
                    headers=dict(answer.headers.raw_items()),
                    content=bytes(answer.body or b""),
                    request=self._request,
                )
            )
        if isinstance(exc, TimeoutError):
            return APITimeoutError(
                f"opening the step stream {self.url} timed out; raise timeout=", request=self._request
            )
        return APIConnectionError(
            f"Could not open the step stream {self.url} ({type(exc).__name__}: {exc}). Is the platform running "
            "there, and does every proxy on the way pass WebSocket upgrades?",
            request=self._request,
        )

    def _broken(self, exc: Exception) -> APIConnectionError:
        if isinstance(exc, TimeoutError):
            return APITimeoutError(
                f"the step stream {self.url} did not answer within {self._read_timeout}s; raise timeout=",
                request=self._request,
            )
        return APIConnectionError(
            f"the step stream {self.url} broke ({type(exc).__name__}: {exc}); open a new one", request=self._request
        )


def _headers(api_key: str | None, user_agent: str) -> dict[str, str]:
    if api_key is None:
        raise MissingAPIKeyError()
    return {"X-API-Key": api_key, "User-Agent": user_agent}


class BacktestStream(_Stream):
    """An open step stream (see the module docstring); a context manager, or call :meth:`close`."""

    def __init__(self, url: str, backtest_id: str, *, api_key: str | None, user_agent: str, timeout: _TimeoutTypes):
        super().__init__(url, backtest_id, timeout)
        headers = _headers(api_key, user_agent)
        try:
            self._ws: ClientConnection = connect(
                url,
                additional_headers=headers,
                open_timeout=_seconds(timeout, "connect"),
                compression=None,  # step messages are small; deflate would only cost CPU
                user_agent_header=None,
            ).__enter__()  # this object is the context manager that closes it
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise self._refused(exc) from exc

    def step(
        self, steps: int = 1, targets: Sequence[float | None] | Mapping[str, float | None] | None = None
    ) -> StepResult:
        """Advance ``steps`` bars, first moving to ``targets`` weights (as ``client.step_backtest``)."""
        message = self._encode(steps, targets)
        try:
            self._ws.send(message, text=True)
            raw = self._ws.recv(timeout=self._read_timeout)
        except (OSError, TimeoutError, ConnectionClosed) as exc:
            raise self._broken(exc) from exc
        return self._decode(raw)

    def close(self) -> None:
        """Close the stream (idempotent)."""
        self._ws.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncBacktestStream(_Stream):
    """:class:`BacktestStream` for ``AsyncAgentExchangeClient``: ``await stream.step(...)``; an async
    context manager (``async with await client.stream_backtest(id) as stream``), or ``await stream.close()``.
    """

    _ws: AsyncConnection

    @classmethod
    async def open(
        cls, url: str, backtest_id: str, *, api_key: str | None, user_agent: str, timeout: _TimeoutTypes
    ) -> AsyncBacktestStream:
        """Connect and return the open stream."""
        self = cls(url, backtest_id, timeout)
        headers = _headers(api_key, user_agent)
        try:
            self._ws = await async_connect(
                url,
                additional_headers=headers,
                open_timeout=_seconds(timeout, "connect"),
                compression=None,
                user_agent_header=None,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise self._refused(exc) from exc
        return self

    async def step(
        self, steps: int = 1, targets: Sequence[float | None] | Mapping[str, float | None] | None = None
    ) -> StepResult:
        """Advance ``steps`` bars, first moving to ``targets`` weights (as ``client.step_backtest``)."""
        message = self._encode(steps, targets)
        try:
            await self._ws.send(message, text=True)
            raw = await _recv(self._ws, self._read_timeout)
        except (OSError, TimeoutError, ConnectionClosed) as exc:
            raise self._broken(exc) from exc
        return self._decode(raw)

    async def close(self) -> None:
        """Close the stream (idempotent)."""
        await self._ws.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


async def _recv(ws: AsyncConnection, timeout: float | None) -> str | bytes:
    if timeout is None:
        return await ws.recv()
    async with asyncio.timeout(timeout):
        return await ws.recv()
