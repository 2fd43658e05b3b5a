"""The error envelope mapped to the exception hierarchy, and malformed answers."""

from __future__ import annotations

import email.utils
import importlib.metadata
import pickle
import time

import httpx
import pytest

import agentexchange
from agentexchange import (
    AgentExchangeError,
    APIConnectionError,
    APIResponseError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InvalidArgumentError,
    MissingAPIKeyError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from agentexchange._errors import parse_retry_after
from tests.sdk._mock import MockAPI, envelope

STATUS_CASES = [
    (400, "bad_request", BadRequestError),
    (401, "unauthorized", AuthenticationError),
    (403, "forbidden", PermissionDeniedError),
    (404, "run_not_found", NotFoundError),
    (409, "run_not_running", ConflictError),
    (413, "payload_too_large", PayloadTooLargeError),
    (422, "validation_error", ValidationError),
    (429, "rate_limited", RateLimitError),
    (500, "internal_error", ServerError),
    (502, "bad_gateway", ServerError),
    (503, "unavailable", ServerError),
    (504, "gateway_timeout", ServerError),
]


def test_hierarchy() -> None:
    for cls in (APIConnectionError, APIStatusError, MissingAPIKeyError, InvalidArgumentError, APIResponseError):
        assert issubclass(cls, AgentExchangeError)
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(InvalidArgumentError, ValueError)
    for _, _, cls in STATUS_CASES:
        assert issubclass(cls, APIStatusError)
    assert NotFoundError.__module__ == "agentexchange"


@pytest.mark.parametrize(("status", "code", "cls"), STATUS_CASES)
def test_status_maps_to_exception(api: MockAPI, status: int, code: str, cls: type[APIStatusError]) -> None:
    details = [{"field": "window", "message": "must be >= 1", "allowed": ">= 1"}]
    api.queue(envelope(status, code, "Something precise", details))
    with pytest.raises(cls) as info:
        api.client(max_retries=0).get_training_run("run_abc123")
    exc = info.value
    assert type(exc) is cls
    assert (exc.status_code, exc.code, exc.message, exc.details) == (status, code, "Something precise", details)
    assert exc.response is not None and exc.response.status_code == status
    assert str(exc) == f"GET /api/v1/training/runs/run_abc123 -> {status} {code}: Something precise"


def test_unlisted_4xx_is_the_base_status_error(api: MockAPI) -> None:
    api.queue(envelope(405, "method_not_allowed", "No route"))
    with pytest.raises(APIStatusError) as info:
        api.client().get_account()
    assert type(info.value) is APIStatusError
    assert info.value.code == "method_not_allowed"


def test_rate_limit_error_carries_retry_after(api: MockAPI) -> None:
    api.queue(envelope(429, "rate_limited", "Slow down", headers={"Retry-After": "7"}))
    with pytest.raises(RateLimitError) as info:
        api.client(max_retries=0).get_account()
    assert info.value.retry_after == 7.0


def test_rate_limit_error_without_retry_after(api: MockAPI) -> None:
    api.queue(envelope(429, "rate_limited", "Slow down"))
    with pytest.raises(RateLimitError) as info:
        api.client(max_retries=0).get_account()
    assert info.value.retry_after is None


def test_non_json_error_body(api: MockAPI) -> None:
    api.queue(httpx.Response(502, text="<html>Bad Gateway from nginx</html>"))
    with pytest.raises(ServerError) as info:
        api.client(max_retries=0).get_account()
    assert info.value.code is None
    assert info.value.message == "<html>Bad Gateway from nginx</html>"
    assert info.value.details is None


def test_empty_error_body_uses_the_reason_phrase(api: MockAPI) -> None:
    api.queue(httpx.Response(404))
    with pytest.raises(NotFoundError) as info:
        api.client().get_account()
    assert info.value.message == "Not Found"
    assert info.value.code is None


def test_long_non_json_body_is_truncated(api: MockAPI) -> None:
    api.queue(httpx.Response(400, text="x" * 5000))
    with pytest.raises(BadRequestError) as info:
        api.client().get_account()
    assert len(info.value.message) < 400


def test_framework_detail_string(api: MockAPI) -> None:
    api.queue(httpx.Response(401, json={"detail": "Not authenticated"}))
    with pytest.raises(AuthenticationError) as info:
        api.client().get_account()
    assert (info.value.code, info.value.message) == (None, "Not authenticated")


def test_framework_detail_list(api: MockAPI) -> None:
    detail = [{"loc": ["query", "window"], "msg": "bad"}]
    api.queue(httpx.Response(422, json={"detail": detail}))
    with pytest.raises(ValidationError) as info:
        api.client().get_account()
    assert info.value.details == detail
    assert info.value.message == "Unprocessable Entity"


@pytest.mark.parametrize("body", [[1, 2], {"error": "plain string"}, {"error": {"code": "x"}}, "text"])
def test_json_body_that_is_not_the_envelope(api: MockAPI, body: object) -> None:
    api.queue(httpx.Response(400, json=body))
    with pytest.raises(BadRequestError) as info:
        api.client().get_account()
    assert info.value.code is None
    assert info.value.message == "Bad Request"


def test_success_body_that_is_not_json(api: MockAPI) -> None:
    api.queue(httpx.Response(200, text="<html>dashboard</html>", headers={"Content-Type": "text/html"}))
    with pytest.raises(APIResponseError, match=r"not JSON \(text/html\).*base_url") as info:
        api.client().get_account()
    assert isinstance(info.value.__cause__, ValueError)


def test_success_body_of_the_wrong_shape(api: MockAPI) -> None:
    api.queue(httpx.Response(200, json=[1, 2, 3]))
    with pytest.raises(APIResponseError, match="expected a JSON object, got list"):
        api.client().get_training_run("run_x")


def test_collection_without_its_key(api: MockAPI) -> None:
    api.queue(httpx.Response(200, json={"items": []}))
    with pytest.raises(APIResponseError, match=r"expected a list under 'runs', got keys \['items'\]"):
        api.client().get_training_runs()


def test_connection_error_names_the_url_and_how_to_start(api: MockAPI) -> None:
    api.queue(httpx.ConnectError("Connection refused"))
    with pytest.raises(APIConnectionError) as info:
        api.client(max_retries=0).get_account()
    message = str(info.value)
    assert "http://platform.test:8000" in message
    assert "tradeready serve" in message
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert info.value.request.url.path == "/api/v1/account"


def test_timeout_is_an_api_timeout_error(api: MockAPI) -> None:
    api.queue(httpx.ReadTimeout("slow"))
    with pytest.raises(APITimeoutError, match="timed out") as info:
        api.client(max_retries=0).get_account()
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8.0 <= (parse_retry_after(in_ten) or 0) <= 10.0


def test_every_public_name_is_exported() -> None:
    public = {name for name in dir(agentexchange) if not name.startswith("_")} - {"types"}
    assert public == set(agentexchange.__all__) - {"__version__"}
    assert agentexchange.__version__ == importlib.metadata.version("agentexchange")


@pytest.mark.parametrize(
    "reply",
    [
        envelope(429, "rate_limited", "Slow down", [{"field": "x"}], headers={"Retry-After": "2"}),
        envelope(404, "run_not_found", "No run"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
)
def test_errors_survive_pickling(reply: httpx.Response | Exception) -> None:
    """A worker process (SubprocVecEnv) can send an SDK error back to the trainer."""
    api = MockAPI().queue(reply)
    with pytest.raises(AgentExchangeError) as info:
        api.client(max_retries=0).get_training_run("run_1")
    error = info.value
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    fields = ("status_code", "code", "message", "details", "retry_after")
    assert [getattr(copy, f, None) for f in fields] == [getattr(error, f, None) for f in fields]


def test_missing_key_error_survives_pickling() -> None:
    copy = pickle.loads(pickle.dumps(MissingAPIKeyError()))
    assert "tradeready keys create" in str(copy)
