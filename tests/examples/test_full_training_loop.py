"""The guide's "Full Training Loop Example" runs as written against a real platform on loopback."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.support.platform import create_account, running, sqlite_settings
from tests.support.shared_data import BTC_1H

from agentexchange import AgentExchangeClient
from tradeready_core.data import load_candles

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "full_training_loop.py"
TOTAL_TIMESTEPS = 3 * 2048  # three PPO rollouts: one whole episode (Jan-Jun 2025) and part of the next


@pytest.mark.slow
def test_full_training_loop_example(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path / "platform-home")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEREADY_")}
    imported = subprocess.run(
        [str(Path(sys.executable).with_name("tradeready")), "data", "import", str(BTC_1H)],
        env={**base_env, "TRADEREADY_HOME": str(settings.home)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    account = create_account(settings, "trainer")

    with running(settings) as server:
        trained = subprocess.run(
            [sys.executable, str(EXAMPLE)],
            cwd=tmp_path,
            env={
                **base_env,
                "TRADEREADY_API_KEY": account.api_key,
                "TRADEREADY_BASE_URL": server.url,
                "TRADEREADY_HOME": str(tmp_path / "trainer-home"),
                "TRADEREADY_CACHE_DIR": str(tmp_path / "candle-cache"),
                "TOTAL_TIMESTEPS": str(TOTAL_TIMESTEPS),
                "OMP_NUM_THREADS": "1",  # torch on a shared 2-core machine: one thread is several times faster
            },
            capture_output=True,
            text=True,
            check=False,
        )
        assert trained.returncode == 0, trained.stderr[-4000:]
        assert (tmp_path / "ppo_btc_sharpe.zip").is_file()

        with AgentExchangeClient(api_key=account.api_key, base_url=server.url) as client:
            [listed] = client.get_training_runs(status="completed", limit=10)
            assert listed["strategy_label"] == "ppo_sharpe_v1"
            run = client.get_training_run(listed["run_id"])
            episodes = run["episodes"]

            # Every env step belongs to exactly one reported episode; the first covers January-June 2025.
            bars = len(load_candles(BTC_1H).slice("2025-01-01", "2025-07-01"))
            assert [e["episode"] for e in episodes] == [1, 2]
            assert episodes[0]["steps"] == bars - 1
            assert sum(e["steps"] for e in episodes) == TOTAL_TIMESTEPS
            assert run["total_episodes"] == 2 and run["total_steps"] == TOTAL_TIMESTEPS

            # The right metrics: the platform replayed each episode's actions through the same engine.
            for episode in episodes:
                session = client.get_backtest(episode["session_id"])
                assert session["metrics_mismatch"] is None
                for name in ("roi_pct", "sharpe_ratio", "max_drawdown_pct", "total_trades"):
                    assert episode[name] == session["metrics"][name]
                assert session["total_steps"] == episode["steps"]
            assert math.isclose(run["avg_roi_pct"], float(np.mean([e["roi_pct"] for e in episodes])), rel_tol=1e-9)

            # The learning curve is the episodes' values with a trailing mean.
            curve = client.get_learning_curve(run["run_id"], metric="roi_pct", window=10)["curve"]
            roi = [e["roi_pct"] for e in episodes]
            assert [p["value"] for p in curve] == roi
            assert [p["smoothed"] for p in curve] == pytest.approx([roi[0], (roi[0] + roi[1]) / 2], rel=1e-12)

            assert run["config"]["reward"] == {"name": "SharpeReward", "params": {"window": 50, "max_ratio": 10.0}}
            wrappers = [w["name"] for w in run["config"]["wrappers"]]
            assert wrappers[:3] == ["DummyVecEnv", "Monitor", "NormalizationWrapper"]
