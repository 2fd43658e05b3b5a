"""``tradeready demo``: the main job in one command.

Starts the platform on its embedded defaults (SQLite under ``TRADEREADY_HOME``), makes sure there is
an account, an API key and BTCUSDT 1h candles (a file you name with ``--data``, else what is stored,
else the clearly labelled SYNTHETIC demo dataset), trains a short PPO agent on
``TradeReady-BTC-Continuous-v0`` with training tracking on, prints the run's summary and the URL
where the dashboard shows it::

    tradeready demo                                   # synthetic data on a fresh machine
    tradeready demo --data BTCUSDT-1h.csv             # real candles
    tradeready demo --timesteps 20000 --serve         # train longer, keep the dashboard up

Like ``evaluate`` and ``sync``, it runs training-side code (the gym, the SDK, Stable-Baselines3), so
it imports them lazily, inside the command.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tradeready.cli._common import CliError, console, err_console, load_settings, open_session, user_errors
from tradeready.server.settings import Settings

__all__ = ["demo_command"]

SYMBOL_ENVS = {
    "BTCUSDT": "TradeReady-BTC-Continuous-v0",
    "ETHUSDT": "TradeReady-ETH-Continuous-v0",
    "SOLUSDT": "TradeReady-SOL-Continuous-v0",
}
FEATURES = ["ohlcv", "rsi_14", "macd", "bollinger", "balance", "position"]


def _ensure_key(settings: Settings) -> tuple[str, str]:
    """A fresh API key for the first account (created as ``admin`` on a new platform)."""
    from tradeready.server.store.accounts import AccountStore

    with open_session(settings) as session:
        store = AccountStore(session)
        accounts = store.list_accounts()
        if accounts:
            account = accounts[0]
            created = store.create_key(account.id, f"demo {datetime.now(UTC):%Y-%m-%d %H:%M:%S}")
        else:
            account, created = store.create_account("admin")
        session.commit()
        return account.name, created.plaintext


def _ensure_candles(settings: Settings, data: Path | None, timeframe: str) -> tuple[str, bool, int, int]:
    """Store the candles to train on; returns (symbol, synthetic?, first open time ms, last open time ms)."""
    from tradeready.server.services.market import demo_candles
    from tradeready.server.store.market import MarketStore

    with open_session(settings) as session:
        store = MarketStore(session)
        if data is not None:
            from tradeready_core.data import load_candles

            if not data.is_file():
                raise CliError(f"--data {data}: no such file")
            candles = load_candles(data, timeframe=None)
            if candles.symbol not in SYMBOL_ENVS:
                raise CliError(
                    f"--data holds {candles.symbol!r} candles; the demo trains on one of {', '.join(SYMBOL_ENVS)}"
                )
            store.insert_candles(candles)
            session.commit()
            if candles.timeframe != timeframe:
                timeframe_note = f" (resampled from {candles.timeframe})"
                err_console.print(f"Training on {timeframe} candles{timeframe_note}.")
            symbol = candles.symbol
        else:
            symbol = "BTCUSDT"
            stored = {(d.symbol, d.timeframe): d for d in store.list_datasets()}
            if not any(s == symbol for s, _ in stored):
                err_console.print(
                    "[bold yellow]No market data stored: creating the SYNTHETIC demo dataset[/bold yellow] "
                    "(generated prices, labelled source=synthetic, NOT real market data). "
                    "Use `tradeready demo --data BTCUSDT-1h.csv` or `tradeready data fetch` for real candles."
                )
                for candles in demo_candles((symbol,), timeframe, 365 * 24, 7):
                    store.insert_candles(candles)
                session.commit()
        loaded = store.load_candles(symbol, timeframe)
        return symbol, loaded.is_synthetic, int(loaded.open_time[0]), int(loaded.open_time[-1])


class _Server:
    """The platform under uvicorn in a background thread of this process."""

    def __init__(self, settings: Settings) -> None:
        import uvicorn

        from tradeready.server.app import create_app

        config = uvicorn.Config(
            create_app(settings), host=settings.host, port=settings.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="tradeready-demo-server", daemon=True)

    def start(self, timeout: float = 30.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise CliError("the platform did not start (is the port taken? try `tradeready demo --port 8001`)")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def _train(
    env_id: str, api_key: str, base_url: str, start_ms: int, end_ms: int, timesteps: int, seed: int
) -> tuple[str, list[dict[str, Any]]]:
    import gymnasium as gym
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    import tradeready_gym  # noqa: F401  (registers the environments)
    from tradeready_gym.rewards import SharpeReward
    from tradeready_gym.tracking.sb3 import TrainingTrackerCallback
    from tradeready_gym.wrappers import NormalizationWrapper

    torch.set_num_threads(1)
    episodes: list[dict[str, Any]] = []

    class PrintEpisodes(BaseCallback):
        def _on_step(self) -> bool:
            for info in self.locals.get("infos", ()):
                metrics = info.get("episode_metrics")
                if metrics is not None:
                    episodes.append(metrics)
                    console.print(
                        f"  episode {len(episodes):>3}  ROI {metrics['roi_pct']:+7.2f}%  "
                        f"Sharpe {metrics['sharpe_ratio']:+6.2f}  max DD {metrics['max_drawdown_pct']:5.2f}%  "
                        f"trades {metrics['total_trades']:>4}"
                    )
            return True

    start = datetime.fromtimestamp(start_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
    end = datetime.fromtimestamp(end_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
    env = gym.make(
        env_id,
        api_key=api_key,
        base_url=base_url,
        starting_balance=10_000,
        timeframe="1h",
        lookback_window=50,
        observation_features=FEATURES,
        reward_function=SharpeReward(window=50),
        start_time=start,
        end_time=end,
        episode_length=500,
        track_training=True,
        strategy_label="demo_ppo",
    )
    env = NormalizationWrapper(env)
    try:
        model = PPO("MlpPolicy", env, n_steps=1024, batch_size=64, n_epochs=4, learning_rate=3e-4, seed=seed, verbose=0)
        model.learn(total_timesteps=timesteps, callback=[TrainingTrackerCallback(), PrintEpisodes()])
        run_id = env.unwrapped.tracking_run_id  # type: ignore[attr-defined]
    finally:
        env.close()  # marks the training run complete
    if not isinstance(run_id, str):
        raise CliError("training finished but no training run was registered; see the log above")
    return run_id, episodes


def _print_summary(run: dict[str, Any], url: str, api_key: str, synthetic: bool) -> None:
    table = Table(title=f"Training run {run['run_id']} ({run['strategy_label']})", show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    rows = [
        ("status", str(run["status"])),
        ("episodes", str(run["total_episodes"])),
        ("avg ROI", f"{run['avg_roi_pct']:+.2f}%" if run.get("avg_roi_pct") is not None else "-"),
        ("best ROI", f"{run['best_roi_pct']:+.2f}%" if run.get("best_roi_pct") is not None else "-"),
        ("avg Sharpe", f"{run['avg_sharpe']:+.3f}" if run.get("avg_sharpe") is not None else "-"),
        ("data", "SYNTHETIC demo dataset (not real market data)" if synthetic else "real candles"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    console.print(f"\nDashboard: [bold]{url}/training/{run['run_id']}[/bold]")
    console.print(f"Sign in with the API key: [bold]{api_key}[/bold] (shown once; keep it)")


@user_errors
def demo_command(
    data: Annotated[
        Path | None, typer.Option(help="Candles to train on (CSV/Parquet/Binance ZIP of BTCUSDT, ETHUSDT or SOLUSDT).")
    ] = None,
    timesteps: Annotated[int, typer.Option(min=512, help="PPO timesteps (a short run by default).")] = 4096,
    port: Annotated[int | None, typer.Option(help="Port of the platform (default 8000).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the training run.")] = 0,
    serve: Annotated[
        bool | None,
        typer.Option("--serve/--no-serve", help="Keep the platform up after training (default: in a terminal)."),
    ] = None,
) -> None:
    """Start the platform, train a short tracked PPO run, print its summary and the dashboard URL."""
    settings = load_settings(port=port)
    url = f"http://{settings.host}:{settings.port}"
    account_name, api_key = _ensure_key(settings)
    symbol, synthetic, first_ms, last_ms = _ensure_candles(settings, data, "1h")
    # Train on the last ~120 days of the data (at least 600 hourly bars are needed for a 500-step episode).
    start_ms = max(first_ms, last_ms - 120 * 86_400_000)
    server = _Server(settings)
    server.start()
    err_console.print(f"Platform up on {url} (data in {settings.home}; account {account_name!r})")
    try:
        from agentexchange import AgentExchangeClient

        console.print(f"Training PPO on {symbol} 1h for {timesteps} steps (tracked as 'demo_ppo')...")
        run_id, _episodes = _train(SYMBOL_ENVS[symbol], api_key, url, start_ms, last_ms, timesteps, seed)
        with AgentExchangeClient(api_key=api_key, base_url=url) as client:
            run = client.get_training_run(run_id, episodes_limit=1)
        _print_summary(dict(run), url, api_key, synthetic)
        keep = sys.stdin.isatty() if serve is None else serve
        if keep and os.environ.get("CI") is None:
            console.print("The platform keeps running; press Ctrl-C to stop it.")
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
        else:
            port_option = "" if settings.port == 8000 else f" --port {settings.port}"
            console.print(f"Start the platform again with `tradeready serve{port_option}` to open the dashboard.")
    finally:
        server.stop()
