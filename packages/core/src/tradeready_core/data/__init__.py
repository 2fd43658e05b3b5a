"""Market data: candles, loaders, validation, resampling and the labelled synthetic generator."""
