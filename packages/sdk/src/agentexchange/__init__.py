"""agentexchange: the typed Python client for the TradeReady REST API."""

__version__ = "0.1.0"
