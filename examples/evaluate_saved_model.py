"""Evaluate a saved model on a held-out period, next to rule-based baselines, and record it.

Shows the evaluation API: ``tradeready_gym.evaluation.evaluate`` runs the trained model and the
baselines (buy-and-hold, SMA crossover, RSI mean reversion) on the same held-out episodes (same
windows, same fees and slippage) and reports the same metrics for each. The evaluation is
recorded on the platform as a strategy test linked to the training run it evaluates (found here
through the SDK by the run's ``strategy_label``), so the dashboard can show the run next to its
baselines: does the agent beat buy-and-hold after fees?

The model is the one ``examples/dqn_discrete.py`` saves (``dqn_btc.zip`` and its observation
statistics ``dqn_btc_obs_stats.npz``); it was trained on January-June 2025 and is evaluated on
July-September 2025, which it never saw.

Run it (after ``examples/dqn_discrete.py``)::

    TRADEREADY_API_KEY=ak_live_... python examples/evaluate_saved_model.py

Environment variables: ``TRADEREADY_API_KEY`` (required), ``TRADEREADY_BASE_URL``,
``MODEL_PATH`` (default ``dqn_btc.zip``), ``OBS_STATS_PATH`` (default ``dqn_btc_obs_stats.npz``),
``N_EPISODES`` (default 10), ``EPISODE_LENGTH`` (default 720 steps).
"""

import os

import gymnasium as gym
from stable_baselines3 import DQN

import tradeready_gym  # noqa: F401  (registers the environments)
from agentexchange import AgentExchangeClient
from tradeready_gym.evaluation import evaluate
from tradeready_gym.wrappers import NormalizationWrapper

MODEL_PATH = os.environ.get("MODEL_PATH", "dqn_btc.zip")
OBS_STATS_PATH = os.environ.get("OBS_STATS_PATH", "dqn_btc_obs_stats.npz")
N_EPISODES = int(os.environ.get("N_EPISODES", 10))
EPISODE_LENGTH = int(os.environ.get("EPISODE_LENGTH", 720))

client = AgentExchangeClient(api_key=os.environ["TRADEREADY_API_KEY"])  # base URL: TRADEREADY_BASE_URL

# The training run this model came from: the latest completed run labelled "dqn_btc_v1".
runs = client.get_training_runs(status="completed", strategy_label="dqn_btc_v1", limit=1)
run_id = runs[0]["run_id"] if runs else None
print("evaluating the model of run", run_id)

# The same env as in training (same features and lookback), on a period the model never saw.
env = gym.make(
    "TradeReady-BTC-v0",
    api_key=os.environ["TRADEREADY_API_KEY"],
    timeframe="1h",
    lookback_window=24,
    start_time="2025-07-01T00:00:00Z",
    end_time="2025-10-01T00:00:00Z",
    episode_length=EPISODE_LENGTH,
    track_training=False,  # evaluation episodes are not training episodes
)
env = NormalizationWrapper(env)
env.load(OBS_STATS_PATH)  # the training statistics; evaluate() freezes them

model = DQN.load(MODEL_PATH)
result = evaluate(model, env, n_episodes=N_EPISODES, seed=0, run_id=run_id, name="dqn_btc_v1", client=client)
print(result)  # per agent: mean ROI, Sharpe, max drawdown, trades, win rate, and the verdict
print("beats buy-and-hold after fees:", result.beats_buy_and_hold)
print("recorded as", result.evaluation_id)
env.close()
client.close()
