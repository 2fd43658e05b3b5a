"""The TradeReady environments (registered with Gymnasium by ``import tradeready_gym``)."""

from tradeready_gym.envs.base import DEFAULT_FEATURES, OBS_CLIP, NullTracker, TradingEnv, TrainingHook
from tradeready_gym.envs.portfolio import DEFAULT_PORTFOLIO, PortfolioTradingEnv
from tradeready_gym.envs.remote import DatasetMismatchError, RemoteExecutionError, RemoteSimulator
from tradeready_gym.envs.single_asset import ContinuousTradingEnv, DiscreteTradingEnv

__all__ = [
    "DEFAULT_FEATURES",
    "DEFAULT_PORTFOLIO",
    "OBS_CLIP",
    "ContinuousTradingEnv",
    "DatasetMismatchError",
    "DiscreteTradingEnv",
    "NullTracker",
    "PortfolioTradingEnv",
    "RemoteExecutionError",
    "RemoteSimulator",
    "TradingEnv",
    "TrainingHook",
]
