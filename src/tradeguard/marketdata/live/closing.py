"""Closed candles from live streams: each emitted once, on the venue's timestamps.

A kline stream (ccxt `watch_ohlcv`) sends the current, unclosed candle again and again. A venue
that flags its candles (Binance's kline `x`) says when one closed, on its own clock: the candle is
emitted then, with the values of that final row. Without the flag, a candle is closed when a
newer one starts. `CandleCloser` turns either stream into closed candles, each once.
`CandleFanout` feeds closed base candles (1m) through the same `CandleAggregator` replays use, so
5m/15m/1h/4h/1d bars open and close on the same UTC boundaries in both. `TradeBar` builds the
running candle from public trades, for venues without a kline stream.
"""

from __future__ import annotations

from tradeguard.marketdata.candles import CandleAggregator
from tradeguard.model.market import Candle, TradeTick

# A row more than this ahead of the last one is held back until a row of another candle is as
# far ahead: one row stamped in 2100 would otherwise close a candle there, and every real row
# after it would look like a repeat of the past.
MAX_ROW_JUMP_MS = 86_400_000


class CandleCloser:
    """Emit each candle of one symbol and timeframe once: when the venue flags it closed, else
    when the next one starts."""

    def __init__(self, interval_s: int) -> None:
        self.interval_s = interval_s
        self.last_closed_ts = -1
        self._current: Candle | None = None
        self._ahead = -1  # the open time of a row far ahead, held back
        self._back = -1  # the open time of a row older than a far-ahead open candle

    def _far_ahead(self, ts: int) -> bool:
        """Whether a row at `ts` is held back: the first (or a repeat) far past the last row."""
        cur = self._current
        last = max(self.last_closed_ts, cur.ts if cur is not None else -1)
        if last < 0 or ts <= last + MAX_ROW_JUMP_MS:
            self._ahead = -1
            return False
        if self._ahead < 0 or ts == self._ahead:
            self._ahead = ts
            return True
        self._ahead = -1  # a second candle that far ahead: the venue's clock moved on
        return False

    def _came_back(self, ts: int, cur_ts: int) -> bool:
        """Whether a row at `ts`, older than the open candle at `cur_ts`, shows the clock came
        back: that candle opened over a day past the last closed one (two rows far ahead took
        it), and this is the second row in a row older than it (not a repeat of the first)."""
        if self.last_closed_ts < 0 or cur_ts <= self.last_closed_ts + MAX_ROW_JUMP_MS:
            return False
        if self._back < 0 or ts == self._back:
            self._back = ts
            return False
        self._back = -1
        return True

    def seed(self, last_closed_ts: int) -> None:
        """Say candles up to `last_closed_ts` were delivered already (warm-up, back-fill)."""
        self.last_closed_ts = max(self.last_closed_ts, last_closed_ts)
        if self._current is not None and self._current.ts <= self.last_closed_ts:
            self._current = None

    def update(self, candle: Candle, closed: bool = False) -> Candle | None:
        """Take one stream row (`closed`: the venue flags it final); return the candle it
        closes, if any."""
        if candle.ts <= self.last_closed_ts:
            return None  # a row of a candle already delivered
        cur = self._current
        if cur is not None and candle.ts < cur.ts:
            if not self._came_back(candle.ts, cur.ts):
                return None  # an out-of-order repeat of an older row
            cur = self._current = None  # the open candle was stamped far ahead: dropped
        else:
            self._back = -1
        if self._far_ahead(candle.ts):
            return None
        if closed:
            # The venue's word: this row is the candle, final. One still open before it (its
            # flagged row lost) closes too, but only a caller's back-fill can deliver it.
            self._current = None
            self.last_closed_ts = candle.ts
            return candle
        if cur is None or candle.ts == cur.ts:
            self._current = candle
            return None
        self._current = candle
        self.last_closed_ts = cur.ts
        return cur

    @property
    def current(self) -> Candle | None:
        """The candle still open (last row seen), if any."""
        return self._current


class CandleFanout:
    """Closed base candles in, closed candles of every wanted interval out (each once)."""

    def __init__(self, base_s: int, intervals: set[int]) -> None:
        bad = sorted(i for i in intervals if i % base_s)
        if bad:
            raise ValueError(
                f"candle intervals {bad} s are not multiples of the {base_s} s base stream"
            )
        self.base_s = base_s
        self.intervals = set(intervals)
        self._aggs = {i: CandleAggregator(i) for i in self.intervals if i != base_s}
        self.last_ts: dict[int, int] = dict.fromkeys(self.intervals, -1)
        self._last_in = -1

    def mark_delivered(self, interval_s: int, ts: int) -> None:
        """Record that bars of `interval_s` up to open time `ts` were delivered (warm-up)."""
        self.last_ts[interval_s] = max(self.last_ts.get(interval_s, -1), ts)

    def on_base(self, candle: Candle) -> list[Candle]:
        """Take one closed base candle; return the closed bars to deliver, shortest first."""
        out: list[Candle] = []
        if candle.ts <= self._last_in:
            return out  # fed already (a back-fill overlapping the stream)
        self._last_in = candle.ts
        last = self.last_ts
        if self.base_s in last and candle.ts > last[self.base_s]:
            last[self.base_s] = candle.ts
            out.append(candle)
        for interval, agg in self._aggs.items():
            for bar in agg.update_all(candle):
                # A bar built from a bucket the warm-up already delivered (or only part of it,
                # when the stream joined mid-bucket) is not delivered again.
                if bar.ts > last[interval]:
                    last[interval] = bar.ts
                    out.append(bar)
        return out


class TradeBar:
    """The running candle of one symbol built from its public trades (volume in base units)."""

    def __init__(self, interval_s: int) -> None:
        self.interval_s = interval_s
        self._span = interval_s * 1000
        self._bar: Candle | None = None

    def update(self, trade: TradeTick) -> Candle:
        """Add one trade; return the (unclosed) candle of its bucket as it stands."""
        start = trade.ts - trade.ts % self._span
        bar = self._bar
        price, amount = trade.price, trade.amount
        if bar is None or start > bar.ts:
            bar = Candle(trade.symbol, start, price, price, price, price, amount, self.interval_s)
        elif start < bar.ts:
            return bar  # a late trade of a bucket already closed
        else:
            bar = Candle(
                trade.symbol, start, bar.open, max(bar.high, price), min(bar.low, price), price,
                bar.volume + amount, self.interval_s,
            )  # fmt: skip
        self._bar = bar
        return bar
