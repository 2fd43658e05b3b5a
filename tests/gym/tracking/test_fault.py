"""Fault test: the platform is stopped in the middle of training and started again."""

from __future__ import annotations

from pathlib import Path

from tests.gym.tracking.helpers import Platform, iter_journals, make_env, tracker_of


def test_platform_restart_mid_training_loses_and_duplicates_nothing(platform: Platform, client_home: Path) -> None:
    client = platform.client()
    env = make_env(client, episode_length=8)
    env.action_space.seed(3)
    played: list[dict[str, float]] = []
    stop_after, restart_after, total = 6, 14, 20
    for k in range(total):
        if k == stop_after:
            platform.server.stop()  # in the middle of training, with the sender possibly mid-request
        if k == restart_after:
            assert tracker_of(env).flush(2.0) is False  # the episodes played meanwhile could not be delivered
            assert len(list(iter_journals(client_home))) == 1  # ... so they are in the spool
            platform.server.start()
        env.reset(seed=k)
        done, reward_sum = False, 0.0
        while not done:
            _, reward, terminated, truncated, info = env.step(env.action_space.sample())
            reward_sum += float(reward)
            done = terminated or truncated
        played.append({**info["episode_metrics"], "reward_sum": reward_sum})
    env.close()

    run = client.get_training_run(tracker_of(env).run_id or "")
    assert run["status"] == "completed"
    assert run["total_episodes"] == total
    episodes = run["episodes"]
    assert [e["episode"] for e in episodes] == list(range(1, total + 1))  # none lost, none duplicated
    for stored, mine in zip(episodes, played, strict=True):
        assert (stored["roi_pct"], stored["sharpe_ratio"], stored["max_drawdown_pct"], stored["total_trades"]) == (
            mine["roi_pct"],
            mine["sharpe_ratio"],
            mine["max_drawdown_pct"],
            mine["total_trades"],
        )
        assert stored["session_id"]
    sessions = client.list_backtests(training_run_id=run["run_id"], limit=100)
    assert sorted(s["episode"] for s in sessions) == list(range(1, total + 1))
    assert list(iter_journals(client_home)) == []
