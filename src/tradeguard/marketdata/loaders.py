"""Historical market data loaders: candles, trades, quotes and order book events from files.

Formats (see the data directory's README):
- OHLCV CSV with header `timestamp,open,high,low,close,volume` (timestamp
  `YYYY-MM-DD HH:MM:SS[.ffffff]`, UTC). This layout is the FTX export, whose `volume` is
  quote (USD) volume; it is converted to base units as `volume / close`, rounded to 1e-8.
- Binance kline CSV without header (open time ms, o, h, l, c, base volume, close time ms, ...).
- freqtrade feather candles (`date` tz-aware, `open,high,low,close,volume` in base units).
- Trades parquet: freqtrade (`timestamp` ms, `id`, `side`, `price`, `amount`) or Binance
  (`timestamp`, `trade_id`, `price`, `quantity`, `buyer_maker`).
- Quotes parquet (`timestamp, symbol, ask_size, ask, bid_size, bid`).
- Book events: Binance futures depth CSV (`snap` rows -> one `BookSnapshot`, `set` rows ->
  one `BookDelta` per update-id batch), tardis `book_snapshot_25` CSV (one `BookSnapshot` per
  row, timestamps in microseconds), Bybit `ob500` zip of JSON lines (snapshot then deltas).

Every number enters as `Decimal` through `dec`; floats from binary files are read at 15
significant digits, which strips float noise from upstream arithmetic. Times are epoch
milliseconds, UTC. Symbols are unified (`BTC/USDT`), derived from the file name unless
`symbol=` is given. Row numbers in errors are 1-based file lines for
CSV files and 1-based records for binary files.
"""

from tradeguard.marketdata.book_files import load_book_events
from tradeguard.marketdata.candle_files import iter_candles, load_candles
from tradeguard.marketdata.data_files import (
    DATA_DIR_ENV,
    PathLike,
    default_data_dir,
    symbol_from_path,
)
from tradeguard.marketdata.tick_files import load_quotes, load_trades

__all__ = [
    "DATA_DIR_ENV",
    "PathLike",
    "default_data_dir",
    "iter_candles",
    "load_book_events",
    "load_candles",
    "load_quotes",
    "load_trades",
    "symbol_from_path",
]
