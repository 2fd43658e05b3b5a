"""SDK evaluation methods: resends are safe only with a client-chosen evaluation_id; argument checks."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from agentexchange import InvalidArgumentError, ServerError
from tests.sdk._mock import MockAPI, envelope

STORED = httpx.Response(201, json={"evaluation_id": "eval_1", "beats_buy_and_hold": False})


def test_record_with_a_client_id_is_retried(api: MockAPI, sleeps: list[float]) -> None:
    api.queue(envelope(503, "unavailable", "busy"), STORED)
    answer = api.client().record_evaluation({"evaluation_id": "eval_1", "model": "PPO"})
    assert answer["evaluation_id"] == "eval_1"
    assert len(api.requests) == 2 and len(sleeps) == 1
    assert api.body(0) == api.body(1)


def test_record_without_a_client_id_is_not_retried(api: MockAPI, sleeps: list[float]) -> None:
    api.queue(envelope(500, "internal_error", "boom"), STORED)
    with pytest.raises(ServerError):
        api.client().record_evaluation({"model": "PPO"})
    assert len(api.requests) == 1 and sleeps == []


def test_async_record_is_retried_alike(api: MockAPI, sleeps: list[float]) -> None:
    api.queue(envelope(503, "unavailable", "busy"), STORED)

    async def main() -> str:
        async with api.async_client() as client:
            answer = await client.record_evaluation({"evaluation_id": "eval_1"})
            return answer["evaluation_id"]

    assert asyncio.run(main()) == "eval_1"
    assert len(api.requests) == 2


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.record_evaluation([1, 2]), "payload must be a dict, got list"),
        (lambda c: c.get_evaluation(""), "evaluation_id must be a non-empty string"),
        (lambda c: c.list_evaluations(run_id=""), "run_id must be a non-empty string"),
        (lambda c: c.list_evaluations(limit=0), "limit must be an integer >= 1, got 0"),
    ],
)
def test_bad_arguments_fail_before_any_request(api: MockAPI, call: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        call(api.client())  # type: ignore[operator]
    assert api.requests == []


def test_evaluation_ids_are_one_path_segment(api: MockAPI) -> None:
    api.client().get_evaluation("eval_1/../../keys")
    assert api.last.url.raw_path == b"/api/v1/evaluations/eval_1%2F..%2F..%2Fkeys"
