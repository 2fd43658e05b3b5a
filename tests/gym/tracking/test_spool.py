"""Spooling while the platform is unreachable, and delivering the spool later (exactly once)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.gym.tracking.helpers import Platform, iter_journals, make_env, run_episodes, tracker_of
from tests.support.platform import create_account

from agentexchange import AgentExchangeClient
from tradeready_gym.tracking import sender as sender_module
from tradeready_gym.tracking import sync
from tradeready_gym.tracking.spool import Journal, read_journal


def _spool_a_run(platform: Platform, episodes: int = 4) -> tuple[str, list[dict[str, float]]]:
    """Train while the platform is down; returns the run id and what the trainer saw."""
    env = make_env(platform.client(), episode_length=12)
    env.reset(seed=0)  # candles are downloaded (and cached) while the platform is up
    assert tracker_of(env).flush(30.0)  # the run is registered
    platform.server.stop()
    played = run_episodes(env, episodes)
    tracker = tracker_of(env)
    assert tracker.close(timeout=2.0) is False  # nothing could be delivered
    assert tracker.run_id is not None
    return tracker.run_id, played


def test_spooled_run_is_delivered_when_the_next_run_starts(platform: Platform, client_home: Path) -> None:
    run_id, played = _spool_a_run(platform)
    [journal] = iter_journals(client_home)
    contents = read_journal(journal)
    assert [op["op"] for op in contents.pending] == ["episode"] * 4 + ["complete"]
    assert [op["episode"]["episode"] for op in contents.pending[:4]] == [1, 2, 3, 4]
    assert platform.account.api_key not in journal.read_text()

    platform.server.start()
    client = platform.client()
    env = make_env(client, label="next_run", episode_length=12)
    run_episodes(env, 1)  # the next run's sender delivers the old spool first
    env.close()
    run = client.get_training_run(run_id)
    assert run["status"] == "completed"
    # the first reset's unfinished episode (0 steps) is not an episode; the four played ones are
    stored = [(e["episode"], e["roi_pct"], e["steps"]) for e in run["episodes"]]
    assert stored == [(n, p["roi_pct"], 12) for n, p in enumerate(played, start=1)]
    assert all(e["session_id"] for e in run["episodes"])
    assert list(iter_journals(client_home)) == []


def test_sync_delivers_and_a_resend_is_idempotent(platform: Platform, client_home: Path, tmp_path: Path) -> None:
    run_id, played = _spool_a_run(platform, episodes=3)
    [journal] = iter_journals(client_home)
    copy = tmp_path / "copy.jsonl"
    shutil.copy(journal, copy)
    platform.server.start()
    client = platform.client()

    report = sync(client)
    assert report.delivered == [journal.name] and report.episodes == 3 and not report.remaining
    first = client.get_training_run(run_id)
    assert first["total_episodes"] == 3 and first["status"] == "completed"

    shutil.copy(copy, journal)  # the same journal again, as if a delivery's answer had been lost
    again = sync(client)
    assert again.delivered == [journal.name]
    second = client.get_training_run(run_id)
    assert second["total_episodes"] == 3
    assert [e["episode"] for e in second["episodes"]] == [1, 2, 3]
    assert [e["session_id"] for e in second["episodes"]] == [e["session_id"] for e in first["episodes"]]
    assert [e["roi_pct"] for e in second["episodes"]] == [p["roi_pct"] for p in played]
    assert client.list_backtests(training_run_id=run_id, limit=100).__len__() == 3  # one session per episode


def test_command_line_sync(platform: Platform, client_home: Path) -> None:
    run_id, _ = _spool_a_run(platform, episodes=2)
    with open(next(iter_journals(client_home)), "a", encoding="utf-8") as handle:
        handle.write('{"seq": 99, "op": "epis')  # a torn last line (the writer died mid-write) is ignored
    platform.server.start()
    env = {**os.environ, "TRADEREADY_API_KEY": platform.account.api_key, "TRADEREADY_HOME": str(client_home)}
    done = subprocess.run(
        [sys.executable, "-m", "tradeready_gym.tracking", "sync"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "delivered 1 spooled run journal(s), 2 episode(s)" in done.stdout
    assert platform.client().get_training_run(run_id)["total_episodes"] == 2
    assert list(iter_journals(client_home)) == []


def test_a_journal_is_only_delivered_with_the_key_that_wrote_it(platform: Platform, client_home: Path) -> None:
    run_id, _ = _spool_a_run(platform, episodes=1)
    platform.server.start()
    other = create_account(platform.server.settings, "bob")
    report = sync(api_key=other.api_key, base_url=platform.server.url)
    assert report.delivered == [] and list(report.remaining.values()) == ["written for another platform or API key"]
    assert len(list(iter_journals(client_home))) == 1
    assert [(r["run_id"], r["total_episodes"]) for r in platform.client().get_training_runs()] == [(run_id, 0)]
    with AgentExchangeClient(api_key=other.api_key, base_url=platform.server.url) as bob:
        assert bob.get_training_runs() == []


def test_worker_journal_delivered_after_the_journal_that_registers_its_run(platform: Platform, tmp_path: Path) -> None:
    """Workers of one run journal separately; a worker's episodes may come before the registration."""
    spool = tmp_path / "spool"
    url, key = platform.client().base_url, platform.account.api_key
    episode = {"roi_pct": 1.5, "sharpe_ratio": 0.2, "max_drawdown_pct": 3.0, "total_trades": 4, "reward_sum": 0.1}
    worker = Journal.create(spool, run_id="run_0123456789abcdef", base_url=url, api_key=key)
    worker.append_many([{"op": "episode", "episode": {**episode, "episode": n}, "replay": None} for n in (2, 4)])
    worker.close(delete=False)
    leader = Journal.create(spool, run_id="run_0123456789abcdef", base_url=url, api_key=key)
    leader.append({"op": "register", "body": {"run_id": "run_0123456789abcdef", "strategy_label": "two_workers"}})
    leader.append_many([{"op": "episode", "episode": {**episode, "episode": n}, "replay": None} for n in (1, 3)])
    leader.append({"op": "complete", "body": {"final_stats": {"workers": 2}, "status": "completed"}})
    leader.close(delete=False)
    os.utime(worker.path, (1_000_000, 1_000_000))  # the worker's journal is the oldest: delivered first

    report = sync(api_key=key, spool_dir=spool)
    assert sorted(report.delivered) == sorted([worker.path.name, leader.path.name]) and not report.remaining
    run = platform.client().get_training_run("run_0123456789abcdef")
    assert [e["episode"] for e in run["episodes"]] == [1, 2, 3, 4] and run["status"] == "completed"


def test_long_runs_keep_the_journal_small(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sender_module, "ROTATE_BYTES", 1)  # replace the journal after every delivery
    client = platform.client()
    env = make_env(client, episode_length=6)
    env.reset(seed=0)
    tracker = tracker_of(env)
    assert tracker.flush(30.0)
    seen = {tracker.journal_path}
    for k in range(3):
        run_episodes(env, 2, seed=k)
        assert tracker.flush(30.0)
        seen.add(tracker.journal_path)
    assert len(seen) >= 3  # rotated: each fully delivered journal was replaced by a fresh one
    env.close()
    assert client.get_training_run(tracker.run_id or "")["total_episodes"] == 6


def test_a_full_spool_keeps_episodes_without_their_action_log(
    platform: Platform, client_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sender_module, "MAX_SPOOL_BYTES", 1)
    run_id, played = _spool_a_run(platform, episodes=3)
    platform.server.start()
    assert sync(platform.client()).episodes == 3
    run = platform.client().get_training_run(run_id)
    assert [e["roi_pct"] for e in run["episodes"]] == [p["roi_pct"] for p in played]
    assert [e["session_id"] for e in run["episodes"]] == [None, None, None]
