"""A random agent on ``TradeReady-BTC-v0``, tracked on the platform: the smallest complete loop.

Shows the plain Gymnasium loop (no RL library), what ``info`` holds at the end of an episode
(``episode_metrics``) and that tracking needs nothing but an API key: every episode appears on the
dashboard's /training page under the label ``random_baseline``.

Run it against a platform with BTCUSDT 1h candles::

    tradeready serve &
    tradeready data import BTCUSDT-1h.csv
    TRADEREADY_API_KEY=ak_live_... python examples/random_agent.py

Environment variables: ``TRADEREADY_API_KEY`` (required), ``TRADEREADY_BASE_URL`` (default
``http://localhost:8000``), ``N_EPISODES`` (default 5), ``EPISODE_LENGTH`` (steps per episode,
default 720 = 30 days of 1h candles).
"""

import os

import gymnasium as gym

import tradeready_gym  # noqa: F401  (registers the environments)

N_EPISODES = int(os.environ.get("N_EPISODES", 5))
EPISODE_LENGTH = int(os.environ.get("EPISODE_LENGTH", 720))

env = gym.make(
    "TradeReady-BTC-v0",
    api_key=os.environ["TRADEREADY_API_KEY"],
    timeframe="1h",
    start_time="2025-01-01T00:00:00Z",
    end_time="2025-07-01T00:00:00Z",
    episode_length=EPISODE_LENGTH,  # a random window of this many steps per reset
    strategy_label="random_baseline",
)

for episode in range(N_EPISODES):
    obs, info = env.reset(seed=episode)
    done = False
    while not done:
        action = env.action_space.sample()  # 0 = hold, 1 = buy, 2 = sell
        obs, reward, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    m = info["episode_metrics"]
    print(
        f"episode {episode + 1}: ROI {m['roi_pct']:+.2f}%  Sharpe {m['sharpe_ratio']:+.2f}  "
        f"max DD {m['max_drawdown_pct']:.2f}%  trades {m['total_trades']}"
    )

env.close()  # marks the training run complete
