"""Every method's request (verb, path, query, body) and result, through both clients alike."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from agentexchange import AgentExchangeClient, AsyncAgentExchangeClient, InvalidArgumentError
from tests.sdk._mock import KEY, MockAPI

RUN = {
    "run_id": "run_abc123",
    "strategy_label": "ppo_v1",
    "status": "completed",
    "total_episodes": 247,
    "avg_roi_pct": 3.8,
    "avg_sharpe": 1.2,
    "started_at": "2026-03-01T10:00:00Z",
    "completed_at": "2026-03-01T11:42:00Z",
}
CURVE = {"metric": "roi_pct", "window": 10, "curve": [{"episode": 1, "value": -1.2, "smoothed": -1.2}]}


@dataclass
class Case:
    """One method call, the request it must make, and what the platform answers."""

    call: Callable[[Any], Any]
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    answer: Any = field(default_factory=dict)
    result: Any = None
    authenticated: bool = True

    def expected_result(self) -> Any:
        return self.answer if self.result is None else self.result


CASES: dict[str, Case] = {
    "health": Case(lambda c: c.health(), "GET", "/health", answer={"status": "ok"}, authenticated=False),
    "meta": Case(lambda c: c.meta(), "GET", "/meta", answer={"name": "tradeready"}, authenticated=False),
    "get_account": Case(lambda c: c.get_account(), "GET", "/account", answer={"account_id": "acc_1"}),
    "list_keys": Case(
        lambda c: c.list_keys(), "GET", "/keys", answer={"keys": [{"key_id": "k1"}]}, result=[{"key_id": "k1"}]
    ),
    "create_key": Case(
        lambda c: c.create_key("laptop"), "POST", "/keys", body={"name": "laptop"}, answer={"api_key": "ak_live_x"}
    ),
    "revoke_key": Case(lambda c: c.revoke_key("key_1"), "DELETE", "/keys/key_1", answer={"key_id": "key_1"}),
    "get_market_symbols": Case(
        lambda c: c.get_market_symbols(),
        "GET",
        "/market/symbols",
        answer={"datasets": [{"symbol": "BTCUSDT"}]},
        result=[{"symbol": "BTCUSDT"}],
    ),
    "get_candles": Case(
        lambda c: c.get_candles("BTCUSDT", "1h", start="2025-01-01T00:00:00Z", end=1735776000000),
        "GET",
        "/market/candles",
        params={"symbol": "BTCUSDT", "timeframe": "1h", "start": "2025-01-01T00:00:00Z", "end": "1735776000000"},
        answer={"symbol": "BTCUSDT", "open_time": [1], "close": [2.0]},
    ),
    "get_candles_whole_range": Case(
        lambda c: c.get_candles("ETHUSDT", "4h"),
        "GET",
        "/market/candles",
        params={"symbol": "ETHUSDT", "timeframe": "4h"},
    ),
    "create_backtest": Case(
        lambda c: c.create_backtest(
            symbols=["BTCUSDT", "ETHUSDT"],
            timeframe="1h",
            start_time=datetime(2025, 1, 1, tzinfo=UTC),
            end_time=datetime(2025, 7, 1, 2, tzinfo=timezone(timedelta(hours=2))),
        ),
        "POST",
        "/backtests",
        body={
            "symbols": ["BTCUSDT", "ETHUSDT"],
            "timeframe": "1h",
            "start_time": "2025-01-01T00:00:00Z",
            "end_time": "2025-07-01T00:00:00Z",
            "starting_balance": 10000.0,
            "fee_rate": 0.001,
            "slippage_bps": 5.0,
            "allow_short": False,
            "strategy_label": "default",
        },
        answer={"session_id": "bt_1"},
    ),
    "create_backtest_all_options": Case(
        lambda c: c.create_backtest(
            symbols="SOLUSDT",
            timeframe="15m",
            start_time="2025-01-01",
            end_time=datetime(2025, 2, 1),
            starting_balance=500,
            fee_rate=0.0,
            slippage_bps=0.0,
            allow_short=True,
            strategy_label="training:ppo",
            episode_length=256,
            seed=7,
            training_run_id="run_abc123",
            max_leverage=2.0,
        ),
        "POST",
        "/backtests",
        body={
            "symbols": ["SOLUSDT"],
            "timeframe": "15m",
            "start_time": "2025-01-01",
            "end_time": "2025-02-01T00:00:00Z",
            "starting_balance": 500,
            "fee_rate": 0.0,
            "slippage_bps": 0.0,
            "allow_short": True,
            "strategy_label": "training:ppo",
            "episode_length": 256,
            "seed": 7,
            "training_run_id": "run_abc123",
            "max_leverage": 2.0,
        },
    ),
    "get_backtest": Case(lambda c: c.get_backtest("bt_1"), "GET", "/backtests/bt_1", answer={"session_id": "bt_1"}),
    "list_backtests_defaults": Case(
        lambda c: c.list_backtests(),
        "GET",
        "/backtests",
        params={"limit": "50", "offset": "0"},
        answer={"backtests": [{"session_id": "bt_1"}]},
        result=[{"session_id": "bt_1"}],
    ),
    "list_backtests_filters": Case(
        lambda c: c.list_backtests(
            status="completed",
            strategy_label="rsi",
            exclude_label_prefix="ppo",
            source="gym",
            training_run_id="run_1",
            limit=5,
            offset=10,
        ),
        "GET",
        "/backtests",
        params={
            "status": "completed",
            "strategy_label": "rsi",
            "exclude_label_prefix": "ppo",
            "source": "gym",
            "training_run_id": "run_1",
            "limit": "5",
            "offset": "10",
        },
        answer={"sessions": []},
        result=[],
    ),
    "step_backtest": Case(
        lambda c: c.step_backtest("bt_1"), "POST", "/backtests/bt_1/step", body={"steps": 1}, answer={"step": 1}
    ),
    "step_backtest_targets": Case(
        lambda c: c.step_backtest("bt_1", steps=10, targets=(0.5, None)),
        "POST",
        "/backtests/bt_1/step",
        body={"steps": 10, "targets": [0.5, None]},
    ),
    "step_backtest_named_targets": Case(
        lambda c: c.step_backtest("bt_1", targets={"BTCUSDT": 1.0}),
        "POST",
        "/backtests/bt_1/step",
        body={"steps": 1, "targets": {"BTCUSDT": 1.0}},
    ),
    "place_order_market": Case(
        lambda c: c.place_order("bt_1", symbol="BTCUSDT", side="buy", quantity=0.1),
        "POST",
        "/backtests/bt_1/orders",
        body={"symbol": "BTCUSDT", "side": "buy", "type": "market", "quantity": 0.1},
        answer={"order_id": "o_1"},
    ),
    "place_order_limit": Case(
        lambda c: c.place_order("bt_1", symbol="BTCUSDT", side="sell", type="limit", quantity=2, price=65000.5),
        "POST",
        "/backtests/bt_1/orders",
        body={"symbol": "BTCUSDT", "side": "sell", "type": "limit", "quantity": 2, "price": 65000.5},
    ),
    "cancel_order": Case(
        lambda c: c.cancel_order("bt_1", "o_1"), "DELETE", "/backtests/bt_1/orders/o_1", answer={"status": "x"}
    ),
    "get_portfolio": Case(lambda c: c.get_portfolio("bt_1"), "GET", "/backtests/bt_1/portfolio", answer={"cash": 1}),
    "get_orders": Case(
        lambda c: c.get_orders("bt_1"), "GET", "/backtests/bt_1/orders", answer={"orders": []}, result=[]
    ),
    "get_trades": Case(lambda c: c.get_trades("bt_1"), "GET", "/backtests/bt_1/trades", answer=[{"price": 1.0}]),
    "get_trades_page": Case(
        lambda c: c.get_trades("bt_1", limit=100, offset=200),
        "GET",
        "/backtests/bt_1/trades",
        params={"limit": "100", "offset": "200"},
        answer={"trades": [{"price": 1.0}]},
        result=[{"price": 1.0}],
    ),
    "get_equity_curve": Case(
        lambda c: c.get_equity_curve("bt_1"), "GET", "/backtests/bt_1/equity-curve", answer={"equity": [1.0]}
    ),
    "get_backtest_results": Case(
        lambda c: c.get_backtest_results("bt_1"), "GET", "/backtests/bt_1/results", answer={"roi_pct": 1.5}
    ),
    "cancel_backtest": Case(
        lambda c: c.cancel_backtest("bt_1"), "POST", "/backtests/bt_1/cancel", body={}, answer={"status": "x"}
    ),
    "replay_episode": Case(
        lambda c: c.replay_episode({"symbols": ["BTCUSDT"], "targets": [[0.5], [None]]}),
        "POST",
        "/backtests/replay",
        body={"symbols": ["BTCUSDT"], "targets": [[0.5], [None]]},
        answer={"session_id": "bt_9"},
    ),
    "get_training_runs_defaults": Case(
        lambda c: c.get_training_runs(),
        "GET",
        "/training/runs",
        params={"limit": "20", "offset": "0"},
        answer={"runs": [RUN]},
        result=[RUN],
    ),
    "get_training_runs_filters": Case(
        lambda c: c.get_training_runs(status="running", limit=5, offset=15, strategy_label="ppo_v1"),
        "GET",
        "/training/runs",
        params={"status": "running", "limit": "5", "offset": "15", "strategy_label": "ppo_v1"},
        answer={"runs": []},
        result=[],
    ),
    "get_training_run": Case(
        lambda c: c.get_training_run(run_id="run_abc123"), "GET", "/training/runs/run_abc123", answer=RUN
    ),
    "get_training_run_page": Case(
        lambda c: c.get_training_run("run_abc123", episodes_limit=1000, episodes_offset=5000),
        "GET",
        "/training/runs/run_abc123",
        params={"episodes_limit": "1000", "episodes_offset": "5000"},
    ),
    "get_learning_curve": Case(
        lambda c: c.get_learning_curve("run_abc123"),
        "GET",
        "/training/runs/run_abc123/learning-curve",
        params={"metric": "roi_pct", "window": "10"},
        answer=CURVE,
    ),
    "get_learning_curve_options": Case(
        lambda c: c.get_learning_curve("run_abc123", metric="reward_sum", window=1, max_points=500),
        "GET",
        "/training/runs/run_abc123/learning-curve",
        params={"metric": "reward_sum", "window": "1", "max_points": "500"},
    ),
    "compare_training_runs": Case(
        lambda c: c.compare_training_runs(run_ids=["run_ppo_v1", "run_dqn_v1"]),
        "GET",
        "/training/compare",
        params={"run_ids": "run_ppo_v1,run_dqn_v1"},
        answer={"runs": [RUN], "best": {"avg_roi_pct": "run_abc123"}},
    ),
    "create_training_run": Case(
        lambda c: c.create_training_run(strategy_label="ppo_sharpe_v1"),
        "POST",
        "/training/runs",
        body={"strategy_label": "ppo_sharpe_v1"},
        answer=RUN,
    ),
    "create_training_run_full": Case(
        lambda c: c.create_training_run(
            run_id="run_0a1b",
            strategy_label="ppo",
            env_id="TradeReady-BTC-Continuous-v0",
            config={"reward": {"name": "SharpeReward", "window": 50}},
            total_timesteps=100_000,
            algorithm="PPO",
        ),
        "POST",
        "/training/runs",
        body={
            "run_id": "run_0a1b",
            "strategy_label": "ppo",
            "env_id": "TradeReady-BTC-Continuous-v0",
            "config": {"reward": {"name": "SharpeReward", "window": 50}},
            "total_timesteps": 100000,
            "algorithm": "PPO",
        },
    ),
    "report_episodes": Case(
        lambda c: c.report_episodes("run_1", [{"episode": 1, "roi_pct": 0.5}, {"episode": 2, "roi_pct": -0.1}]),
        "POST",
        "/training/runs/run_1/episodes",
        body={"episodes": [{"episode": 1, "roi_pct": 0.5}, {"episode": 2, "roi_pct": -0.1}]},
        answer={"accepted": 2, "duplicates": 0},
    ),
    "report_episode": Case(
        lambda c: c.report_episode("run_1", {"episode": 3, "roi_pct": 1.25, "sharpe_ratio": None}),
        "POST",
        "/training/runs/run_1/episodes",
        body={"episode": 3, "roi_pct": 1.25, "sharpe_ratio": None},
    ),
    "complete_training_run": Case(
        lambda c: c.complete_training_run("run_1"), "POST", "/training/runs/run_1/complete", body={}
    ),
    "complete_training_run_stats": Case(
        lambda c: c.complete_training_run("run_1", final_stats={"episodes": 3}),
        "POST",
        "/training/runs/run_1/complete",
        body={"final_stats": {"episodes": 3}},
    ),
    "complete_training_run_failed": Case(
        lambda c: c.complete_training_run("run_1", status="failed"),
        "POST",
        "/training/runs/run_1/complete",
        body={"status": "failed"},
    ),
    "send_heartbeat_everything": Case(
        lambda c: c.send_heartbeat(
            "run_1",
            step=0,
            episode=0,
            episode_steps=0,
            steps_per_second=0.0,
            total_timesteps=10,
            timesteps_done=0,
            episode_length=4320,
            train_metrics={"policy_loss": -0.01},
        ),
        "POST",
        "/training/runs/run_1/heartbeat",
        body={
            "step": 0,
            "episode": 0,
            "episode_steps": 0,
            "steps_per_second": 0.0,
            "total_timesteps": 10,
            "timesteps_done": 0,
            "episode_length": 4320,
            "train_metrics": {"policy_loss": -0.01},
        },
    ),
    "send_heartbeat": Case(
        lambda c: c.send_heartbeat(
            "run_1", step=900, episode=4, episode_steps=1000, steps_per_second=5123.5, total_timesteps=100_000
        ),
        "POST",
        "/training/runs/run_1/heartbeat",
        body={
            "step": 900,
            "episode": 4,
            "episode_steps": 1000,
            "steps_per_second": 5123.5,
            "total_timesteps": 100000,
        },
        answer={"status": "running"},
    ),
    "record_evaluation": Case(
        lambda c: c.record_evaluation({"evaluation_id": "eval_1", "model": "PPO", "agents": []}),
        "POST",
        "/evaluations",
        body={"evaluation_id": "eval_1", "model": "PPO", "agents": []},
        answer={"evaluation_id": "eval_1", "beats_buy_and_hold": True},
    ),
    "list_evaluations_defaults": Case(
        lambda c: c.list_evaluations(),
        "GET",
        "/evaluations",
        params={"limit": "20"},
        answer={"evaluations": [{"evaluation_id": "eval_1"}], "total": 1},
        result=[{"evaluation_id": "eval_1"}],
    ),
    "list_evaluations_of_a_run": Case(
        lambda c: c.list_evaluations(run_id="run_abc123", limit=5, offset=10),
        "GET",
        "/evaluations",
        params={"run_id": "run_abc123", "limit": "5", "offset": "10"},
        answer={"evaluations": []},
        result=[],
    ),
    "get_evaluation": Case(
        lambda c: c.get_evaluation("eval_1"), "GET", "/evaluations/eval_1", answer={"evaluation_id": "eval_1"}
    ),
}


def _run_sync(case: Case) -> tuple[MockAPI, Any]:
    api = MockAPI(default=httpx.Response(200, json=case.answer))
    with api.client() as client:
        return api, case.call(client)


def _run_async(case: Case) -> tuple[MockAPI, Any]:
    api = MockAPI(default=httpx.Response(200, json=case.answer))

    async def main() -> Any:
        async with api.async_client() as client:
            return await case.call(client)

    return api, asyncio.run(main())


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("run", [_run_sync, _run_async], ids=["sync", "async"])
def test_request_and_result(name: str, run: Callable[[Case], tuple[MockAPI, Any]]) -> None:
    case = CASES[name]
    api, result = run(case)
    assert len(api.requests) == 1
    request = api.last
    assert request.method == case.method
    assert request.url.path == "/api/v1" + case.path
    assert dict(request.url.params) == case.params
    assert len(request.url.params) == len(case.params)  # no parameter sent twice
    assert api.body() == case.body
    if case.body is not None:
        assert request.headers["Content-Type"] == "application/json"
    assert ("X-API-Key" in request.headers) is case.authenticated
    assert result == case.expected_result()


def test_every_public_method_has_a_case() -> None:
    methods = {
        name
        for name, member in inspect.getmembers(AgentExchangeClient, inspect.isfunction)
        # stream_backtest opens a WebSocket, not an HTTP call: tests/server/api/test_backtest_stream.py
        if not name.startswith("_") and name not in {"close", "with_options", "stream_backtest"}
    }
    covered = {name for name in methods if any(case_name.startswith(name) for case_name in CASES)}
    assert methods == covered


def test_async_client_mirrors_the_sync_client() -> None:
    def public(cls: type) -> dict[str, inspect.Signature]:
        return {
            name: inspect.signature(member)
            for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")
        }

    sync, asynchronous = public(AgentExchangeClient), public(AsyncAgentExchangeClient)
    assert sync.keys() == asynchronous.keys()
    for name, signature in sync.items():
        assert list(signature.parameters) == list(asynchronous[name].parameters), name
        for param in signature.parameters.values():
            twin = asynchronous[name].parameters[param.name]
            assert (param.kind, param.default) == (twin.kind, twin.default), f"{name}({param.name})"
        is_coroutine = inspect.iscoroutinefunction(getattr(AsyncAgentExchangeClient, name))
        assert is_coroutine is (name != "with_options"), name


def test_seed_python_sdk_sample(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The seed's "Python SDK Access" sample, as written, against a scripted platform."""
    expected_comparison = {"runs": [RUN, {**RUN, "run_id": "run_dqn_v1"}], "best": {"avg_roi_pct": "run_abc123"}}

    def platform(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-API-Key"] == "ak_live_..."
        assert request.url.host == "localhost" and request.url.port == 8000
        routes = {
            "/api/v1/training/runs": {"runs": [RUN]},
            "/api/v1/training/runs/run_abc123": {**RUN, "episodes": [], "learning_curve": [], "config": {}},
            "/api/v1/training/compare": expected_comparison,
        }
        return httpx.Response(200, json=routes[request.url.path])

    # The sample builds its own client: route its default httpx.Client to the scripted platform.
    real_client = httpx.Client
    monkeypatch.setattr(httpx, "Client", lambda **kw: real_client(transport=httpx.MockTransport(platform), **kw))

    # --- the seed's sample, verbatim ---
    from agentexchange import AgentExchangeClient

    client = AgentExchangeClient(api_key="ak_live_...")
    # List runs
    runs = client.get_training_runs(status="completed", limit=10)
    # Get detail for a specific run
    run = client.get_training_run(run_id="run_abc123")
    print(f"Episodes: {run['total_episodes']}")
    print(f"Avg ROI: {run['avg_roi_pct']}%")
    print(f"Avg Sharpe: {run['avg_sharpe']}")
    # Compare PPO vs DQN
    comparison = client.compare_training_runs(run_ids=["run_ppo_v1", "run_dqn_v1"])
    # --- end of the sample ---

    assert runs == [RUN]
    assert capsys.readouterr().out == "Episodes: 247\nAvg ROI: 3.8%\nAvg Sharpe: 1.2\n"
    assert comparison == expected_comparison


def test_ids_are_quoted_into_one_path_segment(api: MockAPI) -> None:
    api.client().get_training_run("../../keys")
    assert api.last.url.raw_path == b"/api/v1/training/runs/..%2F..%2Fkeys"


def test_naive_datetime_is_taken_as_utc(api: MockAPI) -> None:
    api.client().get_candles("BTCUSDT", "1m", start=datetime(2025, 3, 4, 5, 6, 7, 800000))
    assert api.last.url.params["start"] == "2025-03-04T05:06:07.800000Z"


def test_numpy_like_values_are_encoded(api: MockAPI) -> None:
    class Scalar:
        def __init__(self, value: float) -> None:
            self.value = value

        def tolist(self) -> float:
            return self.value

    api.client().report_episode("run_1", {"episode": 1, "roi_pct": Scalar(2.5), "ended_at": datetime(2025, 1, 1)})
    assert api.body() == {"episode": 1, "roi_pct": 2.5, "ended_at": "2025-01-01T00:00:00Z"}


def test_bodies_are_compact_json(api: MockAPI) -> None:
    api.client().report_episode("run_1", {"episode": 1, "roi_pct": 0.5})
    assert api.last.content == json.dumps({"episode": 1, "roi_pct": 0.5}, separators=(",", ":")).encode()
    assert api.last.headers["X-API-Key"] == KEY


INVALID: dict[str, tuple[Callable[[AgentExchangeClient], Any], str]] = {
    "unknown metric": (
        lambda c: c.get_learning_curve("run_1", metric="profit"),
        "metric must be one of roi_pct, sharpe_ratio, max_drawdown_pct, total_trades, reward_sum; got 'profit'",
    ),
    "window 0": (lambda c: c.get_learning_curve("run_1", window=0), "window must be an integer >= 1, got 0"),
    "window float": (lambda c: c.get_learning_curve("run_1", window=2.5), "window must be an integer >= 1, got 2.5"),
    "max_points 1": (
        lambda c: c.get_learning_curve("run_1", max_points=1),
        "max_points must be an integer >= 2, got 1",
    ),
    "no run ids": (lambda c: c.compare_training_runs([]), "run_ids must name at least one run, got an empty list"),
    "run ids string": (
        lambda c: c.compare_training_runs("run_a,run_b"),
        "run_ids must be a list of run ids, got the string 'run_a,run_b'",
    ),
    "run id with comma": (
        lambda c: c.compare_training_runs(["run_a,run_b"]),
        "each run id must be a non-empty string without commas, got 'run_a,run_b'",
    ),
    "empty run id": (lambda c: c.get_training_run(""), "run_id must be a non-empty string, got ''"),
    "empty batch": (lambda c: c.report_episodes("run_1", []), "episodes must hold at least one episode"),
    "batch given a dict": (
        lambda c: c.report_episodes("run_1", {"episode": 1}),
        "episodes must be a list of episode dicts; use report_episode",
    ),
    "episode without number": (
        lambda c: c.report_episodes("run_1", [{"episode": 1}, {"roi_pct": 1.0}]),
        "episodes[1] has no 'episode' number (got keys ['roi_pct'])",
    ),
    "nan metric": (
        lambda c: c.report_episode("run_1", {"episode": 1, "sharpe_ratio": float("nan")}),
        "body.sharpe_ratio is nan; NaN and Infinity cannot be sent: use None",
    ),
    "inf in batch": (
        lambda c: c.report_episodes("run_1", [{"episode": 1, "roi_pct": float("inf")}]),
        "body.episodes[0].roi_pct is inf",
    ),
    "not serialisable": (
        lambda c: c.replay_episode({"targets": {1, 2}}),
        "request body cannot be encoded as JSON: set is not JSON-serialisable",
    ),
    "payload not a dict": (lambda c: c.replay_episode([1]), "payload must be a dict, got list"),
    "bad side": (
        lambda c: c.place_order("bt_1", symbol="BTCUSDT", side="long", quantity=1),
        "side must be one of buy, sell; got 'long'",
    ),
    "bad order type": (
        lambda c: c.place_order("bt_1", symbol="BTCUSDT", side="buy", type="stop", quantity=1),
        "type must be one of market, limit, stop_loss, take_profit; got 'stop'",
    ),
    "limit without price": (
        lambda c: c.place_order("bt_1", symbol="BTCUSDT", side="buy", type="limit", quantity=1),
        "a limit order needs a price, got price=None",
    ),
    "bad completion status": (
        lambda c: c.complete_training_run("run_1", status="abandoned"),
        "status must be one of completed, failed; got 'abandoned'",
    ),
    "zero steps": (lambda c: c.step_backtest("bt_1", steps=0), "steps must be an integer >= 1, got 0"),
    "no symbols": (
        lambda c: c.create_backtest(symbols=[], timeframe="1h", start_time="a", end_time="b"),
        "symbols must name at least one symbol",
    ),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_arguments_rejected_before_sending(api: MockAPI, name: str) -> None:
    call, message = INVALID[name]
    with pytest.raises(InvalidArgumentError) as info:
        call(api.client())
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)
    assert api.requests == []
