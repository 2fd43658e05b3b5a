"""TradeReady core: the one simulation engine, the one metrics definition, and the market-data model.

Pure and deterministic: numpy arrays in, results out, no I/O beyond the explicit data loaders.
"""

__version__ = "0.1.0"
