"""Live market data: what strategies subscribe, and the hub that streams it to the node.

- `subscriptions`: `Subscription` (candles at a timeframe, book depth, trades, quotes), `merge`
- `closing`: `CandleCloser` (each closed candle once), `CandleFanout` (1m to longer bars with
  the replays' `CandleAggregator`), `TradeBar` (candles from trades)
- `source`: `MarketSource`, the venue side (ccxt: `venues/ccxt_market.py`)
- `hub`: `LiveHub`, one task per stream: REST first, then websocket or polling, reconnects
- `recorder`: `Recorder`, live streams to parquet in the shared data layout
"""
