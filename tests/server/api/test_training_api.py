"""The training API against the live server on SQLite and PostgreSQL, through httpx."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.platform import AccountKey, LiveServer, create_account

from tradeready.server.schemas.training import (
    ComparePublic,
    EpisodesReportPublic,
    HeartbeatPublic,
    LearningCurvePublic,
    RunDetailPublic,
    RunListPublic,
    RunSummaryPublic,
)
from tradeready.server.settings import Settings

PREFIX = "/api/v1/training"


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


def episode(n: int, roi: float = 1.0, **extra: Any) -> dict[str, Any]:
    return {
        "episode": n,
        "roi_pct": roi,
        "sharpe_ratio": roi / 2,
        "max_drawdown_pct": abs(roi) + 1.0,
        "total_trades": n % 7,
        "reward_sum": roi / 10,
        "steps": 100,
        "session_id": None,
        "started_at": "2026-03-01T10:00:00Z",
        "ended_at": "2026-03-01T10:05:00Z",
        **extra,
    }


def new_run(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post("/runs", json={"strategy_label": "ppo_v1", "env_id": "TradeReady-BTC-v0", **body})
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()
    return run


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] == code
    return body


# --- registration ---------------------------------------------------------------------------


def test_register_returns_the_seed_fields_and_a_server_run_id(alice: httpx.Client) -> None:
    config = {"env": {"timeframe": "1h"}, "reward": {"name": "SharpeReward", "window": 50}, "versions": {"x": "1"}}
    run = new_run(alice, config=config, total_timesteps=100_000)
    RunSummaryPublic.model_validate(run)
    assert run["run_id"].startswith("run_") and len(run["run_id"]) == 4 + 16
    int(run["run_id"][4:], 16)
    assert run["strategy_label"] == "ppo_v1"
    assert run["status"] == "running"
    assert run["total_episodes"] == 0 and run["avg_roi_pct"] is None and run["avg_sharpe"] is None
    assert run["started_at"].endswith("Z") and run["completed_at"] is None
    assert run["total_timesteps"] == 100_000
    detail = alice.get(f"/runs/{run['run_id']}").json()
    assert detail["config"] == config
    assert detail["env_id"] == "TradeReady-BTC-v0"


def test_client_run_id_is_idempotent_and_merges_new_config_keys(alice: httpx.Client) -> None:
    body = {"run_id": "run_0123456789abcdef", "strategy_label": "ppo_v1", "config": {"a": 1}}
    first = alice.post("/runs", json=body)
    again = alice.post("/runs", json={**body, "config": {"a": 2, "hyperparameters": {"lr": 3e-4}}})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["run_id"] == first.json()["run_id"] == "run_0123456789abcdef"
    assert again.json()["started_at"] == first.json()["started_at"]
    listed = alice.get("/runs").json()
    assert listed["total"] == 1
    detail = alice.get("/runs/run_0123456789abcdef").json()
    assert detail["config"] == {"a": 1, "hyperparameters": {"lr": 3e-4}}


def test_another_accounts_run_id_conflicts_without_leaking(alice: httpx.Client, mallory: httpx.Client) -> None:
    new_run(alice, run_id="run_feedface00000001", config={"secret": 42})
    response = mallory.post("/runs", json={"run_id": "run_feedface00000001", "strategy_label": "x"})
    body = error(response, 409, "conflict")
    assert "secret" not in response.text and "ppo_v1" not in response.text
    assert "run_feedface00000001" in body["message"]
    assert mallory.get("/runs").json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"strategy_label": ""}, "strategy_label"),
        ({"strategy_label": "x", "run_id": "abc"}, "run_id"),
        ({"strategy_label": "x", "config": {"lr": float("nan")}}, "config"),
        ({"strategy_label": "x", "config": {"blob": "x" * 70_000}}, "config"),
        ({"strategy_label": "x", "total_timesteps": 0}, "total_timesteps"),
    ],
)
def test_bad_registration_answers_422_naming_the_field(alice: httpx.Client, body: dict[str, Any], field: str) -> None:
    import json

    response = alice.post("/runs", content=json.dumps(body), headers={"content-type": "application/json"})
    details = error(response, 422, "validation_error")["details"]
    assert details[0]["field"] == field
    assert alice.get("/runs").json()["total"] == 0


# --- episodes -------------------------------------------------------------------------------


def test_seed_learning_curve_example_exactly(alice: httpx.Client) -> None:
    run_id = new_run(alice)["run_id"]
    rois = [-1.2, 0.4, 1.0, 2.0, 3.0, 2.5, 1.5, 3.5, 2.7, 2.1]
    for n, roi in enumerate(rois, start=1):
        assert alice.post(f"/runs/{run_id}/episodes", json=episode(n, roi)).status_code == 200
    curve = alice.get(f"/runs/{run_id}/learning-curve", params={"metric": "roi_pct", "window": 10}).json()
    LearningCurvePublic.model_validate(curve)
    assert curve["metric"] == "roi_pct" and curve["window"] == 10
    assert curve["curve"][0] == {"episode": 1, "value": -1.2, "smoothed": -1.2}
    assert curve["curve"][1] == {"episode": 2, "value": 0.4, "smoothed": -0.4}
    assert curve["curve"][9]["episode"] == 10 and curve["curve"][9]["value"] == 2.1
    assert curve["curve"][9]["smoothed"] == pytest.approx(np.mean(rois))
    assert (curve["n_total"], curve["n_returned"], curve["method"]) == (10, 10, "none")


def test_batch_and_resends_never_duplicate(alice: httpx.Client) -> None:
    run_id = new_run(alice)["run_id"]
    batch = [episode(n, float(n)) for n in range(1, 51)]
    first = alice.post(f"/runs/{run_id}/episodes", json={"episodes": batch})
    assert first.status_code == 200
    report = EpisodesReportPublic.model_validate(first.json())
    assert (report.accepted, report.duplicates, report.total_episodes) == (50, 0, 50)
    again = alice.post(f"/runs/{run_id}/episodes", json={"episodes": [*batch[40:], episode(51, 51.0)]}).json()
    assert (again["accepted"], again["duplicates"], again["total_episodes"]) == (1, 10, 51)
    single = alice.post(f"/runs/{run_id}/episodes", json=batch[0]).json()
    assert (single["accepted"], single["duplicates"], single["total_episodes"]) == (0, 1, 51)
    run = alice.get(f"/runs/{run_id}").json()
    assert run["episodes_total"] == 51 and [e["episode"] for e in run["episodes"]] == list(range(1, 52))
    assert run["avg_roi_pct"] == pytest.approx(np.mean(np.arange(1, 52)))
    assert run["best_roi_pct"] == 51.0 and run["worst_roi_pct"] == 1.0 and run["last_roi_pct"] == 51.0


def test_out_of_order_and_gapped_episodes_fold_into_the_same_aggregates(alice: httpx.Client) -> None:
    """Episodes above every stored one take the two-statement path; lower ones the checked path."""
    run_id = new_run(alice)["run_id"]
    order = [5, 6, 1, 9, 2, 3, 4, 8, 7, 10]  # 5, 6, 9, 10 are above the stored maximum when sent
    for n in order:
        report = alice.post(f"/runs/{run_id}/episodes", json=episode(n, float(n))).json()
        assert (report["accepted"], report["duplicates"], report["status"]) == (1, 0, "running")
    mixed = alice.post(f"/runs/{run_id}/episodes", json={"episodes": [episode(11, 11.0), episode(3, 3.0)]}).json()
    assert (mixed["accepted"], mixed["duplicates"], mixed["total_episodes"]) == (1, 1, 11)
    run = alice.get(f"/runs/{run_id}").json()
    assert [e["episode"] for e in run["episodes"]] == list(range(1, 12))
    assert run["avg_roi_pct"] == pytest.approx(6.0) and run["total_steps"] == 11 * 100
    assert (run["best_roi_pct"], run["worst_roi_pct"], run["last_episode"], run["last_roi_pct"]) == (
        11.0,
        1.0,
        11,
        11.0,
    )


def test_another_account_cannot_add_episodes_by_either_path(alice: httpx.Client, mallory: httpx.Client) -> None:
    run_id = new_run(alice)["run_id"]
    alice.post(f"/runs/{run_id}/episodes", json=episode(5, 5.0))
    for sent in (episode(6, 6.0), episode(1, 1.0)):  # above the stored maximum, and below it
        error(mallory.post(f"/runs/{run_id}/episodes", json=sent), 404, "run_not_found")
    run = alice.get(f"/runs/{run_id}").json()
    assert run["total_episodes"] == 1 and [e["episode"] for e in run["episodes"]] == [5]


def test_resend_with_different_values_is_a_409_and_writes_nothing(alice: httpx.Client) -> None:
    run_id = new_run(alice)["run_id"]
    alice.post(f"/runs/{run_id}/episodes", json={"episodes": [episode(1, 1.0), episode(2, 2.0)]})
    response = alice.post(f"/runs/{run_id}/episodes", json={"episodes": [episode(3, 3.0), episode(2, 9.9)]})
    body = error(response, 409, "conflict")
    assert body["details"]["episodes"] == [2] and "2" in body["message"]
    run = alice.get(f"/runs/{run_id}").json()
    assert run["total_episodes"] == 2 and [e["roi_pct"] for e in run["episodes"]] == [1.0, 2.0]


def test_stored_episode_round_trips_every_field(alice: httpx.Client) -> None:
    run_id = new_run(alice)["run_id"]
    sent = episode(
        1,
        -2.5,
        session_id="bt_123",
        sortino_ratio=0.7,
        win_rate=0.55,
        final_equity=9750.0,
        terminated=False,
        truncated=True,
        metrics={"exposure_pct": 40.0},
    )
    alice.post(f"/runs/{run_id}/episodes", json=sent)
    stored = alice.get(f"/runs/{run_id}").json()["episodes"][0]
    assert stored == sent


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_nan_and_infinity_are_rejected_with_a_clear_message(alice: httpx.Client, literal: bytes) -> None:
    run_id = new_run(alice)["run_id"]
    body = b'{"episode": 1, "roi_pct": ' + literal + b', "max_drawdown_pct": 1, "total_trades": 0, "reward_sum": 0}'
    response = alice.post(f"/runs/{run_id}/episodes", content=body, headers={"content-type": "application/json"})
    message = error(response, 422, "validation_error")["message"]
    assert "NaN" in message or "finite" in message
    batch = b'{"episodes": [{"episode": 1, "roi_pct": 1, "sharpe_ratio": ' + literal + b", "
    batch += b'"max_drawdown_pct": 1, "total_trades": 0, "reward_sum": 0}]}'
    response = alice.post(f"/runs/{run_id}/episodes", content=batch, headers={"content-type": "application/json"})
    error(response, 422, "validation_error")
    assert alice.get(f"/runs/{run_id}").json()["total_episodes"] == 0


def test_bad_episode_bodies_answer_422(alice: httpx.Client) -> None:
    run_id = new_run(alice)["run_id"]
    cases = [
        {"episode": 0, "roi_pct": 1, "max_drawdown_pct": 1, "total_trades": 0, "reward_sum": 0},
        {"episode": 1, "max_drawdown_pct": 1, "total_trades": 0, "reward_sum": 0},
        {"episodes": []},
        [1, 2],
        {**episode(1), "unexpected": 1},
        {**episode(1), "started_at": "2026-03-01T10:00:00"},
    ]
    for body in cases:
        error(alice.post(f"/runs/{run_id}/episodes", json=body), 422, "validation_error")
    nested = alice.post(f"/runs/{run_id}/episodes", json={"episodes": [episode(1), {**episode(2), "roi_pct": "x"}]})
    assert error(nested, 422, "validation_error")["details"][0]["field"] == "episodes.1.roi_pct"
    assert alice.get(f"/runs/{run_id}").json()["total_episodes"] == 0


def test_completed_run_accepts_late_spooled_episodes(alice: httpx.Client) -> None:
    run_id = new_run(alice)["run_id"]
    alice.post(f"/runs/{run_id}/episodes", json=episode(1, 1.0))
    done = alice.post(f"/runs/{run_id}/complete", json={}).json()
    late = alice.post(f"/runs/{run_id}/episodes", json={"episodes": [episode(3, 3.0), episode(2, 2.0)]}).json()
    assert late["accepted"] == 2 and late["status"] == "completed"
    run = alice.get(f"/runs/{run_id}").json()
    assert run["status"] == "completed" and run["completed_at"] == done["completed_at"]
    assert run["total_episodes"] == 3 and run["last_roi_pct"] == 3.0 and run["last_episode"] == 3


# --- complete, heartbeat, abandoned -----------------------------------------------------------


def test_complete_is_idempotent_and_can_report_failure(alice: httpx.Client) -> None:
    run_id = new_run(alice)["run_id"]
    first = alice.post(f"/runs/{run_id}/complete", json={"final_stats": {"total_episodes": 0}})
    assert first.status_code == 200 and first.json()["status"] == "completed"
    time.sleep(0.01)
    second = alice.post(f"/runs/{run_id}/complete", json={"status": "failed"}).json()
    assert second["completed_at"] == first.json()["completed_at"] and second["status"] == "completed"
    assert alice.get(f"/runs/{run_id}").json()["final_stats"] == {"total_episodes": 0}
    failed_id = new_run(alice)["run_id"]
    failed = alice.post(f"/runs/{failed_id}/complete", json={"status": "failed"}).json()
    assert failed["status"] == "failed" and failed["completed_at"].endswith("Z")
    assert [r["run_id"] for r in alice.get("/runs", params={"status": "failed"}).json()["runs"]] == [failed_id]
    bad = alice.post(f"/runs/{failed_id}/complete", json={"status": "abandoned"})
    assert error(bad, 422, "validation_error")["details"][0]["field"] == "status"


def test_heartbeat_updates_live_progress(alice: httpx.Client) -> None:
    run_id = new_run(alice)["run_id"]
    body = {
        "step": 1500,
        "episode": 4,
        "episode_steps": 120,
        "episode_length": 500,
        "steps_per_second": 850.5,
        "total_timesteps": 10_000,
        "timesteps_done": 2500,
        "train_metrics": {"policy_loss": -0.01},
    }
    beat = alice.post(f"/runs/{run_id}/heartbeat", json=body)
    assert beat.status_code == 200
    HeartbeatPublic.model_validate(beat.json())
    run = alice.get("/runs").json()["runs"][0]
    assert run["last_heartbeat_at"] == beat.json()["last_heartbeat_at"]
    assert (run["current_step"], run["current_episode"], run["episode_steps"], run["episode_length"]) == (
        1500,
        4,
        120,
        500,
    )
    assert run["steps_per_second"] == 850.5 and run["total_timesteps"] == 10_000 and run["timesteps_done"] == 2500
    assert run["progress_pct"] == 25.0
    assert alice.get(f"/runs/{run_id}").json()["train_metrics"] == {"policy_loss": -0.01}
    bad = alice.post(f"/runs/{run_id}/heartbeat", json={**body, "steps_per_second": -1})
    error(bad, 422, "validation_error")
    alice.post(f"/runs/{run_id}/complete")
    after = alice.post(f"/runs/{run_id}/heartbeat", json=body).json()
    assert after["accepted"] is False and after["status"] == "completed"


def test_silent_run_is_abandoned_and_revived(platform_settings: Settings) -> None:
    settings = platform_settings.model_copy(update={"heartbeat_timeout_s": 1.0})
    with LiveServer(settings) as server, client(server, create_account(settings, "carol")) as http:
        quiet = new_run(http)["run_id"]
        busy = new_run(http)["run_id"]
        time.sleep(1.3)
        http.post(f"/runs/{busy}/episodes", json=episode(1))
        statuses = {r["run_id"]: r["status"] for r in http.get("/runs").json()["runs"]}
        assert statuses == {quiet: "abandoned", busy: "running"}
        abandoned = http.get("/runs", params={"status": "abandoned"}).json()["runs"]
        assert [r["run_id"] for r in abandoned] == [quiet]
        assert http.get(f"/runs/{quiet}").json()["status"] == "abandoned"
        beat = {"step": 10, "episode": 1, "episode_steps": 10, "steps_per_second": 5.0}
        revived = http.post(f"/runs/{quiet}/heartbeat", json=beat).json()
        assert revived["status"] == "running" and revived["accepted"] is True
        assert http.get("/runs", params={"status": "abandoned"}).json()["total"] == 0
        assert http.get("/runs", params={"status": "running"}).json()["total"] == 2


# --- reads ----------------------------------------------------------------------------------


def test_list_filters_pages_and_orders_newest_first(alice: httpx.Client) -> None:
    ids = [new_run(alice, strategy_label=label)["run_id"] for label in ("a", "b", "a", "c")]
    alice.post(f"/runs/{ids[0]}/complete")
    listed = alice.get("/runs").json()
    RunListPublic.model_validate(listed)
    assert [r["run_id"] for r in listed["runs"]] == ids[::-1]
    assert (listed["total"], listed["limit"], listed["offset"]) == (4, 20, 0)
    page = alice.get("/runs", params={"limit": 2, "offset": 1}).json()
    assert [r["run_id"] for r in page["runs"]] == [ids[2], ids[1]] and page["total"] == 4
    labelled = alice.get("/runs", params={"strategy_label": "a"}).json()
    assert [r["run_id"] for r in labelled["runs"]] == [ids[2], ids[0]]
    done = alice.get("/runs", params={"status": "completed", "limit": 20}).json()["runs"]
    assert [r["run_id"] for r in done] == [ids[0]]
    seed_keys = {"run_id", "strategy_label", "status", "total_episodes", "avg_roi_pct", "avg_sharpe"}
    assert seed_keys | {"started_at", "completed_at"} <= set(done[0])
    bad = error(alice.get("/runs", params={"status": "finished"}), 422, "validation_error")
    assert bad["details"][0]["allowed"] == ["running", "completed", "abandoned", "failed"]
    error(alice.get("/runs", params={"limit": 0}), 422, "validation_error")
    error(alice.get("/runs", params={"offset": -1}), 422, "validation_error")


def test_detail_paginates_episodes_and_charts_the_curve(alice: httpx.Client) -> None:
    run_id = new_run(alice)["run_id"]
    rois = np.random.default_rng(1).normal(0, 2, 700)
    alice.post(f"/runs/{run_id}/episodes", json={"episodes": [episode(n, float(r)) for n, r in enumerate(rois, 1)]})
    detail = alice.get(f"/runs/{run_id}").json()
    RunDetailPublic.model_validate(detail)
    assert detail["episodes_total"] == 700 and len(detail["episodes"]) == 700 and not detail["episodes_truncated"]
    assert len(detail["learning_curve"]) == 500
    assert detail["learning_curve_meta"]["method"] == "lttb" and detail["learning_curve_meta"]["n_total"] == 700
    assert detail["learning_curve"][0]["episode"] == 1 and detail["learning_curve"][-1]["episode"] == 700
    page = alice.get(f"/runs/{run_id}", params={"episodes_limit": 100, "episodes_offset": 650}).json()
    assert [e["episode"] for e in page["episodes"]] == list(range(651, 701))
    assert page["episodes_total"] == 700 and page["episodes_truncated"] is False
    first = alice.get(f"/runs/{run_id}", params={"episodes_limit": 100}).json()
    assert len(first["episodes"]) == 100 and first["episodes_truncated"] is True
    error(alice.get(f"/runs/{run_id}", params={"episodes_limit": 0}), 422, "validation_error")


def test_learning_curve_metrics_window_and_downsampling(alice: httpx.Client) -> None:
    run_id = new_run(alice)["run_id"]
    rng = np.random.default_rng(7)
    rois = rng.normal(0, 3, 2000)
    eps = [episode(n, float(r), sharpe_ratio=None if n % 5 == 0 else float(r) / 3) for n, r in enumerate(rois, 1)]
    alice.post(f"/runs/{run_id}/episodes", json={"episodes": eps})
    full = alice.get(f"/runs/{run_id}/learning-curve", params={"window": 25}).json()
    expected = np.array([np.mean(rois[max(0, i - 24) : i + 1]) for i in range(len(rois))])
    assert np.allclose([p["smoothed"] for p in full["curve"]], expected, atol=1e-9)
    assert [p["value"] for p in full["curve"]] == rois.tolist()
    sharpe = alice.get(f"/runs/{run_id}/learning-curve", params={"metric": "sharpe_ratio", "window": 5}).json()
    assert sharpe["curve"][4]["value"] is None
    assert sharpe["curve"][4]["smoothed"] == pytest.approx(np.mean(rois[:4] / 3))
    trades = alice.get(f"/runs/{run_id}/learning-curve", params={"metric": "total_trades", "window": 1}).json()
    assert [p["value"] for p in trades["curve"][:8]] == [1, 2, 3, 4, 5, 6, 0, 1]
    small = alice.get(f"/runs/{run_id}/learning-curve", params={"window": 25, "max_points": 200}).json()
    assert (small["n_total"], small["n_returned"], small["method"]) == (2000, 200, "lttb")
    assert small["curve"][0] == full["curve"][0] and small["curve"][-1] == full["curve"][-1]
    by_episode = {p["episode"]: p for p in full["curve"]}
    assert all(by_episode[p["episode"]] == p for p in small["curve"])
    assert small == alice.get(f"/runs/{run_id}/learning-curve", params={"window": 25, "max_points": 200}).json()
    for params, field in [
        ({"metric": "profit"}, "metric"),
        ({"window": 0}, "window"),
        ({"window": "ten"}, "window"),
        ({"max_points": 1}, "max_points"),
    ]:
        body = error(alice.get(f"/runs/{run_id}/learning-curve", params=params), 422, "validation_error")
        assert body["details"][0]["field"] == field
    unknown = error(alice.get(f"/runs/{run_id}/learning-curve", params={"metric": "profit"}), 422, "validation_error")
    allowed = ["roi_pct", "sharpe_ratio", "max_drawdown_pct", "total_trades", "reward_sum"]
    assert unknown["details"][0]["allowed"] == allowed


def test_compare_marks_the_best_run_per_metric(alice: httpx.Client, mallory: httpx.Client) -> None:
    good = new_run(alice, strategy_label="ppo")["run_id"]
    bad = new_run(alice, strategy_label="dqn")["run_id"]
    empty = new_run(alice, strategy_label="a2c")["run_id"]
    alice.post(f"/runs/{good}/episodes", json={"episodes": [episode(1, 5.0), episode(2, 7.0)]})
    alice.post(f"/runs/{bad}/episodes", json={"episodes": [episode(1, -3.0), episode(2, 1.0)]})
    alice.post(f"/runs/{good}/complete")
    result = alice.get("/compare", params={"run_ids": f"{good},{bad},{empty}"}).json()
    ComparePublic.model_validate(result)
    assert [r["run_id"] for r in result["runs"]] == [good, bad, empty]
    first = result["runs"][0]
    assert (first["avg_roi_pct"], first["best_roi_pct"], first["worst_roi_pct"], first["last_roi_pct"]) == (
        6.0,
        7.0,
        5.0,
        7.0,
    )
    assert first["status"] == "completed" and first["duration_seconds"] >= 0
    assert result["best"]["avg_roi_pct"] == good and result["best"]["avg_max_drawdown_pct"] == bad
    assert result["runs"][2]["total_episodes"] == 0 and result["runs"][2]["avg_roi_pct"] is None
    foreign = new_run(mallory)["run_id"]
    missing = error(alice.get("/compare", params={"run_ids": f"{good},{foreign},run_nothere"}), 404, "run_not_found")
    assert missing["details"]["run_ids"] == [foreign, "run_nothere"] and foreign in missing["message"]
    error(alice.get("/compare", params={"run_ids": f"{good},not-a-run"}), 422, "validation_error")
    error(alice.get("/compare", params={"run_ids": ""}), 422, "validation_error")
    many = ",".join(f"run_{i:016x}" for i in range(21))
    assert "20" in error(alice.get("/compare", params={"run_ids": many}), 422, "validation_error")["message"]


# --- ownership ------------------------------------------------------------------------------


def test_every_endpoint_hides_another_accounts_run_and_writes_nothing(
    alice: httpx.Client, mallory: httpx.Client
) -> None:
    run_id = new_run(alice)["run_id"]
    alice.post(f"/runs/{run_id}/episodes", json=episode(1, 2.0))
    before = alice.get(f"/runs/{run_id}").json()
    beat = {"step": 1, "episode": 1, "episode_steps": 1, "steps_per_second": 1.0}
    attempts = [
        mallory.post(f"/runs/{run_id}/episodes", json=episode(2, 9.0)),
        mallory.post(f"/runs/{run_id}/episodes", json={"episodes": [episode(1, 2.0), episode(3, 1.0)]}),
        mallory.post(f"/runs/{run_id}/heartbeat", json=beat),
        mallory.post(f"/runs/{run_id}/complete", json={"status": "failed"}),
        mallory.get(f"/runs/{run_id}"),
        mallory.get(f"/runs/{run_id}/learning-curve"),
        mallory.get("/compare", params={"run_ids": run_id}),
    ]
    for response in attempts:
        body = error(response, 404, "run_not_found")
        assert "ppo_v1" not in response.text and body["message"].count(run_id) == 1
    assert mallory.get("/runs").json() == {"runs": [], "total": 0, "limit": 20, "offset": 0}
    after = alice.get(f"/runs/{run_id}").json()
    assert after == before


def test_unknown_and_unauthenticated(alice: httpx.Client, live_server: LiveServer) -> None:
    error(alice.get("/runs/run_0000000000000000"), 404, "run_not_found")
    error(alice.post("/runs/run_0000000000000000/episodes", json=episode(1)), 404, "run_not_found")
    error(alice.get("/runs/../etc"), 404, "not_found")
    with httpx.Client(base_url=live_server.url + PREFIX) as anonymous:
        for response in (anonymous.get("/runs"), anonymous.post("/runs", json={"strategy_label": "x"})):
            error(response, 401, "unauthorized")


# --- aggregates vs numpy ----------------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.lists(
        st.tuples(finite, st.one_of(st.none(), finite), st.floats(0, 100), st.integers(0, 1000), finite),
        min_size=1,
        max_size=60,
    ),
    split=st.integers(1, 60),
    order_seed=st.integers(0, 2**32 - 1),
)
def test_live_aggregates_match_numpy(
    alice: httpx.Client, data: list[tuple[float, float | None, float, int, float]], split: int, order_seed: int
) -> None:
    run_id = new_run(alice)["run_id"]
    eps = [
        {
            "episode": n,
            "roi_pct": roi,
            "sharpe_ratio": sharpe,
            "max_drawdown_pct": dd,
            "total_trades": trades,
            "reward_sum": reward,
        }
        for n, (roi, sharpe, dd, trades, reward) in enumerate(data, 1)
    ]
    shuffled = [eps[i] for i in np.random.default_rng(order_seed).permutation(len(eps))]
    for start in range(0, len(shuffled), split):  # out of order, in batches, with a resend
        alice.post(f"/runs/{run_id}/episodes", json={"episodes": shuffled[start : start + split]}).raise_for_status()
    alice.post(f"/runs/{run_id}/episodes", json=shuffled[0]).raise_for_status()
    run = next(r for r in alice.get("/runs", params={"limit": 1000}).json()["runs"] if r["run_id"] == run_id)
    rois = np.array([d[0] for d in data])
    sharpes = np.array([d[1] for d in data if d[1] is not None])

    def close(got: float | None, want: float) -> bool:
        return got is not None and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-6)

    assert run["total_episodes"] == len(data)
    assert close(run["avg_roi_pct"], float(rois.mean()))
    assert run["best_roi_pct"] == rois.max() and run["worst_roi_pct"] == rois.min()
    assert run["last_roi_pct"] == rois[-1] and run["last_episode"] == len(data)
    if sharpes.size:
        assert close(run["avg_sharpe"], float(sharpes.mean()))
    else:
        assert run["avg_sharpe"] is None
    assert close(run["avg_max_drawdown_pct"], float(np.mean([d[2] for d in data])))
    assert close(run["avg_trades"], float(np.mean([d[3] for d in data])))
    assert close(run["avg_reward"], float(np.mean([d[4] for d in data])))


@pytest.mark.slow
def test_hundred_thousand_episodes_in_batches(alice: httpx.Client) -> None:
    run_id = new_run(alice)["run_id"]
    rois = np.random.default_rng(3).normal(0.5, 2.0, 100_000)
    for start in range(0, 100_000, 10_000):
        batch = [
            {"episode": n + 1, "roi_pct": float(rois[n]), "max_drawdown_pct": 1.0, "total_trades": 1, "reward_sum": 0.0}
            for n in range(start, start + 10_000)
        ]
        assert alice.post(f"/runs/{run_id}/episodes", json={"episodes": batch}).json()["accepted"] == 10_000
    run = alice.get("/runs").json()["runs"][0]
    assert run["total_episodes"] == 100_000
    assert run["avg_roi_pct"] == pytest.approx(float(rois.mean()), rel=1e-9)
    curve = alice.get(f"/runs/{run_id}/learning-curve", params={"max_points": 1000}).json()
    assert (curve["n_total"], curve["n_returned"]) == (100_000, 1000)
    assert curve["curve"][-1]["smoothed"] == pytest.approx(float(rois[-10:].mean()))
    full = alice.get(f"/runs/{run_id}/learning-curve", params={"window": 1}).json()
    assert full["n_returned"] == 100_000 and [p["episode"] for p in full["curve"]] == list(range(1, 100_001))
    assert [p["value"] for p in full["curve"]] == rois.tolist()
    assert np.allclose([p["smoothed"] for p in full["curve"]], rois, rtol=0, atol=1e-10)  # rounded to 10 dp
    page = alice.get(f"/runs/{run_id}", params={"episodes_limit": 10, "episodes_offset": 99_995}).json()
    assert [e["episode"] for e in page["episodes"]] == list(range(99_996, 100_001))
    assert page["episodes_total"] == 100_000


def test_openapi_documents_the_eight_training_routes(live_server: LiveServer) -> None:
    import re

    document = httpx.get(live_server.url + "/openapi.json").json()
    paths = {p for p in document["paths"] if p.startswith(PREFIX)}
    assert paths == {
        f"{PREFIX}/runs",
        f"{PREFIX}/runs/{{run_id}}",
        f"{PREFIX}/runs/{{run_id}}/episodes",
        f"{PREFIX}/runs/{{run_id}}/complete",
        f"{PREFIX}/runs/{{run_id}}/heartbeat",
        f"{PREFIX}/runs/{{run_id}}/learning-curve",
        f"{PREFIX}/compare",
    }
    refs = set(re.findall(r"#/components/schemas/(\w+)", str(document)))
    assert refs <= set(document["components"]["schemas"])
    body = document["paths"][f"{PREFIX}/runs/{{run_id}}/episodes"]["post"]["requestBody"]
    assert len(body["content"]["application/json"]["schema"]["oneOf"]) == 2
