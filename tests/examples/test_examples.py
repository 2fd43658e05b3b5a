"""Every example script runs, with tiny step counts, against a real platform on loopback.

One platform (SQLite) per module, with real BTCUSDT, ETHUSDT and SOLUSDT 1h candles imported
through ``tradeready data import``; each example runs as a subprocess in its own working
directory, exactly as a user would run it, and the test then checks what it left on the
platform (runs, episodes, configs, evaluations) through the SDK. Each example's strategy label is
its own, so the examples sharing the platform never see each other's runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.support.platform import AccountKey, LiveServer, create_account, sqlite_settings
from tests.support.shared_data import MARKET

from agentexchange import AgentExchangeClient
from agentexchange.types import TrainingRunDetail

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CANDLE_FILES = [MARKET / f"{symbol}-1h.csv" for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT")]

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Platform:
    server: LiveServer
    account: AccountKey

    def client(self) -> AgentExchangeClient:
        return AgentExchangeClient(api_key=self.account.api_key, base_url=self.server.url)

    def only_run(self, label: str) -> TrainingRunDetail:
        """The single run labelled ``label`` (any status), in detail."""
        with self.client() as client:
            runs = client.get_training_runs(strategy_label=label, limit=100)
            assert [r["strategy_label"] for r in runs] == [label], runs
            return client.get_training_run(runs[0]["run_id"])


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TRADEREADY_")}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    settings = sqlite_settings(tmp_path_factory.mktemp("platform") / "home")
    imported = subprocess.run(
        [str(Path(sys.executable).with_name("tradeready")), "data", "import", *map(str, CANDLE_FILES)],
        env={**_base_env(), "TRADEREADY_HOME": str(settings.home)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    account = create_account(settings, "examples")
    server = LiveServer(settings).start()
    try:
        yield Platform(server, account)
    finally:
        server.stop()


def run_example(platform: Platform, name: str, cwd: Path, **env: int | str) -> subprocess.CompletedProcess[str]:
    """Run ``examples/<name>.py`` in ``cwd`` as a user would, with the platform's URL and key."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        cwd=cwd,
        env={
            **_base_env(),
            "TRADEREADY_API_KEY": platform.account.api_key,
            "TRADEREADY_BASE_URL": platform.server.url,
            "TRADEREADY_HOME": str(cwd / "trainer-home"),
            "TRADEREADY_CACHE_DIR": str(cwd / "candle-cache"),
            "OMP_NUM_THREADS": "1",  # torch on a shared 2-core machine
            "MKL_NUM_THREADS": "1",
            **{key: str(value) for key, value in env.items()},
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-4000:]}"
    return done


def assert_completed(run: TrainingRunDetail, episodes: int, steps: int, env_id: str) -> None:
    assert run["status"] == "completed"
    assert run["env_id"] == env_id
    assert run["total_episodes"] == episodes
    assert [e["episode"] for e in run["episodes"]] == list(range(1, episodes + 1))
    assert all(e["steps"] == steps for e in run["episodes"]), [e["steps"] for e in run["episodes"]]
    assert all(e["session_id"] for e in run["episodes"])  # each episode replayed into a backtest session


def config(run: TrainingRunDetail) -> dict[str, Any]:
    cfg = run["config"]
    assert isinstance(cfg, dict)
    return cfg


def test_every_example_is_tested() -> None:
    source = Path(__file__).read_text()
    tested = set(re.findall(r'run_example\(\s*platform,\s*"(\w+)"', source))
    tested.add("full_training_loop")  # tests/examples/test_full_training_loop.py
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested


def test_every_example_says_what_it_shows_and_how_to_run_it() -> None:
    for path in EXAMPLES.glob("*.py"):
        text = path.read_text()
        assert text.startswith('"""'), path.name
        docstring = text.split('"""')[1]
        assert "python examples/" + path.name in docstring, path.name
        assert "TRADEREADY_API_KEY" in docstring, path.name


def test_random_agent(platform: Platform, tmp_path: Path) -> None:
    done = run_example(platform, "random_agent", tmp_path, N_EPISODES=3, EPISODE_LENGTH=20)

    run = platform.only_run("random_baseline")
    assert_completed(run, episodes=3, steps=20, env_id="TradeReady-BTC-v0")
    printed = [float(m) for m in re.findall(r"ROI ([+-]\d+\.\d+)%", done.stdout)]
    assert printed == [round(e["roi_pct"], 2) for e in run["episodes"]]


def test_dqn_then_evaluate_the_saved_model(platform: Platform, tmp_path: Path) -> None:
    run_example(platform, "dqn_discrete", tmp_path, TOTAL_TIMESTEPS=100, EPISODE_LENGTH=25)
    assert (tmp_path / "dqn_btc.zip").is_file()
    assert (tmp_path / "dqn_btc_obs_stats.npz").is_file()
    run = platform.only_run("dqn_btc_v1")
    assert_completed(run, episodes=4, steps=25, env_id="TradeReady-BTC-v0")
    assert config(run)["algorithm"] == "DQN"
    assert run["total_timesteps"] == 100

    done = run_example(platform, "evaluate_saved_model", tmp_path, N_EPISODES=2, EPISODE_LENGTH=30)
    with platform.client() as client:
        [summary] = client.list_evaluations(run_id=run["run_id"])
        evaluation = client.get_evaluation(summary["evaluation_id"])
    assert summary["evaluation_id"] in done.stdout
    assert evaluation["run_id"] == run["run_id"]
    agents = {a["name"]: a for a in evaluation["agents"]}
    assert set(agents) == {"dqn_btc_v1", "buy_and_hold", "sma_crossover", "rsi_mean_reversion"}
    assert all(len(a["episodes"]) == 2 for a in agents.values())
    # held out: every evaluated window lies after the training period (July-September 2025)
    assert [w["steps"] for w in evaluation["episodes"]] == [30, 30]
    assert all(w["start_time"] >= 1_751_328_000_000 for w in evaluation["episodes"])


def test_sac_continuous(platform: Platform, tmp_path: Path) -> None:
    run_example(platform, "sac_continuous", tmp_path, TOTAL_TIMESTEPS=100, EPISODE_LENGTH=25)

    assert (tmp_path / "sac_eth.zip").is_file()
    run = platform.only_run("sac_eth_sortino")
    assert_completed(run, episodes=4, steps=25, env_id="TradeReady-ETH-Continuous-v0")
    assert config(run)["reward"] == {"name": "SortinoReward", "params": {"window": 48, "max_ratio": 10.0}}
    assert config(run)["algorithm"] == "SAC"


def test_portfolio(platform: Platform, tmp_path: Path) -> None:
    done = run_example(platform, "portfolio", tmp_path, TOTAL_TIMESTEPS=64, EPISODE_LENGTH=32)

    # one PPO rollout of 256 steps = 8 episodes, then the script's own deterministic episode
    run = platform.only_run("ppo_portfolio_v1")
    assert_completed(run, episodes=9, steps=32, env_id="TradeReady-Portfolio-v0")
    assert config(run)["dataset"]["symbols"] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert config(run)["reward"]["name"] == "CompositeReward"
    last = run["episodes"][-1]
    assert f"episode ROI: {last['roi_pct']:+.2f}%" in done.stdout


def test_custom_reward(platform: Platform, tmp_path: Path) -> None:
    run_example(platform, "custom_reward", tmp_path, TOTAL_TIMESTEPS=64, EPISODE_LENGTH=64)

    run = platform.only_run("ppo_fee_aware")
    assert_completed(run, episodes=4, steps=64, env_id="TradeReady-BTC-Continuous-v0")
    assert config(run)["reward"] == {
        "name": "FeeAwareLogReturn",
        "params": {"fee_penalty": 2.0, "max_exposure": 0.8, "exposure_penalty": 0.0001},
    }


def test_custom_features(platform: Platform, tmp_path: Path) -> None:
    done = run_example(platform, "custom_features", tmp_path, TOTAL_TIMESTEPS=64, EPISODE_LENGTH=16)

    run = platform.only_run("a2c_custom_features")
    assert_completed(run, episodes=4, steps=16, env_id="TradeReady-SOL-Continuous-v0")
    features = config(run)["features"]
    assert features["features"] == [
        *("returns", "atr", "adx", "volume", "bollinger"),
        *("balance", "position", "unrealized_pnl"),
    ]
    assert "observation size: 91 = 12 x 7" in done.stdout  # 12 x 7 columns + 3 scalars + 4 calendar values
    assert any("CalendarFeatures" in str(w) for w in config(run)["wrappers"])


def test_vectorized_training_is_one_run(platform: Platform, tmp_path: Path) -> None:
    run_example(platform, "vectorized_training", tmp_path, N_ENVS=2, N_STEPS=32, TOTAL_TIMESTEPS=64, EPISODE_LENGTH=16)

    # 2 workers x 32 steps = 2 episodes each, reported as ONE run numbered 1..4
    run = platform.only_run("ppo_vec_btc")
    assert_completed(run, episodes=4, steps=16, env_id="TradeReady-BTC-Continuous-v0")
    assert config(run)["algorithm"] == "PPO"
    assert (tmp_path / "ppo_vec_btc.zip").is_file()


def test_compare_runs(platform: Platform, tmp_path: Path) -> None:
    for _ in range(2):  # two more completed runs to compare, whatever else ran before
        run_example(platform, "random_agent", tmp_path, N_EPISODES=2, EPISODE_LENGTH=10)
    done = run_example(platform, "compare_runs", tmp_path, WINDOW=2)

    with platform.client() as client:
        runs = client.get_training_runs(status="completed", limit=50)
        best = client.compare_training_runs(run_ids=[r["run_id"] for r in runs[:10]])["best"]
    assert len(runs) >= 2
    for run in runs:
        assert run["run_id"] in done.stdout
    assert f"best run per metric: {best}" in done.stdout
    assert "unknown run -> NotFoundError (run_not_found)" in done.stdout
