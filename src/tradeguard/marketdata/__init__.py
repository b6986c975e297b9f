"""Order books, candle aggregation, historical loaders and replay."""
