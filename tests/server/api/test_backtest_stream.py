"""The step stream (``/api/v1/backtests/{id}/stream``, a WebSocket) on the real server, SQLite and PostgreSQL.

It must answer exactly what the step route answers, refuse what the route refuses (before the
upgrade), and keep the route's rules per message: authentication, rate limit, validation, commit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.server.api.test_backtests import START, _bars, store_candles
from tests.server.test_ratelimit import _wait_for_fresh_window
from tests.support.platform import AccountKey, LiveServer, create_account
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from agentexchange import (
    AgentExchangeClient,
    APIConnectionError,
    AsyncAgentExchangeClient,
    AuthenticationError,
    BacktestStream,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
    ValidationError,
)
from agentexchange._stream import stream_url
from tradeready_core.data import synthetic_candles

SESSION = {"symbols": ["BTCUSDT", "ETHUSDT"], "timeframe": "1h", "start_time": START, "end_time": _bars(40)}


@pytest.fixture
def client(live_server: LiveServer, account: AccountKey) -> Iterator[AgentExchangeClient]:
    store_candles(
        live_server.settings,
        synthetic_candles("BTCUSDT", "1h", START, 60, seed=21),
        synthetic_candles("ETHUSDT", "1h", START, 60, seed=22),
    )
    with AgentExchangeClient(api_key=account.api_key, base_url=live_server.url, max_retries=0) as sdk:
        yield sdk


def _new_session(client: AgentExchangeClient) -> str:
    return str(client.create_backtest(**SESSION, fee_rate=0.002, slippage_bps=3.0)["session_id"])  # type: ignore[arg-type]


def _plan(n: int) -> list[tuple[int, Any]]:
    """Varied step requests: row targets, holds, a mapping, several steps at once."""
    plan: list[tuple[int, Any]] = []
    for i in range(n):
        if i % 7 == 3:
            plan.append((3, None))
        elif i % 5 == 4:
            plan.append((1, {"ETHUSDT": 0.3}))
        else:
            plan.append((1, [round(0.1 * (i % 6), 2), None if i % 4 == 1 else 0.25]))
    return plan


def _without_id(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "session_id"}


def test_stream_answers_what_the_step_route_answers_and_commits_each_step(client: AgentExchangeClient) -> None:
    over_http, over_stream = _new_session(client), _new_session(client)
    answers_http = [_without_id(dict(client.step_backtest(over_http, n, t))) for n, t in _plan(12)]
    with client.stream_backtest(over_stream) as stream:
        assert isinstance(stream, BacktestStream) and stream.url.startswith("ws://")
        answers_stream = []
        for n, t in _plan(12):
            answers_stream.append(_without_id(dict(stream.step(n, t))))
            # committed before the answer: another connection reads the same step
            assert client.get_backtest(over_stream)["step"] == answers_stream[-1]["step"]
    assert answers_stream == answers_http
    assert answers_stream[-1]["step"] == 12 + 2 * 2  # two 3-step requests
    # both sessions end with identical results, whichever way they were stepped
    for sid in (over_http, over_stream):
        client.step_backtest(sid, 40 - answers_stream[-1]["step"])
    results = [client.get_backtest_results(sid) for sid in (over_http, over_stream)]
    assert results[0]["metrics"] == results[1]["metrics"] and results[0]["metrics"]["total_trades"] > 5


def test_refused_handshakes_raise_what_the_route_would(
    client: AgentExchangeClient, live_server: LiveServer, other_account: AccountKey
) -> None:
    sid = _new_session(client)
    with pytest.raises(NotFoundError) as unknown:
        client.stream_backtest("bt_0000000000000000")
    assert unknown.value.code == "session_not_found" and "bt_0000000000000000" in unknown.value.message
    with AgentExchangeClient(api_key=other_account.api_key, base_url=live_server.url) as mallory:
        with pytest.raises(NotFoundError) as foreign:
            mallory.stream_backtest(sid)
        assert foreign.value.code == "session_not_found" and foreign.value.status_code == 404
    stranger = AgentExchangeClient(api_key="ak_live_" + "0" * 43, base_url=live_server.url)
    with stranger, pytest.raises(AuthenticationError, match="Invalid or revoked API key"):
        stranger.stream_backtest(sid)
    # a raw client without any key: HTTP 401 with the error envelope, never an upgrade
    with pytest.raises(InvalidStatus) as raw:
        connect(stream_url(client.base_url, sid), open_timeout=10).__enter__()
    assert raw.value.response.status_code == 401
    assert json.loads(raw.value.response.body or b"")["error"]["code"] == "unauthorized"
    assert client.get_backtest(sid)["step"] == 0  # nothing was stepped
    with pytest.raises(APIConnectionError, match="Could not open the step stream"):
        AgentExchangeClient(api_key="ak_live_" + "1" * 43, base_url="http://127.0.0.1:9").stream_backtest(sid)


def test_an_error_answers_one_message_and_the_stream_stays_open(client: AgentExchangeClient) -> None:
    sid = _new_session(client)
    with client.stream_backtest(sid) as stream:
        with pytest.raises(ValidationError) as bad_targets:
            stream.step(1, [0.5, 0.5, 0.5])  # three weights for two symbols
        assert bad_targets.value.status_code == 422 and bad_targets.value.code
        raw = stream._ws  # the wire format, as any client sees it
        raw.send('{"steps": "x"}')
        answer = json.loads(raw.recv(timeout=10))
        assert answer["status"] == 422 and answer["error"]["code"] == "validation_error"
        assert answer["error"]["details"][0]["field"] == "steps" and answer["error"]["details"][0]["received"] == "x"
        raw.send(b"not json")
        assert json.loads(raw.recv(timeout=10))["error"]["code"] == "validation_error"
        assert stream.step(1, [0.5, 0.0])["step"] == 1  # still open, nothing half-applied
        assert stream.step(39)["done"] is True
        with pytest.raises(ConflictError):
            stream.step()
    assert client.get_backtest(sid)["status"] == "completed"


def test_every_message_is_authenticated_and_rate_limited(
    client: AgentExchangeClient, live_server: LiveServer, account: AccountKey
) -> None:
    sid = _new_session(client)
    spare = client.create_key("spare")
    with AgentExchangeClient(api_key=spare["api_key"], base_url=live_server.url, max_retries=0) as other_key:
        stream = other_key.stream_backtest(sid)
        assert stream.step()["step"] == 1
        client.revoke_key(spare["key_id"])
        with pytest.raises(AuthenticationError, match="Invalid or revoked API key"):
            stream.step()
        stream.close()
        stream.close()  # idempotent
    assert client.get_backtest(sid)["step"] == 1


@pytest.fixture
def limited_server(live_server: LiveServer) -> Iterator[LiveServer]:
    settings = live_server.settings.model_copy(update={"rate_limit_per_minute": 4, "max_body_bytes": 2048})
    server = LiveServer(settings).start()
    try:
        yield server
    finally:
        server.stop()


def test_rate_limit_and_size_limit_apply_to_each_message(
    client: AgentExchangeClient, live_server: LiveServer, limited_server: LiveServer
) -> None:
    carol = create_account(limited_server.settings, "carol")  # a fresh key: nothing counted yet
    _wait_for_fresh_window()
    with AgentExchangeClient(api_key=carol.api_key, base_url=limited_server.url, max_retries=0) as limited:
        sid = _new_session(limited)  # request 1 of 4
        with limited.stream_backtest(sid) as stream:  # 2: the handshake
            assert stream.step()["step"] == 1  # 3
            raw = stream._ws
            raw.send(json.dumps({"steps": 1, "targets": [0.1] * 2000}))  # over 2,048 bytes: refused unread
            too_large = json.loads(raw.recv(timeout=10))
            assert too_large["status"] == 413 and too_large["error"]["code"] == "payload_too_large"
            with pytest.raises(PayloadTooLargeError, match="at most 2048 bytes"):
                stream.step(1, {"BTCUSDT": 0.1, **{f"X{i:04d}USDT": 0.1 for i in range(150)}})
            assert stream.step()["step"] == 2  # 4
            with pytest.raises(RateLimitError) as limited_step:
                stream.step()
            assert limited_step.value.code == "rate_limited" and limited_step.value.retry_after is not None
            assert 1 <= limited_step.value.retry_after <= 60
    with AgentExchangeClient(api_key=carol.api_key, base_url=live_server.url, max_retries=0) as unlimited:
        assert unlimited.get_backtest(sid)["step"] == 2  # the 413s and the 429 changed nothing


def test_async_client_streams_the_same_steps(client: AgentExchangeClient, account: AccountKey) -> None:
    sid_sync, sid_async = _new_session(client), _new_session(client)
    with client.stream_backtest(sid_sync) as stream:
        expected = [_without_id(dict(stream.step(n, t))) for n, t in _plan(6)]

    async def run() -> list[dict[str, Any]]:
        async with AsyncAgentExchangeClient(api_key=account.api_key, base_url=client.base_url) as aclient:
            astream = await aclient.stream_backtest(sid_async)
            async with astream:
                got = [_without_id(dict(await astream.step(n, t))) for n, t in _plan(6)]
                with pytest.raises(ValidationError):
                    await astream.step(1, [0.1, 0.2, 0.3])
                return got

    assert asyncio.run(run()) == expected
    assert httpx.get(client.base_url + "/health").status_code == 200
