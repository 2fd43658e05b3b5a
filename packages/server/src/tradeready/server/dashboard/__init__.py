"""The web dashboard served by the platform itself (/training, /backtests)."""
