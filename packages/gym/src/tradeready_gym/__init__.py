"""tradeready_gym: Gymnasium environments for training RL trading agents.

Importing the package registers the environment ids with Gymnasium::

    import gymnasium as gym
    import tradeready_gym

    env = gym.make("TradeReady-BTC-Continuous-v0", data="BTCUSDT-1h.csv", track_training=False)

========================================  ==========================================================
id                                        action space
========================================  ==========================================================
``TradeReady-BTC-v0`` (ETH, SOL)          Discrete(3): hold, buy (to ``position_size``), sell
``TradeReady-BTC-Continuous-v0`` (...)    Box(-1, 1, (1,)): target fraction of equity
``TradeReady-Portfolio-v0``               Box(0, 1, (N,)): target weights (BTC, ETH, SOL)
========================================  ==========================================================
"""

from typing import Any

from gymnasium.envs.registration import register, registry

__version__ = "0.1.0"

__all__ = ["ENV_IDS", "EvaluationResult", "TrainingTrackerCallback", "__version__", "evaluate"]

_LAZY = {
    # name -> module; imported on first access so ``import tradeready_gym`` never loads torch/SB3.
    "TrainingTrackerCallback": "tradeready_gym.tracking.sb3",
    "evaluate": "tradeready_gym.evaluation",
    "EvaluationResult": "tradeready_gym.evaluation",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tradeready_gym' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


_ASSETS = {"BTC": "BTCUSDT", "ETH": "ETHUSDT", "SOL": "SOLUSDT"}

ENV_IDS: tuple[str, ...] = (
    *(f"TradeReady-{a}-v0" for a in _ASSETS),
    *(f"TradeReady-{a}-Continuous-v0" for a in _ASSETS),
    "TradeReady-Portfolio-v0",
)
"""Every environment id this package registers."""


def _register() -> None:
    # order_enforce=False: the environments enforce reset-before-step themselves (gymnasium's
    # ResetNeeded), so gymnasium's OrderEnforcing wrapper would only add a call to every step;
    # gymnasium's passive env checker stays on
    for asset, symbol in _ASSETS.items():
        for env_id, entry in (
            (f"TradeReady-{asset}-v0", "DiscreteTradingEnv"),
            (f"TradeReady-{asset}-Continuous-v0", "ContinuousTradingEnv"),
        ):
            if env_id not in registry:
                register(
                    env_id,
                    entry_point=f"tradeready_gym.envs.single_asset:{entry}",
                    kwargs={"symbol": symbol},
                    order_enforce=False,
                )
    if "TradeReady-Portfolio-v0" not in registry:
        register(
            "TradeReady-Portfolio-v0",
            entry_point="tradeready_gym.envs.portfolio:PortfolioTradingEnv",
            order_enforce=False,
        )


_register()
