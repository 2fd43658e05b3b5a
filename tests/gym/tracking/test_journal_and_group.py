"""The spool journal and the run group on their own (files and locks, no platform)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeready_gym.tracking.group import RunGroup, group_key, session_token
from tradeready_gym.tracking.spool import Journal, claim, default_spool_dir, journals, key_fingerprint, read_journal


def test_default_spool_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRADEREADY_HOME", str(tmp_path / "home"))
    assert default_spool_dir() == tmp_path / "home" / "spool"
    monkeypatch.delenv("TRADEREADY_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_spool_dir() == tmp_path / "xdg" / "tradeready" / "spool"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_spool_dir() == Path.home() / ".local" / "share" / "tradeready" / "spool"


def test_journal_keeps_unacknowledged_operations_in_order(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, run_id="run_abc", base_url="http://x/api/v1", api_key="ak_live_secret_key_123")
    first = journal.append({"op": "register", "body": {"run_id": "run_abc"}})
    ops = journal.append_many([{"op": "episode", "episode": {"episode": n}, "replay": None} for n in (1, 2, 3)])
    journal.ack([first, ops[0]["seq"]])
    assert not journal.all_acked
    text = journal.path.read_text()
    assert "ak_live_secret_key_123" not in text and key_fingerprint("ak_live_secret_key_123") in text

    with claim(journal.path) as handle:
        assert handle is None  # its writer is alive: nobody else may deliver it
    contents = read_journal(journal.path)
    assert contents.run_id == "run_abc" and contents.acked == 2
    assert [op["episode"]["episode"] for op in contents.pending] == [2, 3]

    journal.close(delete=False)
    with journal.path.open("a") as raw:
        raw.write('{"seq": 9, "op": "epi')  # torn by a crash
    with claim(journal.path) as handle:
        assert handle is not None
    assert [op["seq"] for op in read_journal(journal.path).pending] == [3, 4]
    assert journals(tmp_path) == [journal.path]


def test_journal_deleted_when_everything_was_delivered(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, run_id="run_abc", base_url="http://x/api/v1", api_key=None)
    journal.ack([journal.append({"op": "complete", "body": {}})])
    assert journal.all_acked
    journal.close(delete=True)
    assert journals(tmp_path) == []


def test_group_members_share_a_run_until_it_steps(tmp_path: Path) -> None:
    ids = iter(["run_one", "run_two"])
    key = group_key(session_token(), {"label": "x"})
    first = RunGroup.join(tmp_path, key, lambda: next(ids))
    second = RunGroup.join(tmp_path, key, lambda: next(ids))
    assert (first.run_id, first.member, first.created) == ("run_one", 0, True)
    assert (second.run_id, second.member, second.created) == ("run_one", 1, False)
    assert first.allocate(2) == [1, 2] and second.allocate(1) == [3]  # numbers unique across members
    view = second.report(steps=10, steps_per_second=5.0)
    assert (view.leader, view.episodes, view.members) == (False, 3, 2)
    assert first.report(steps=7, steps_per_second=4.0).leader
    late = RunGroup.join(tmp_path, key, lambda: next(ids))  # the group has stepped: sealed
    assert (late.run_id, late.created) == ("run_two", True)
    late.leave(0)


def test_last_member_to_leave_completes_with_totals(tmp_path: Path) -> None:
    key = group_key("s", {"label": "y"})
    a = RunGroup.join(tmp_path, key, lambda: "run_a")
    b = RunGroup.join(tmp_path, key, lambda: "run_never")
    a.allocate(3)
    assert a.leave(30) == (False, {"episodes": 3, "total_steps": 30, "workers": 2})
    assert b.leave(12) == (True, {"episodes": 3, "total_steps": 42, "workers": 2})
    assert group_key("s", {"label": "y"}) != group_key("other-session", {"label": "y"})


def test_without_an_api_key_tracking_is_off_and_training_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gymnasium as gym
    from tests.gym.tracking.helpers import BTC_1H, run_episodes, trading_env

    import tradeready_gym  # noqa: F401
    from tradeready_gym.tracking import TrainingTracker

    monkeypatch.setenv("TRADEREADY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TRADEREADY_API_KEY", raising=False)
    env = gym.make(
        "TradeReady-BTC-v0", data=BTC_1H, start_time="2025-01-01", end_time="2025-01-03", track_training=False
    )
    tracker = TrainingTracker()
    trading_env(env).attach_tracker(tracker)
    run_episodes(env, 2)
    env.close()
    assert tracker.run_id is None and not tracker.active
    assert not (tmp_path / "home").exists()  # nothing spooled, no group file
