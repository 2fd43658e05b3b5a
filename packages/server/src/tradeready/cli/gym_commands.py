"""The CLI's training-side commands: ``tradeready evaluate``, ``tradeready sync`` and ``tradeready demo``.

They run the gym (and Stable-Baselines3) in the CLI's process, so they are the only part of the
``tradeready`` distribution that imports ``tradeready_gym`` and ``agentexchange``, always lazily
(inside the command), so the rest of the CLI and the server never load them. Registered on the
main app by :func:`register`::

    tradeready evaluate ppo_btc.zip --env TradeReady-BTC-v0 --start 2025-07-01 --end 2025-10-01 \\
        --episodes 10 --episode-length 720 --run-id run_abc123
    tradeready evaluate ppo_btc.zip --data BTCUSDT-1h.csv --episodes 5 --episode-length 500   # offline

The model and the baselines (buy-and-hold, SMA crossover, RSI mean reversion) trade the same
held-out episodes with the same fees; the table shows each one's means and the verdict "does the
agent beat buy-and-hold after fees?". With an API key (``--api-key`` or ``TRADEREADY_API_KEY``)
the evaluation is recorded on the platform, linked to ``--run-id``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.table import Table

from tradeready.cli._common import CliError, console, err_console, user_errors

if TYPE_CHECKING:
    from tradeready_gym.evaluation import EvaluationResult

__all__ = ["ALGORITHMS", "evaluate_command", "register", "sync_command"]

ALGORITHMS: Final[tuple[str, ...]] = ("PPO", "A2C", "DQN", "SAC")
"""Stable-Baselines3 algorithms ``--algo`` can load."""

_DEFAULT_BASELINES: Final[str] = "buy_and_hold,sma_crossover,rsi_mean_reversion"


def register(app: typer.Typer) -> None:
    """Add the training-side commands to the ``tradeready`` app."""
    from tradeready.cli.demo import demo_command

    app.command("evaluate")(evaluate_command)
    app.command("sync")(sync_command)
    app.command("demo")(demo_command)


@user_errors
def sync_command(
    spool_dir: Annotated[Path | None, typer.Option(help="Spool folder (default: under TRADEREADY_HOME).")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="Deliver to this platform (default: the one each run was written for).")
    ] = None,
    api_key: Annotated[str | None, typer.Option(help="API key (default: TRADEREADY_API_KEY).")] = None,
) -> None:
    """Deliver training episodes spooled while the platform was unreachable (idempotent)."""
    from tradeready_gym.tracking import sync

    report = sync(api_key=api_key, base_url=base_url, spool_dir=spool_dir)
    console.print(str(report))
    if report.remaining:
        raise CliError(f"{report.remaining} spooled journal(s) could not be delivered yet; run `tradeready sync` again")


def _load_model(path: Path, algo: str) -> Any:
    name = algo.upper()
    if name not in ALGORITHMS:
        raise CliError(f"--algo must be one of {', '.join(ALGORITHMS)}; got {algo!r}")
    if not path.is_file() and not path.with_suffix(".zip").is_file():
        raise CliError(f"no saved model at {path} (Stable-Baselines3's model.save() writes a .zip file)")
    import stable_baselines3

    cls = getattr(stable_baselines3, name)
    try:
        return cls.load(str(path), device="cpu")
    except (ValueError, KeyError, OSError, RuntimeError) as exc:
        raise CliError(f"cannot load {path} as a {name} model: {exc}") from None


@user_errors
def evaluate_command(
    model_path: Annotated[Path, typer.Argument(help="A saved Stable-Baselines3 model (.zip).")],
    env: Annotated[str, typer.Option("--env", help="Environment id.")] = "TradeReady-BTC-v0",
    algo: Annotated[str, typer.Option(help=f"Algorithm of the model: {', '.join(ALGORITHMS)}.")] = "PPO",
    start: Annotated[str | None, typer.Option(help="Held-out period start (ISO 8601 or epoch ms).")] = None,
    end: Annotated[str | None, typer.Option(help="Held-out period end, exclusive.")] = None,
    episodes: Annotated[int, typer.Option(min=1, max=10_000, help="Episodes per agent.")] = 10,
    episode_length: Annotated[
        int | None, typer.Option(min=1, help="Steps per episode (random windows); default: the whole period.")
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Episode i uses reset(seed=seed + i - 1).")] = 0,
    run_id: Annotated[str | None, typer.Option(help="Training run this model comes from (links the record).")] = None,
    data: Annotated[
        list[Path] | None, typer.Option(help="Offline candles (CSV/Parquet/Binance ZIP); once per symbol.")
    ] = None,
    timeframe: Annotated[str, typer.Option(help="Candle timeframe of the env.")] = "1h",
    lookback_window: Annotated[int, typer.Option(min=1, help="As in training.")] = 50,
    features: Annotated[
        str | None, typer.Option(help="Comma-separated observation_features, as in training (default: the seed's).")
    ] = None,
    normalization: Annotated[
        Path | None, typer.Option(help="NormalizationWrapper statistics saved in training (.npz).")
    ] = None,
    baselines: Annotated[str, typer.Option(help="Comma-separated baselines ('' for none).")] = _DEFAULT_BASELINES,
    stochastic: Annotated[bool, typer.Option(help="Sample actions instead of the deterministic policy.")] = False,
    record: Annotated[bool, typer.Option(help="Record the evaluation on the platform (needs an API key).")] = True,
    csv: Annotated[Path | None, typer.Option(help="Also write every agent's per-episode metrics to this CSV.")] = None,
    api_key: Annotated[str | None, typer.Option(help="API key (default TRADEREADY_API_KEY).")] = None,
    base_url: Annotated[str | None, typer.Option(help="Platform URL (default TRADEREADY_BASE_URL).")] = None,
) -> None:
    """Evaluate a trained model against rule-based baselines on the same held-out episodes."""
    import gymnasium as gym

    from agentexchange import AgentExchangeClient
    from tradeready_gym.evaluation import evaluate  # importing the gym registers its env ids
    from tradeready_gym.wrappers import NormalizationWrapper

    env_ids = sorted(i for i in gym.registry if i.startswith("TradeReady-"))
    if env not in env_ids:
        raise CliError(f"--env must be one of {', '.join(env_ids)}; got {env!r}")
    key = api_key or os.environ.get("TRADEREADY_API_KEY") or None
    if not data and key is None:
        raise CliError("no candles: pass --data FILE for offline candles, or an API key to load them from the platform")
    if run_id is not None and key is None:
        raise CliError("--run-id links the evaluation on the platform: pass --api-key or set TRADEREADY_API_KEY")
    model = _load_model(model_path, algo)
    names = [b.strip() for b in baselines.split(",") if b.strip()]
    kwargs: dict[str, Any] = {
        "start_time": start,
        "end_time": end,
        "episode_length": episode_length,
        "timeframe": timeframe,
        "lookback_window": lookback_window,
        "track_training": False,
    }
    if features is not None:
        kwargs["observation_features"] = [f.strip() for f in features.split(",") if f.strip()]
    if data:
        kwargs["data"] = _data_argument(env, data)
    client = AgentExchangeClient(api_key=key, base_url=base_url) if key is not None else None
    try:
        environment: gym.Env[Any, Any] = gym.make(env, api_key=key, base_url=base_url, **kwargs)
        if normalization is not None:
            wrapped = NormalizationWrapper(environment)
            wrapped.load(normalization)
            wrapped.freeze()
            environment = wrapped
        _check_spaces(model, environment)
        if episode_length is None and episodes > 1:
            err_console.print(
                "[yellow]Note:[/yellow] without --episode-length every episode is the whole period, "
                "so the episodes repeat; pass --episode-length for distinct random windows."
            )
        result = evaluate(
            model,
            environment,
            episodes,
            seed=seed,
            deterministic=not stochastic,
            baselines=names,
            record=record and client is not None,
            run_id=run_id,
            name=algo.upper(),
            client=client,
        )
        environment.close()
    finally:
        if client is not None:
            client.close()
    _print(result, record=record and client is not None)
    if csv is not None:
        result.to_frame().to_csv(csv, index=False)
        console.print(f"Per-episode metrics written to {csv}")


def _data_argument(env: str, paths: list[Path]) -> Any:
    for path in paths:
        if not path.is_file():
            raise CliError(f"--data {path}: no such file")
    if env == "TradeReady-Portfolio-v0":
        from tradeready_core.data import load_candles

        loaded = [load_candles(p) for p in paths]
        return {c.symbol: c for c in loaded}
    if len(paths) != 1:
        raise CliError(f"{env} trades one symbol: pass --data once; got {len(paths)} files")
    return str(paths[0])


def _check_spaces(model: Any, env: Any) -> None:
    want, have = model.observation_space, env.observation_space
    if getattr(want, "shape", None) != getattr(have, "shape", None):
        raise CliError(
            f"the model expects observations of shape {want.shape} but {env.spec.id if env.spec else 'the env'} "
            f"gives {have.shape}: pass the --lookback-window and --features used in training"
        )
    if type(model.action_space) is not type(env.action_space) or model.action_space.shape != env.action_space.shape:
        raise CliError(
            f"the model acts in {model.action_space} but the env's action space is {env.action_space}: "
            "evaluate it on the env id it was trained on"
        )


def _print(result: EvaluationResult, *, record: bool) -> None:
    window = result.windows[0]
    from tradeready_core.data import format_ms

    console.print(
        f"[bold]{result.model}[/bold] on {result.env_id}: {len(result.windows)} episode(s) of {window.steps} steps, "
        f"{result.env_config['timeframe']} candles from {format_ms(min(w.start_time for w in result.windows))} "
        f"to {format_ms(max(w.end_time for w in result.windows))}, fee {result.env_config['engine']['fee_rate']:.4%}"
    )
    table = Table(title="Mean per episode (after fees)")
    for column in ("agent", "kind", "ROI %", "± ROI", "Sharpe", "max DD %", "trades", "win rate", "fees"):
        text = column in ("agent", "kind")
        table.add_column(column, justify="left" if text else "right", no_wrap=text)
    for s in result.summary:
        table.add_row(
            s.agent,
            s.kind,
            f"{s.mean_roi_pct:+.2f}",
            f"{s.std_roi_pct:.2f}",
            f"{s.mean_sharpe_ratio:.2f}",
            f"{s.mean_max_drawdown_pct:.2f}",
            f"{s.mean_total_trades:.1f}",
            f"{s.mean_win_rate:.0%}",
            f"{s.mean_total_fees:.2f}",
        )
    console.print(table)
    beats = result.beats_buy_and_hold
    colour = "green" if beats else "red" if beats is False else "yellow"
    console.print(f"[{colour}]{result.verdict()}[/{colour}]")
    if result.evaluation_id is not None:
        linked = f", linked to {result.run_id}" if result.run_id else ""
        console.print(f"Recorded on the platform as {result.evaluation_id}{linked}")
    elif record:
        err_console.print(f"[yellow]Not recorded on the platform:[/yellow] {result.record_error}")
