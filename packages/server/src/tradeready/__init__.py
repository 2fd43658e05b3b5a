"""tradeready: the TradeReady platform (REST API, dashboard, store, CLI)."""

__version__ = "0.1.0"
