"""A scripted stand-in for the platform, built on ``httpx.MockTransport``.

``MockAPI`` records every request and answers from a queue of scripted replies (a
``httpx.Response``, an exception to raise, or a callable), falling back to ``default``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from agentexchange import AgentExchangeClient, AsyncAgentExchangeClient

KEY = "ak_live_0123456789abcdef0123456789abcdef"
BASE = "http://platform.test:8000"

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def envelope(status: int, code: str, message: str, details: Any = None, **kw: Any) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message, "details": details}}, **kw)


class MockAPI:
    def __init__(self, default: Reply | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.replies: list[Reply] = []
        self.default: Reply = default if default is not None else httpx.Response(200, json={})

    def queue(self, *replies: Reply) -> MockAPI:
        self.replies.extend(replies)
        return self

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if self.replies else self.default
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return httpx.Response(reply.status_code, headers=reply.headers, content=reply.content, request=request)
        return reply(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self, index: int = -1) -> Any:
        content = self.requests[index].content
        return json.loads(content) if content else None

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def client(self, **kwargs: Any) -> AgentExchangeClient:
        kwargs.setdefault("api_key", KEY)
        http = httpx.Client(transport=self.transport(), base_url=kwargs.pop("http_base_url", BASE))
        return AgentExchangeClient(http_client=http, **kwargs)

    def async_client(self, **kwargs: Any) -> AsyncAgentExchangeClient:
        kwargs.setdefault("api_key", KEY)
        http = httpx.AsyncClient(transport=self.transport(), base_url=kwargs.pop("http_base_url", BASE))
        return AsyncAgentExchangeClient(http_client=http, **kwargs)
