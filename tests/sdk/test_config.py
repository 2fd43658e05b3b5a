"""Key and URL resolution, key masking, public endpoints without a key, client lifecycle."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from agentexchange import (
    AgentExchangeClient,
    AsyncAgentExchangeClient,
    InvalidArgumentError,
    MissingAPIKeyError,
)
from agentexchange._config import mask_api_key
from tests.sdk._mock import BASE, KEY, MockAPI


def _client_on(api: MockAPI, **kwargs: object) -> AgentExchangeClient:
    """A client that builds its own URLs (the injected client has no base URL)."""
    return AgentExchangeClient(http_client=httpx.Client(transport=api.transport()), **kwargs)  # type: ignore[arg-type]


def test_sends_the_key_in_x_api_key(api: MockAPI) -> None:
    api.client().get_account()
    assert api.last.headers["X-API-Key"] == KEY
    assert api.last.headers["Accept"] == "application/json"
    assert api.last.headers["User-Agent"].startswith("agentexchange/")


def test_explicit_key_beats_the_environment(api: MockAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEREADY_API_KEY", "ak_live_from_env_000000000000")
    api.client(api_key="ak_live_explicit_00000000000").get_account()
    assert api.last.headers["X-API-Key"] == "ak_live_explicit_00000000000"


def test_key_comes_from_the_environment(api: MockAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEREADY_API_KEY", "  ak_live_from_env_000000000000\n")
    api.client(api_key=None).get_account()
    assert api.last.headers["X-API-Key"] == "ak_live_from_env_000000000000"


def test_missing_key_says_how_to_create_one_and_sends_nothing(api: MockAPI) -> None:
    client = api.client(api_key=None)
    assert not client.has_api_key
    with pytest.raises(MissingAPIKeyError) as info:
        client.get_training_runs()
    message = str(info.value)
    assert "TRADEREADY_API_KEY" in message
    assert "tradeready init" in message
    assert "tradeready keys create" in message
    assert api.requests == []


def test_public_endpoints_work_without_a_key(api: MockAPI) -> None:
    api.queue(httpx.Response(200, json={"status": "ok"}), httpx.Response(200, json={"name": "tradeready"}))
    client = api.client(api_key=None)
    assert client.health() == {"status": "ok"}
    assert client.meta()["name"] == "tradeready"
    assert all("X-API-Key" not in r.headers for r in api.requests)


def test_default_base_url(api: MockAPI) -> None:
    client = _client_on(api, api_key=KEY)
    client.health()
    assert str(api.last.url) == "http://localhost:8000/api/v1/health"
    assert client.base_url == "http://localhost:8000/api/v1"


def test_base_url_from_the_environment(api: MockAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEREADY_BASE_URL", "http://envhost:9000")
    _client_on(api).health()
    assert str(api.last.url) == "http://envhost:9000/api/v1/health"


def test_explicit_base_url_beats_the_environment(api: MockAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEREADY_BASE_URL", "http://envhost:9000")
    _client_on(api, base_url="https://arg.example/").health()
    assert str(api.last.url) == "https://arg.example/api/v1/health"


@pytest.mark.parametrize(
    "base_url",
    ["http://h:1", "http://h:1/", "http://h:1/api/v1", "http://h:1/api/v1/"],
)
def test_api_prefix_is_added_once(api: MockAPI, base_url: str) -> None:
    _client_on(api, base_url=base_url).health()
    assert str(api.last.url) == "http://h:1/api/v1/health"


def test_base_url_under_a_path_prefix(api: MockAPI) -> None:
    _client_on(api, base_url="https://proxy.example/tradeready").health()
    assert str(api.last.url) == "https://proxy.example/tradeready/api/v1/health"


@pytest.mark.parametrize("base_url", ["localhost:8000", "ftp://h", "not a url", ""])
def test_bad_base_url_is_named(base_url: str) -> None:
    with pytest.raises(InvalidArgumentError, match="base_url must be an http"):
        AgentExchangeClient(base_url=base_url)


def test_injected_client_keeps_its_own_base_url(api: MockAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEREADY_BASE_URL", "http://envhost:9000")
    client = api.client()
    client.health()
    assert str(api.last.url) == f"{BASE}/api/v1/health"
    assert client.base_url == f"{BASE}/api/v1"


def test_injected_client_already_under_the_api_prefix(api: MockAPI) -> None:
    api.client(http_base_url=f"{BASE}/api/v1/").health()
    assert str(api.last.url) == f"{BASE}/api/v1/health"


def test_base_url_argument_overrides_the_injected_clients(api: MockAPI) -> None:
    api.client(base_url="http://other:7000").health()
    assert str(api.last.url) == "http://other:7000/api/v1/health"


def test_repr_masks_the_key() -> None:
    client = AgentExchangeClient(api_key=KEY, base_url="http://h:1")
    text = repr(client)
    assert KEY not in text
    assert KEY[8:-4] not in text
    assert "ak_live_...cdef" in text
    assert "http://h:1/api/v1" in text
    client.close()


def test_repr_without_a_key() -> None:
    with AgentExchangeClient(base_url="http://h:1") as client:
        assert "api_key=None" in repr(client)


def test_async_repr_masks_the_key() -> None:
    client = AsyncAgentExchangeClient(api_key=KEY, base_url="http://h:1")
    assert KEY not in repr(client)
    asyncio.run(client.close())


def test_api_key_is_the_explicit_key_the_client_sends(api: MockAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEREADY_API_KEY", "ak_live_from_env_000000000000")
    client = api.client(api_key=KEY)
    assert client.api_key == KEY
    assert client.with_options(timeout=1.0).api_key == KEY
    client.get_account()
    assert api.last.headers["X-API-Key"] == client.api_key


def test_api_key_from_the_environment(api: MockAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEREADY_API_KEY", "  ak_live_from_env_000000000000\n")
    client = api.client(api_key=None)
    assert client.api_key == "ak_live_from_env_000000000000"
    monkeypatch.setenv("TRADEREADY_API_KEY", "ak_live_changed_later_0000000")
    assert client.api_key == "ak_live_from_env_000000000000"  # read once, at construction


@pytest.mark.parametrize("env_value", [None, "", "   "])
def test_api_key_is_none_without_a_key(api: MockAPI, monkeypatch: pytest.MonkeyPatch, env_value: str | None) -> None:
    if env_value is not None:
        monkeypatch.setenv("TRADEREADY_API_KEY", env_value)
    client = api.client(api_key=None)
    assert client.api_key is None
    assert not client.has_api_key


def test_api_key_is_read_only_and_repr_still_masks_it() -> None:
    with AgentExchangeClient(api_key=KEY, base_url="http://h:1") as client:
        with pytest.raises(AttributeError):
            client.api_key = "ak_live_other_0000000000000"  # type: ignore[misc]
        assert client.api_key == KEY
        assert KEY not in repr(client) and "ak_live_...cdef" in repr(client)
        assert KEY not in str(client)


def test_async_client_api_key() -> None:
    client = AsyncAgentExchangeClient(api_key=KEY, base_url="http://h:1")
    assert client.api_key == KEY
    assert KEY not in repr(client)
    asyncio.run(client.close())
    keyless = AsyncAgentExchangeClient(base_url="http://h:1")
    assert keyless.api_key is None
    asyncio.run(keyless.close())


@pytest.mark.parametrize(
    ("key", "masked"),
    [(None, None), ("short", "***"), (KEY, "ak_live_...cdef"), ("sk-0123456789abcdefXYZW", "...XYZW")],
)
def test_mask_api_key(key: str | None, masked: str | None) -> None:
    assert mask_api_key(key) == masked


def test_the_key_is_never_logged(api: MockAPI, caplog: pytest.LogCaptureFixture, sleeps: list[float]) -> None:
    api.queue(httpx.Response(503), httpx.Response(200, json={"runs": []}))
    with caplog.at_level(logging.DEBUG):
        api.client().get_training_runs()
    assert "Retrying GET /api/v1/training/runs" in caplog.text
    assert KEY not in caplog.text


def test_close_closes_only_an_owned_client(api: MockAPI) -> None:
    own = AgentExchangeClient(api_key=KEY)
    own.close()
    assert own._http.is_closed

    injected = httpx.Client(transport=api.transport())
    with AgentExchangeClient(api_key=KEY, http_client=injected):
        pass
    assert not injected.is_closed


def test_async_context_manager_closes_an_owned_client() -> None:
    async def main() -> AsyncAgentExchangeClient:
        async with AsyncAgentExchangeClient(api_key=KEY) as client:
            return client

    client = asyncio.run(main())
    assert client._http.is_closed


def test_wrong_kind_of_http_client_is_rejected() -> None:
    with pytest.raises(TypeError, match=r"must be an httpx\.Client, got httpx\.AsyncClient"):
        AgentExchangeClient(http_client=httpx.AsyncClient())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"must be an httpx\.AsyncClient, got httpx\.Client"):
        AsyncAgentExchangeClient(http_client=httpx.Client())  # type: ignore[arg-type]


@pytest.mark.parametrize("max_retries", [-1, 1.5, True])
def test_bad_max_retries(max_retries: object) -> None:
    with pytest.raises(InvalidArgumentError, match="max_retries must be an integer >= 0"):
        AgentExchangeClient(max_retries=max_retries)  # type: ignore[arg-type]


def test_with_options_shares_the_connections(api: MockAPI, sleeps: list[float]) -> None:
    client = api.client(max_retries=5, timeout=12.0)
    quick = client.with_options(max_retries=0, timeout=1.5)
    assert (quick.max_retries, quick.timeout) == (0, 1.5)
    assert (client.max_retries, client.timeout) == (5, 12.0)
    api.queue(httpx.Response(503))
    with pytest.raises(Exception, match="503"):
        quick.get_account()
    assert len(api.requests) == 1
    quick.close()
    assert not client._http.is_closed
    assert api.last.extensions["timeout"]["read"] == 1.5


def test_timeout_is_sent_with_every_request(api: MockAPI) -> None:
    api.client(timeout=7.0).get_account()
    assert api.last.extensions["timeout"] == {"connect": 7.0, "read": 7.0, "write": 7.0, "pool": 7.0}
