"""Fixtures of the SDK's unit tests: a mock platform and a clean environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentexchange import AgentExchangeClient, AsyncAgentExchangeClient
from tests.sdk._mock import MockAPI


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's TRADEREADY_API_KEY / TRADEREADY_BASE_URL."""
    monkeypatch.delenv("TRADEREADY_API_KEY", raising=False)
    monkeypatch.delenv("TRADEREADY_BASE_URL", raising=False)


@pytest.fixture
def api() -> MockAPI:
    return MockAPI()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Record the retry waits of both clients instead of sleeping."""
    recorded: list[float] = []

    async def async_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(AgentExchangeClient, "_sleep", staticmethod(recorded.append))
    monkeypatch.setattr(AsyncAgentExchangeClient, "_sleep", staticmethod(async_sleep))
    yield recorded
