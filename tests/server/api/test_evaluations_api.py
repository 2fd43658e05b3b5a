"""The evaluations API against the live server on SQLite and PostgreSQL, through httpx and the SDK."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.support.platform import AccountKey, LiveServer

from agentexchange import AgentExchangeClient, ConflictError, NotFoundError
from tradeready.server.schemas.evaluations import EvaluationListPublic, EvaluationPublic

PREFIX = "/api/v1"


def client(server: LiveServer, account: AccountKey) -> httpx.Client:
    return httpx.Client(base_url=server.url + PREFIX, headers={"X-API-Key": account.api_key}, timeout=60)


@pytest.fixture
def alice(live_server: LiveServer, account: AccountKey) -> Iterator[httpx.Client]:
    with client(live_server, account) as http:
        yield http


@pytest.fixture
def mallory(live_server: LiveServer, other_account: AccountKey) -> Iterator[httpx.Client]:
    with client(live_server, other_account) as http:
        yield http


def new_run(http: httpx.Client) -> str:
    response = http.post("/training/runs", json={"strategy_label": "ppo_v1", "env_id": "TradeReady-BTC-v0"})
    assert response.status_code == 201, response.text
    run_id: str = response.json()["run_id"]
    return run_id


def metrics(episode: int, roi: float, trades: int = 3) -> dict[str, Any]:
    return {
        "episode": episode,
        "roi_pct": roi,
        "sharpe_ratio": roi / 4,
        "sortino_ratio": roi / 3,
        "max_drawdown_pct": 2.0 + episode,
        "total_trades": trades,
        "win_rate": 0.5,
        "exposure_pct": 80.0,
        "final_equity": 10_000 * (1 + roi / 100),
        "total_fees": 10.0 * trades,
        "reward_sum": roi / 100,
        "steps": 500,
    }


MODEL_ROIS = [2.0, -1.0, 4.0]
HOLD_ROIS = [1.0, 0.5, 3.0]
SMA_ROIS = [0.0, 0.0, 1.5]


def payload(run_id: str | None = None, **extra: Any) -> dict[str, Any]:
    windows = [
        {
            "episode": i + 1,
            "seed": i,
            "start_index": 100 * i,
            "end_index": 100 * i + 500,
            "start_time": 1_700_000_000_000 + i * 3_600_000,
            "end_time": 1_701_800_000_000 + i * 3_600_000,
            "steps": 500,
        }
        for i in range(3)
    ]
    agents = [
        {"name": name, "kind": kind, "episodes": [metrics(i + 1, r, trades) for i, r in enumerate(rois)]}
        for name, kind, rois, trades in (
            ("PPO", "model", MODEL_ROIS, 40),
            ("buy_and_hold", "baseline", HOLD_ROIS, 1),
            ("sma_crossover", "baseline", SMA_ROIS, 3),
        )
    ]
    body: dict[str, Any] = {
        "model": "PPO",
        "env_id": "TradeReady-BTC-v0",
        "env_config": {"timeframe": "1h", "engine": {"fee_rate": 0.001}},
        "seed": 0,
        "episodes": windows,
        "agents": agents,
        **extra,
    }
    if run_id is not None:
        body["run_id"] = run_id
    return body


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] == code
    return body


def count(http: httpx.Client) -> int:
    total: int = http.get("/evaluations").json()["total"]
    return total


# --- recording and reading -------------------------------------------------------------------


def test_record_summarises_each_agent_and_answers_the_verdict(alice: httpx.Client) -> None:
    run_id = new_run(alice)
    response = alice.post("/evaluations", json=payload(run_id))
    assert response.status_code == 201, response.text
    stored = EvaluationPublic.model_validate(response.json()).model_dump()
    assert stored["evaluation_id"].startswith("eval_") and stored["run_id"] == run_id
    assert stored["n_episodes"] == 3 and [w["episode"] for w in stored["episodes"]] == [1, 2, 3]
    assert [a["name"] for a in stored["agents"]] == ["PPO", "buy_and_hold", "sma_crossover"]
    model = stored["agents"][0]
    assert model["kind"] == "model"
    assert model["summary"]["mean_roi_pct"] == pytest.approx(statistics.fmean(MODEL_ROIS))
    assert model["summary"]["std_roi_pct"] == pytest.approx(statistics.stdev(MODEL_ROIS))
    assert model["summary"]["mean_total_trades"] == 40 and model["summary"]["mean_total_fees"] == 400
    assert [e["roi_pct"] for e in model["episodes"]] == MODEL_ROIS
    # mean 1.667 vs 1.5: beats buy-and-hold on average, ahead on episodes 1 and 3
    assert stored["beats_buy_and_hold"] is True
    assert stored["episodes_won_vs_buy_and_hold"] == 2
    assert stored["roi_gap_vs_buy_and_hold_pct"] == pytest.approx(statistics.fmean(MODEL_ROIS) - 1.5)
    assert stored["env_config"] == {"timeframe": "1h", "engine": {"fee_rate": 0.001}}

    again = alice.get(f"/evaluations/{stored['evaluation_id']}")
    assert again.status_code == 200
    assert again.json() == response.json()


def test_list_filters_by_run_newest_first_with_summaries(alice: httpx.Client) -> None:
    run_a, run_b = new_run(alice), new_run(alice)
    first = alice.post("/evaluations", json=payload(run_a)).json()
    second = alice.post("/evaluations", json=payload(run_a, name="second")).json()
    alice.post("/evaluations", json=payload(run_b))
    unlinked = alice.post("/evaluations", json=payload()).json()
    assert unlinked["run_id"] is None

    listed = EvaluationListPublic.model_validate(alice.get("/evaluations", params={"run_id": run_a}).json())
    assert listed.total == 2
    assert [e.evaluation_id for e in listed.evaluations] == [second["evaluation_id"], first["evaluation_id"]]
    assert listed.evaluations[0].agents[1].summary.mean_roi_pct == pytest.approx(1.5)
    assert "episodes" not in alice.get("/evaluations").json()["evaluations"][0]
    assert count(alice) == 4
    page = alice.get("/evaluations", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 4 and len(page["evaluations"]) == 1


def test_verdict_is_null_without_buy_and_hold_and_false_when_behind(alice: httpx.Client) -> None:
    body = payload()
    body["agents"] = [a for a in body["agents"] if a["name"] != "buy_and_hold"]
    assert alice.post("/evaluations", json=body).json()["beats_buy_and_hold"] is None
    behind = payload()
    behind["agents"][0]["episodes"] = [metrics(i + 1, -5.0) for i in range(3)]
    stored = alice.post("/evaluations", json=behind).json()
    assert stored["beats_buy_and_hold"] is False and stored["episodes_won_vs_buy_and_hold"] == 0


def test_client_evaluation_id_makes_resends_idempotent(alice: httpx.Client, mallory: httpx.Client) -> None:
    body = payload(evaluation_id="eval_0123456789abcdef")
    first = alice.post("/evaluations", json=body)
    again = alice.post("/evaluations", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert count(alice) == 1
    taken = mallory.post("/evaluations", json=body)
    error(taken, 409, "conflict")
    assert "PPO" not in taken.text
    assert count(mallory) == 0


# --- ownership --------------------------------------------------------------------------------


def test_another_accounts_run_or_evaluation_is_not_found(alice: httpx.Client, mallory: httpx.Client) -> None:
    run_id = new_run(alice)
    stored = alice.post("/evaluations", json=payload(run_id)).json()
    # recording against someone else's run: 404 before anything is written
    error(mallory.post("/evaluations", json=payload(run_id)), 404, "run_not_found")
    assert count(mallory) == 0 and count(alice) == 1
    error(mallory.get(f"/evaluations/{stored['evaluation_id']}"), 404, "evaluation_not_found")
    error(mallory.get("/evaluations", params={"run_id": run_id}), 404, "run_not_found")
    error(alice.post("/evaluations", json=payload("run_doesnotexist")), 404, "run_not_found")
    error(alice.get("/evaluations/eval_doesnotexist"), 404, "evaluation_not_found")
    error(alice.get("/evaluations/not-an-id"), 404, "evaluation_not_found")
    assert count(alice) == 1


def test_an_api_key_is_required_and_the_routes_are_documented(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as anonymous:
        error(anonymous.get(PREFIX + "/evaluations"), 401, "unauthorized")
        error(anonymous.post(PREFIX + "/evaluations", json=payload()), 401, "unauthorized")
        paths = anonymous.get("/openapi.json").json()["paths"]
    assert set(paths[PREFIX + "/evaluations"]) == {"get", "post"}
    assert set(paths[PREFIX + "/evaluations/{evaluation_id}"]) == {"get"}


# --- validation -------------------------------------------------------------------------------


def _with_nan_metric() -> str:
    return json.dumps(payload()).replace('"roi_pct": 2.0', '"roi_pct": NaN', 1)


def _with_infinite_config() -> str:
    return json.dumps(payload(env_config={"fee_rate": float("inf")}))


def _mutated(change: Any) -> str:
    body = payload()
    change(body)
    return json.dumps(body)


BAD_BODIES = [
    (_with_nan_metric(), "agents.0.episodes.0.roi_pct"),
    (_with_infinite_config(), "env_config"),
    (_mutated(lambda b: b["agents"][1]["episodes"].pop()), "agents"),
    (_mutated(lambda b: b["agents"].append(dict(b["agents"][1]))), "agents"),
    (_mutated(lambda b: b.update(model="A2C")), "agents"),
    (_mutated(lambda b: b.update(run_id="abc")), "run_id"),
    (_mutated(lambda b: b.update(evaluation_id="run_1")), "evaluation_id"),
    (_mutated(lambda b: b["episodes"][0].update(end_time=0)), "episodes.0"),
    (_mutated(lambda b: b.update(episodes=[])), "episodes"),
    (_mutated(lambda b: b["agents"][0]["episodes"][0].update(max_drawdown_pct=-1)), "agents.0.episodes.0"),
]


def test_bad_bodies_answer_422_naming_the_field_and_write_nothing(alice: httpx.Client) -> None:
    for raw, field in BAD_BODIES:
        response = alice.post("/evaluations", content=raw, headers={"content-type": "application/json"})
        details = error(response, 422, "validation_error")["details"]
        assert details[0]["field"].startswith(field), (field, details)
    assert count(alice) == 0


def test_bad_list_parameters_answer_422(alice: httpx.Client) -> None:
    error(alice.get("/evaluations", params={"limit": 0}), 422, "validation_error")
    error(alice.get("/evaluations", params={"offset": -1}), 422, "validation_error")


# --- through the SDK --------------------------------------------------------------------------


def test_sdk_methods_round_trip(live_server: LiveServer, account: AccountKey, other_account: AccountKey) -> None:
    with AgentExchangeClient(api_key=account.api_key, base_url=live_server.url) as sdk:
        run_id = sdk.create_training_run(strategy_label="ppo_v1")["run_id"]
        recorded = sdk.record_evaluation(payload(run_id, evaluation_id="eval_sdk_1"))
        assert recorded["evaluation_id"] == "eval_sdk_1" and recorded["beats_buy_and_hold"] is True
        assert sdk.record_evaluation(payload(run_id, evaluation_id="eval_sdk_1")) == recorded
        assert [e["evaluation_id"] for e in sdk.list_evaluations(run_id=run_id)] == ["eval_sdk_1"]
        assert sdk.list_evaluations() == sdk.list_evaluations(run_id=run_id)
        assert sdk.get_evaluation("eval_sdk_1") == recorded
    with AgentExchangeClient(api_key=other_account.api_key, base_url=live_server.url) as other:
        with pytest.raises(NotFoundError):
            other.get_evaluation("eval_sdk_1")
        with pytest.raises(NotFoundError):
            other.list_evaluations(run_id=run_id)
        with pytest.raises(ConflictError):
            other.record_evaluation(payload(evaluation_id="eval_sdk_1"))
