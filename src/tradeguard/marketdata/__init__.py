"""Order books, candle aggregation, historical loaders and replay.

- `loaders`: `load_candles` (`iter_candles` one bar at a time), `load_trades`, `load_quotes`,
  `load_book_events`, `default_data_dir`
- `candles`: `aggregate`, `CandleAggregator`, `candles_from_trades`
- `book`: `OrderBook` (L2, Decimal) and `BookBuilder` (venue update-id sequencing)
- `events`: `BookSnapshot`, `BookDelta`
- `replay`: `replay_sync` (full speed) and `replay` (paced, async) on a `SimulatedClock`
- `errors`: `DataFileError`, `BookSequenceError`, `ReplayOrderError`
"""
