"""tradeready_gym: Gymnasium environments for training RL trading agents."""

__version__ = "0.1.0"
