"""The SDK's training methods against the live training API (both databases): the two must agree."""

from __future__ import annotations

import asyncio

import pytest
from tests.support.platform import AccountKey, LiveServer

from agentexchange import AgentExchangeClient, AsyncAgentExchangeClient, ConflictError, NotFoundError


def test_sdk_write_and_read_methods_round_trip(live_server: LiveServer, account: AccountKey) -> None:
    with AgentExchangeClient(api_key=account.api_key, base_url=live_server.url) as client:
        run = client.create_training_run(
            strategy_label="ppo_v1", run_id="run_ppo_v1", env_id="TradeReady-BTC-v0", config={"lr": 3e-4}
        )
        assert run["run_id"] == "run_ppo_v1" and run["status"] == "running"
        again = client.create_training_run(strategy_label="ppo_v1", run_id="run_ppo_v1")
        assert again["started_at"] == run["started_at"]
        base = {"max_drawdown_pct": 2.0, "total_trades": 3, "reward_sum": 0.1, "sharpe_ratio": 0.5}
        first = client.report_episode("run_ppo_v1", {"episode": 1, "roi_pct": -1.2, **base})
        assert (first["accepted"], first["duplicates"], first["total_episodes"]) == (1, 0, 1)
        resent = [{"episode": 1, "roi_pct": -1.2, **base}, {"episode": 2, "roi_pct": 0.4, **base}]
        batch = client.report_episodes("run_ppo_v1", resent)
        assert (batch["accepted"], batch["duplicates"], batch["total_episodes"]) == (1, 1, 2)
        with pytest.raises(ConflictError):
            client.report_episode("run_ppo_v1", {"episode": 2, "roi_pct": 9.0, **base})
        beat = client.send_heartbeat(
            "run_ppo_v1", step=10, episode=3, episode_steps=4, steps_per_second=50.0, total_timesteps=100
        )
        assert beat["status"] == "running" and beat["accepted"] is True
        done = client.complete_training_run("run_ppo_v1", final_stats={"episodes": 2})
        assert done["status"] == "completed"

        # the seed's "Python SDK Access" sample
        runs = client.get_training_runs(status="completed", limit=10)
        assert [r["run_id"] for r in runs] == ["run_ppo_v1"]
        detail = client.get_training_run(run_id="run_ppo_v1")
        assert detail["total_episodes"] == 2 and detail["avg_roi_pct"] == pytest.approx(-0.4)
        assert detail["avg_sharpe"] == 0.5 and detail["config"] == {"lr": 3e-4}
        assert [e["episode"] for e in detail["episodes"]] == [1, 2]
        curve = client.get_learning_curve("run_ppo_v1", metric="roi_pct", window=10)
        assert curve["curve"] == [
            {"episode": 1, "value": -1.2, "smoothed": -1.2},
            {"episode": 2, "value": 0.4, "smoothed": -0.4},
        ]
        client.create_training_run(strategy_label="dqn_v1", run_id="run_dqn_v1")
        comparison = client.compare_training_runs(run_ids=["run_ppo_v1", "run_dqn_v1"])
        assert [r["run_id"] for r in comparison["runs"]] == ["run_ppo_v1", "run_dqn_v1"]
        assert comparison["best"]["avg_roi_pct"] == "run_ppo_v1"
        with pytest.raises(NotFoundError) as missing:
            client.get_training_run("run_missing")
        assert missing.value.code == "run_not_found"


def test_async_sdk_reads_and_foreign_runs_are_not_found(
    live_server: LiveServer, account: AccountKey, other_account: AccountKey
) -> None:
    async def scenario() -> None:
        async with (
            AsyncAgentExchangeClient(api_key=account.api_key, base_url=live_server.url) as alice,
            AsyncAgentExchangeClient(api_key=other_account.api_key, base_url=live_server.url) as mallory,
        ):
            run = await alice.create_training_run(strategy_label="a2c")
            runs = await alice.get_training_runs()
            assert [r["run_id"] for r in runs] == [run["run_id"]]
            with pytest.raises(NotFoundError):
                await mallory.get_training_run(run["run_id"])
            with pytest.raises(NotFoundError):
                await mallory.report_episode(
                    run["run_id"],
                    {"episode": 1, "roi_pct": 1.0, "max_drawdown_pct": 1.0, "total_trades": 0, "reward_sum": 0.0},
                )
            assert (await alice.get_training_run(run["run_id"]))["total_episodes"] == 0

    asyncio.run(scenario())
