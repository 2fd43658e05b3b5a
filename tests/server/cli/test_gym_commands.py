"""`tradeready evaluate` end to end: a tiny PPO trained here on real BTCUSDT 1h candles, then evaluated."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import gymnasium as gym
import pandas as pd
import pytest
import torch
import typer
from stable_baselines3 import PPO
from tests.support.platform import AccountKey, LiveServer
from tests.support.shared_data import MARKET
from typer.testing import CliRunner

import tradeready_gym  # noqa: F401  (registers the env ids)
from agentexchange import AgentExchangeClient
from tradeready.cli.gym_commands import register
from tradeready.cli.main import app
from tradeready_gym.evaluation import evaluate

HELD_OUT = ("--start", "2024-03-01", "--end", "2024-04-01")


def test_register_adds_the_evaluate_command() -> None:
    shell = typer.Typer()

    @shell.callback()
    def main() -> None:
        """A bare app."""

    register(shell)
    assert "Evaluate a trained model" in CliRunner().invoke(shell, ["evaluate", "--help"]).output


@pytest.fixture(scope="module")
def candles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """January to March 2024 of real BTCUSDT 1h candles: train on Jan-Feb, evaluate on March."""
    frame = pd.read_csv(MARKET / "BTCUSDT-1h.csv")
    frame = frame[(frame["open_time"] >= "2024-01-01") & (frame["open_time"] < "2024-04-01")]
    path = tmp_path_factory.mktemp("data") / "BTCUSDT-1h.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model_path(candles: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PPO trained for a few hundred steps (tiny network, one thread) and saved."""
    torch.set_num_threads(1)
    env = gym.make(
        "TradeReady-BTC-v0", data=str(candles), end_time="2024-03-01", episode_length=128, track_training=False
    )
    model = PPO(
        "MlpPolicy", env, n_steps=128, batch_size=64, n_epochs=1, policy_kwargs={"net_arch": [16]}, seed=0, device="cpu"
    )
    model.learn(total_timesteps=256)
    path = tmp_path_factory.mktemp("models") / "ppo_btc"
    model.save(path)
    env.close()
    return path.with_suffix(".zip")


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("TRADEREADY_API_KEY", raising=False)
    monkeypatch.delenv("TRADEREADY_BASE_URL", raising=False)
    return CliRunner()


def invoke(runner: CliRunner, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["evaluate", *args])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def held_out_env(candles: Path, **kwargs: Any) -> gym.Env[Any, Any]:
    return gym.make(
        "TradeReady-BTC-v0",
        data=str(candles),
        start_time="2024-03-01",
        end_time="2024-04-01",
        episode_length=200,
        track_training=False,
        **kwargs,
    )


def test_evaluate_offline_prints_the_table_and_the_verdict(
    runner: CliRunner, model_path: Path, candles: Path, tmp_path: Path
) -> None:
    output = invoke(
        runner, str(model_path), "--env", "TradeReady-BTC-v0", *HELD_OUT,
        "--episodes", "3", "--episode-length", "200", "--seed", "7", "--data", str(candles),
        "--csv", str(tmp_path / "episodes.csv"),
    )  # fmt: skip
    for agent in ("PPO", "buy_and_hold", "sma_crossover", "rsi_mean_reversion"):
        assert re.search(rf"│ {agent}\s+│", output), output
    assert "3 episode(s) of 200 steps" in output and "fee 0.1000%" in output
    # the same numbers as evaluate() on the same held-out episodes
    expected = evaluate(PPO.load(model_path, device="cpu"), held_out_env(candles), 3, seed=7, name="PPO")
    assert expected.verdict() in " ".join(output.split())
    hold = next(s for s in expected.summary if s.agent == "buy_and_hold")
    assert f"{hold.mean_roi_pct:+.2f}" in output
    assert "Recorded" not in output
    written = pd.read_csv(tmp_path / "episodes.csv")
    pd.testing.assert_frame_equal(written, expected.to_frame(), check_dtype=False)


def test_evaluate_records_the_evaluation_linked_to_the_run(
    runner: CliRunner, model_path: Path, candles: Path, live_server: LiveServer, account: AccountKey
) -> None:
    with AgentExchangeClient(api_key=account.api_key, base_url=live_server.url) as client:
        run_id = client.create_training_run(strategy_label="ppo_btc", env_id="TradeReady-BTC-v0")["run_id"]
        output = invoke(
            runner, str(model_path), *HELD_OUT, "--episodes", "2", "--episode-length", "200",
            "--data", str(candles), "--run-id", run_id, "--api-key", account.api_key, "--base-url", live_server.url,
        )  # fmt: skip
        match = re.search(r"Recorded on the platform as (eval_\w+), linked to (run_\w+)", output)
        assert match is not None, output
        assert match.group(2) == run_id
        [listed] = client.list_evaluations(run_id=run_id)
        assert listed["evaluation_id"] == match.group(1)
        assert listed["model"] == "PPO" and listed["n_episodes"] == 2
        assert [a["name"] for a in listed["agents"]] == ["PPO", "buy_and_hold", "sma_crossover", "rsi_mean_reversion"]


def test_user_errors_are_one_line(runner: CliRunner, model_path: Path, candles: Path, tmp_path: Path) -> None:
    out = invoke(runner, str(model_path), *HELD_OUT, code=1)
    assert "no candles: pass --data FILE" in out
    out = invoke(runner, str(model_path), "--data", str(candles), "--run-id", "run_abc", code=1)
    assert "--run-id links the evaluation on the platform" in out
    out = invoke(runner, str(tmp_path / "missing.zip"), "--data", str(candles), code=1)
    assert "no saved model at" in out
    out = invoke(runner, str(model_path), "--data", str(candles), "--algo", "TD3", code=1)
    assert "--algo must be one of PPO, A2C, DQN, SAC; got 'TD3'" in out
    out = invoke(runner, str(model_path), "--data", str(candles), "--env", "TradeReady-DOGE-v0", code=1)
    assert "--env must be one of" in out
    out = invoke(runner, str(model_path), *HELD_OUT, "--data", str(candles), "--lookback-window", "10", code=1)
    assert "pass the --lookback-window and --features used in training" in out
    out = invoke(
        runner, str(model_path), *HELD_OUT, "--data", str(candles), "--env", "TradeReady-BTC-Continuous-v0", code=1
    )
    assert "evaluate it on the env id it was trained on" in out
