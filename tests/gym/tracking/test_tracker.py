"""The tracker's lifecycle against the real platform on loopback (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import pytest
from tests.gym.tracking.helpers import (
    BlackHole,
    Platform,
    iter_journals,
    make_env,
    run_episodes,
    tracker_of,
    trading_env,
    trailing_mean,
)

from tradeready_gym.tracking import TrainingTracker

METRICS = ("roi_pct", "sharpe_ratio", "max_drawdown_pct", "total_trades")


def test_run_registered_on_first_reset_episodes_and_completion(platform: Platform, client_home: Path) -> None:
    client = platform.client()
    env = make_env(client, label="ppo_sharpe_v1", episode_length=24)
    tracker = tracker_of(env)
    assert tracker.run_id is None
    env.reset(seed=1)
    run_id = tracker.run_id
    assert run_id is not None and run_id.startswith("run_") and len(run_id) == 4 + 16
    assert tracker.flush(30.0)
    run = client.get_training_run(run_id)
    assert (run["status"], run["strategy_label"], run["total_episodes"]) == ("running", "ppo_sharpe_v1", 0)
    config = run["config"]
    assert config["env_id"] == "TradeReady-BTC-Continuous-v0"
    assert config["env"]["episode_length"] == 24 and config["env"]["lookback_window"] == 10
    assert config["reward"] == {"name": "LogReturnReward", "params": {}}
    assert config["features"]["features"] == ["ohlcv", "rsi_14", "macd", "bollinger", "balance", "position"]
    assert [w["name"] for w in config["wrappers"]] == ["PassiveEnvChecker"]
    assert config["versions"]["tradeready-gym"] and config["dataset"]["synthetic"] is False
    assert "api_key" not in str(config) and platform.account.api_key not in str(config)

    played = run_episodes(env, 5, seed=1)
    env.close()
    run = client.get_training_run(run_id)
    assert run["status"] == "completed" and run["completed_at"] is not None
    episodes = run["episodes"]
    assert [e["episode"] for e in episodes] == [1, 2, 3, 4, 5]
    for mine, stored in zip(played, episodes, strict=True):
        for name in METRICS:
            assert stored[name] == mine[name]
        assert stored["steps"] == mine["steps"] == mine["steps_seen"] == 24
        assert math.isclose(stored["reward_sum"], mine["reward_sum"], rel_tol=1e-12, abs_tol=1e-15)
        assert stored["truncated"] is True and stored["terminated"] is False
        assert stored["started_at"] <= stored["ended_at"]
        session = client.get_backtest(stored["session_id"])
        assert session["training_run_id"] == run_id and session["episode"] == stored["episode"]
        assert session["metrics_mismatch"] is None  # the platform's replay gives the same metrics
        assert session["metrics"]["roi_pct"] == mine["roi_pct"]
    assert math.isclose(run["avg_roi_pct"], sum(p["roi_pct"] for p in played) / 5, rel_tol=1e-9)
    assert run["final_stats"]["client_episodes"] == 5 and run["final_stats"]["episodes"] == 5

    curve = client.get_learning_curve(run_id, metric="roi_pct", window=3)
    assert [p["episode"] for p in curve["curve"]] == [1, 2, 3, 4, 5]
    assert [p["value"] for p in curve["curve"]] == [p["roi_pct"] for p in played]
    for point, expected in zip(curve["curve"], trailing_mean([p["roi_pct"] for p in played], 3), strict=True):
        assert math.isclose(point["smoothed"], expected, rel_tol=1e-9)
    assert list(iter_journals(client_home)) == []  # all delivered: nothing left in the spool


def test_gym_make_installs_the_tracker_from_api_key(platform: Platform) -> None:
    env = gym.make(
        "TradeReady-BTC-v0",
        api_key=platform.account.api_key,
        base_url=platform.server.url,
        start_time="2025-01-01",
        end_time="2025-01-03",
        lookback_window=5,
        strategy_label="made_by_gym_make",
    )
    tracker = trading_env(env).tracker
    assert isinstance(tracker, TrainingTracker)
    run_episodes(env, 2)
    env.close()
    runs = platform.client().get_training_runs(strategy_label="made_by_gym_make")
    assert [(r["run_id"], r["total_episodes"], r["status"]) for r in runs] == [(tracker.run_id, 2, "completed")]


def test_track_training_false_reports_nothing(platform: Platform) -> None:
    client = platform.client()
    env = make_env(client, tracker=False, episode_length=10)
    run_episodes(env, 2)
    env.close()
    assert client.get_training_runs() == []


def test_episodes_cut_short_are_reported(platform: Platform) -> None:
    """TimeLimit truncation, a reset mid-episode and close mid-episode: each reports what ran."""
    client = platform.client()
    env = make_env(client, max_episode_steps=7)
    played = run_episodes(env, 2)  # two episodes truncated by TimeLimit after 7 steps
    env.reset(seed=5)
    for _ in range(3):
        env.step(env.action_space.sample())
    partial = env.unwrapped.episode_result().metrics.as_dict()  # type: ignore[attr-defined]
    env.close()  # closes mid-episode: the 3-step episode is reported too
    run = client.get_training_run(tracker_of(env).run_id or "")
    episodes = run["episodes"]
    assert [(e["episode"], e["steps"], e["truncated"]) for e in episodes] == [(1, 7, True), (2, 7, True), (3, 3, True)]
    for stored, mine in zip(episodes, [*played, partial], strict=True):
        assert (stored["roi_pct"], stored["total_trades"]) == (mine["roi_pct"], mine["total_trades"])
    assert run["total_episodes"] == 3 and run["status"] == "completed"


def test_close_is_bounded_when_the_platform_hangs(platform: Platform, client_home: Path) -> None:
    with BlackHole() as hole:
        env = make_env(platform.client(), tracker=False, episode_length=10)
        tracker = TrainingTracker(platform.client(url=hole.url), close_timeout=0.5, request_timeout=30.0)
        trading_env(env).attach_tracker(tracker)
        run_episodes(env, 2)
        started = time.monotonic()
        env.close()
        waited = time.monotonic() - started
        assert tracker.close() is True  # already closed: returns at once
    # A bound, not a speed measurement: 0.5 s asked, the request timeout (30 s) must not apply.
    assert waited < 10.0
    journals = list(iter_journals(client_home))
    assert len(journals) == 1 and journals[0].name.startswith(f"{tracker.run_id}.")


def test_tracking_errors_are_logged_once_and_never_raised(platform: Platform, caplog: pytest.LogCaptureFixture) -> None:
    down = platform.client(url="http://127.0.0.1:9")  # nothing listens on the discard port
    env = make_env(platform.client(), tracker_client=down, episode_length=10)
    with caplog.at_level(logging.WARNING, logger="tradeready_gym.tracking"):
        run_episodes(env, 4)
        env.close()
    offline = [r for r in caplog.records if "could not deliver" in r.getMessage()]
    assert len(offline) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_run_completed_at_interpreter_exit_without_close(platform: Platform, client_home: Path) -> None:
    script = f"""
import gymnasium as gym, tradeready_gym
from agentexchange import AgentExchangeClient
from tests.gym.tracking.helpers import make_env, run_episodes, tracker_of
client = AgentExchangeClient(api_key={platform.account.api_key!r}, base_url={platform.server.url!r})
env = make_env(client, label="never_closed", episode_length=9)
run_episodes(env, 3)
print(tracker_of(env).run_id)
"""  # no env.close(): the tracker's atexit hook completes the run
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[3],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    run = platform.client().get_training_run(done.stdout.strip())
    assert (run["status"], run["total_episodes"]) == ("completed", 3)
    assert list(iter_journals(client_home)) == []
