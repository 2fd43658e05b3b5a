"""Retry policy: only what is safe to repeat, with backoff, honouring Retry-After."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from agentexchange import (
    APIConnectionError,
    APITimeoutError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from agentexchange._base import RetryPolicy
from tests.sdk._mock import MockAPI, envelope

RUNS = httpx.Response(200, json={"runs": [{"run_id": "run_1"}]})
BACKTEST = dict(symbols=["BTCUSDT"], timeframe="1h", start_time="2025-01-01", end_time="2025-02-01")


def test_get_is_retried_on_503(api: MockAPI, sleeps: list[float]) -> None:
    api.queue(envelope(503, "unavailable", "busy"), RUNS)
    assert api.client().get_training_runs() == [{"run_id": "run_1"}]
    assert len(api.requests) == 2
    assert len(sleeps) == 1 and 0.375 <= sleeps[0] <= 0.5


def test_429_waits_for_retry_after(api: MockAPI, sleeps: list[float]) -> None:
    api.queue(envelope(429, "rate_limited", "slow down", headers={"Retry-After": "3"}), RUNS)
    assert api.client().get_training_runs() == [{"run_id": "run_1"}]
    assert sleeps == [3.0]


def test_503_with_retry_after_is_honoured(api: MockAPI, sleeps: list[float]) -> None:
    api.queue(httpx.Response(503, headers={"Retry-After": "1.5"}), RUNS)
    api.client().get_training_runs()
    assert sleeps == [1.5]


def test_retry_after_beyond_the_cap_is_raised_at_once(api: MockAPI, sleeps: list[float]) -> None:
    api.queue(envelope(429, "rate_limited", "come back later", headers={"Retry-After": "3600"}), RUNS)
    with pytest.raises(RateLimitError) as info:
        api.client().get_training_runs()
    assert info.value.retry_after == 3600.0
    assert sleeps == [] and len(api.requests) == 1


def test_non_idempotent_post_is_not_retried_on_500(api: MockAPI, sleeps: list[float]) -> None:
    api.queue(envelope(500, "internal_error", "boom"), httpx.Response(201, json={"session_id": "bt_1"}))
    with pytest.raises(ServerError):
        api.client().create_backtest(**BACKTEST)
    assert len(api.requests) == 1 and sleeps == []


def test_non_idempotent_post_is_not_retried_after_a_lost_answer(api: MockAPI, sleeps: list[float]) -> None:
    api.queue(httpx.ReadTimeout("no answer"), httpx.Response(200, json={}))
    with pytest.raises(APITimeoutError):
        api.client().step_backtest("bt_1")
    assert len(api.requests) == 1 and sleeps == []


def test_non_idempotent_post_is_retried_on_429(api: MockAPI, sleeps: list[float]) -> None:
    """A rate-limited request never ran, so repeating it is safe."""
    api.queue(envelope(429, "rate_limited", "wait", headers={"Retry-After": "0"}), httpx.Response(200, json={}))
    api.client().step_backtest("bt_1", steps=5)
    assert len(api.requests) == 2 and sleeps == [0.0]
    assert api.body(0) == api.body(1) == {"steps": 5}


def test_refused_connection_is_retried_even_for_a_post(api: MockAPI, sleeps: list[float]) -> None:
    api.queue(httpx.ConnectError("refused"), httpx.Response(201, json={"session_id": "bt_1"}))
    assert api.client().create_backtest(**BACKTEST) == {"session_id": "bt_1"}
    assert len(api.requests) == 2


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.report_episodes("run_1", [{"episode": 1, "roi_pct": 1.0}]),
        lambda c: c.report_episode("run_1", {"episode": 1, "roi_pct": 1.0}),
        lambda c: c.complete_training_run("run_1"),
        lambda c: c.create_training_run(run_id="run_1", strategy_label="ppo"),
        lambda c: c.send_heartbeat("run_1", step=1, episode=1, episode_steps=1, steps_per_second=9.0),
        lambda c: c.cancel_backtest("bt_1"),
        lambda c: c.cancel_order("bt_1", "o_1"),
        lambda c: c.revoke_key("key_1"),
    ],
)
def test_idempotent_writes_are_retried_on_5xx(api: MockAPI, sleeps: list[float], call: object) -> None:
    api.queue(envelope(502, "bad_gateway", "proxy"), httpx.ReadTimeout("lost"), httpx.Response(200, json={}))
    assert call(api.client()) == {}  # type: ignore[operator]
    assert len(api.requests) == 3
    assert api.requests[0].content == api.requests[2].content


def test_registering_without_a_run_id_is_not_retried(api: MockAPI, sleeps: list[float]) -> None:
    api.queue(envelope(500, "internal_error", "boom"))
    with pytest.raises(ServerError):
        api.client().create_training_run(strategy_label="ppo")
    assert len(api.requests) == 1


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_max_retries_is_honoured(sleeps: list[float], max_retries: int) -> None:
    api = MockAPI(default=envelope(503, "unavailable", "down"))
    with pytest.raises(ServerError):
        api.client(max_retries=max_retries).get_account()
    assert len(api.requests) == max_retries + 1
    assert len(sleeps) == max_retries
    for attempt, delay in enumerate(sleeps):
        assert 0.75 * 0.5 * 2**attempt <= delay <= 0.5 * 2**attempt


def test_connection_errors_exhaust_into_api_connection_error(sleeps: list[float]) -> None:
    api = MockAPI(default=httpx.ConnectError("refused"))
    with pytest.raises(APIConnectionError, match="Could not reach") as info:
        api.client(max_retries=2).get_account()
    assert len(api.requests) == 3
    assert isinstance(info.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize("status", [400, 401, 404, 409, 413, 422])
def test_client_errors_are_not_retried(api: MockAPI, sleeps: list[float], status: int) -> None:
    api.queue(envelope(status, "x", "no"), RUNS)
    with pytest.raises(Exception, match=f"{status} x: no"):
        api.client().get_training_runs()
    assert len(api.requests) == 1 and sleeps == []


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(max_retries=20, initial_delay=0.5, max_delay=8.0, jitter=0.0)
    assert [policy.backoff(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_async_client_retries_the_same_way(sleeps: list[float]) -> None:
    api = MockAPI().queue(
        envelope(503, "unavailable", "busy"),
        envelope(429, "rate_limited", "wait", headers={"Retry-After": "2"}),
        RUNS,
    )

    async def main() -> object:
        async with api.async_client() as client:
            return await client.get_training_runs()

    assert asyncio.run(main()) == [{"run_id": "run_1"}]
    assert len(api.requests) == 3 and sleeps[1] == 2.0


def test_async_client_does_not_retry_a_non_idempotent_post(sleeps: list[float]) -> None:
    api = MockAPI().queue(envelope(500, "internal_error", "boom"))

    async def main() -> None:
        async with api.async_client() as client:
            await client.step_backtest("bt_1")

    with pytest.raises(ServerError):
        asyncio.run(main())
    assert len(api.requests) == 1 and sleeps == []


def test_async_connection_error(sleeps: list[float]) -> None:
    api = MockAPI(default=httpx.ConnectError("refused"))

    async def main() -> None:
        async with api.async_client(max_retries=1) as client:
            await client.get_account()

    with pytest.raises(APIConnectionError):
        asyncio.run(main())
    assert len(api.requests) == 2 and len(sleeps) == 1


def test_not_found_is_raised_after_a_retry(api: MockAPI, sleeps: list[float]) -> None:
    api.queue(httpx.Response(500), envelope(404, "run_not_found", "no run 'run_x'"))
    with pytest.raises(NotFoundError, match="run_not_found"):
        api.client().get_training_run("run_x")
    assert len(api.requests) == 2


def test_validation_error_details_survive(api: MockAPI) -> None:
    details = [{"field": "metric", "message": "unknown metric", "allowed": ["roi_pct"]}]
    api.queue(envelope(422, "validation_error", "bad metric", details))
    with pytest.raises(ValidationError) as info:
        api.client().get_learning_curve("run_x")
    assert info.value.details == details
