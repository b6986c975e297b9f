"""The live hub: one task per (venue, symbol, stream) feeding closed candles, books, trades, quotes.

Each stream starts from REST (candle history for warm-up, a book or quote snapshot), then follows
the venue's websocket; a venue without a stream of that kind is polled. A failed stream is
resubscribed with backoff and counted; after a reconnect the candles missed are fetched from REST,
and a book gap takes a fresh snapshot. A stream's trouble touches only its own symbol.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from tradeguard.marketdata.book import OrderBook
from tradeguard.marketdata.live.closing import CandleCloser, CandleFanout, TradeBar
from tradeguard.marketdata.live.source import MarketSource
from tradeguard.marketdata.live.streams import RestFallback, StaleWatch, StreamStats
from tradeguard.marketdata.live.subscriptions import (
    Subscription,
    SymbolNeeds,
    merge,
    timeframe_of,
)
from tradeguard.model.market import Candle, Quote, TradeTick

log = logging.getLogger(__name__)

BASE_S = 60  # candles are streamed at 1m and aggregated to every longer interval
PAGE = 1000  # candles per REST page (Binance's limit)


class LiveSink(Protocol):
    """Where the hub delivers: the node (market state, paper fills, strategies)."""

    async def on_live_candle(self, candle: Candle, warmup: bool) -> None: ...

    async def on_quote(self, quote: Quote) -> None: ...

    async def on_book(self, book: OrderBook) -> None: ...

    async def on_trade(self, trade: TradeTick) -> None: ...

    def on_stream_event(self, kind: str, data: dict[str, Any]) -> None: ...


_Tagged = TypeVar("_Tagged", Candle, Quote, TradeTick)


def _at(event: _Tagged, venue: str) -> _Tagged:
    """`event` tagged with the venue whose stream delivered it (unless its source tagged it)."""
    return event if event.venue else replace(event, venue=venue)


def _is_gap(exc: BaseException) -> bool:
    return type(exc).__name__ in ("ChecksumError", "BookSequenceError", "InvalidNonce")


class LiveHub:
    """Subscribe what strategies need and deliver it to a sink until stopped."""

    def __init__(
        self,
        sources: dict[str, MarketSource],
        sink: LiveSink,
        *,
        backoff_s: float = 0.05,
        backoff_max_s: float = 5.0,
        poll_s: float = 2.0,
        stale_after_s: float = 60.0,
    ) -> None:
        self.sources = sources
        self.sink = sink
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.poll_s = poll_s
        self.stats: dict[tuple[str, str, str], StreamStats] = {}
        self.books: dict[tuple[str, str], OrderBook] = {}
        self.watch = StaleWatch(self.stats, self._report, stale_after_s, BASE_S)
        self._needs: dict[tuple[str, str], SymbolNeeds] = {}
        self._tasks: dict[tuple[str, str, str], asyncio.Task[None]] = {}
        self._watching: asyncio.Task[None] | None = None

    # subscribing ---------------------------------------------------------------------------------
    def subscribe(self, subscriptions: Iterable[Subscription]) -> None:
        """Start the streams these subscriptions need that are not running yet."""
        quotes: dict[str, list[str]] = {}
        if self._watching is None:
            self._watching = asyncio.create_task(self.watch.run(), name="live:stale-watch")
        for (venue, symbol), needs in merge(self._routed(subscriptions)).items():
            source = self.sources.get(venue)
            if source is None:
                continue  # a venue fed by replays (paper) has no live source
            self._needs[(venue, symbol)] = needs
            serves = getattr(source, "serves", None)  # None: every kind, streamed or polled
            for kind, body in (
                ("candles", self._candles), ("book", self._book), ("trades", self._trades),
            ):  # fmt: skip
                if needs.wants(kind) and (serves is None or kind in serves):
                    self._start(source, needs, kind, body)
            if needs.quotes and (venue, symbol, "quotes") not in self._tasks:
                quotes.setdefault(venue, []).append(symbol)
        for venue, symbols in quotes.items():
            self._start_quotes(self.sources[venue], symbols)

    def _routed(self, subscriptions: Iterable[Subscription]) -> list[Subscription]:
        # A venue may take its data from another's source (a paper venue fed by an exchange):
        # its subscriptions join that source's streams.
        out = []
        for sub in subscriptions:
            source = self.sources.get(sub.venue)
            routed = source is not None and source.name != sub.venue
            out.append(replace(sub, venue=source.name) if routed and source else sub)
        return out

    def _report(self, kind: str, st: StreamStats) -> None:
        data = {**st.to_json(), "last_ms": st.last_wall_ms or st.started_wall_ms}
        if kind == "marketdata.stale":
            log.warning(
                "live data: %s %s %s stale: no message for %.1f s",
                st.venue, st.symbol, st.kind, st.age_ms(int(time.time() * 1000)) / 1000,
            )  # fmt: skip
        self.sink.on_stream_event(kind, data)

    async def ensure_quotes(self, venue: str, symbol: str, wait_s: float) -> bool:
        """Subscribe `symbol`'s quotes if nobody streams them; wait up to `wait_s` for one."""
        source = self.sources.get(venue)
        if source is None:
            return False
        venue = source.name
        st = self.stats.get((venue, symbol, "quotes"))
        if st is None:
            log.info("live data: %s %s quotes subscribed on demand", venue, symbol)
            self._start_quotes(source, [symbol])
            st = self.stats[(venue, symbol, "quotes")]
        if not st.first.is_set():
            try:
                await asyncio.wait_for(st.first.wait(), wait_s)
            except TimeoutError:
                return False
        return True

    def status(self) -> list[dict[str, Any]]:
        """Every stream's figures: messages, reconnects, book resyncs, age of the last message."""
        return [st.to_json() for st in self.stats.values()]

    def failure(self) -> BaseException | None:
        """The error of a stream task that died (it should never: streams retry)."""
        for task in self._tasks.values():
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None

    async def stop(self) -> None:
        """Cancel every stream task and wait for them."""
        tasks = list({id(t): t for t in self._tasks.values()}.values())
        if self._watching is not None:
            tasks.append(self._watching)
            self._watching = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    def _start(
        self,
        source: MarketSource,
        needs: SymbolNeeds,
        kind: str,
        body: Callable[[MarketSource, SymbolNeeds], Coroutine[Any, Any, None]],
    ) -> None:
        key = (source.name, needs.symbol, kind)
        if key in self._tasks:
            return
        self.stats[key] = StreamStats(
            source.name, needs.symbol, kind, kind not in source.streams(),
            on_fresh=self.watch.fresh,
        )  # fmt: skip
        self._tasks[key] = asyncio.create_task(body(source, needs), name=f"live:{'/'.join(key)}")

    def _start_quotes(self, source: MarketSource, symbols: list[str]) -> None:
        polled = "quotes" not in source.streams()
        # a venue whose own quote stream polls REST by design shows `polled`, not a fallback
        by_design = polled or bool(getattr(source, "quotes_polled", False))
        for symbol in symbols:
            self.stats[(source.name, symbol, "quotes")] = StreamStats(
                source.name, symbol, "quotes", by_design, on_fresh=self.watch.fresh
            )
        task = asyncio.create_task(
            self._quotes(source, symbols, polled), name=f"live:{source.name}/quotes"
        )
        for symbol in symbols:
            self._tasks[(source.name, symbol, "quotes")] = task

    # the retry loop ------------------------------------------------------------------------------
    async def _follow(
        self, st: StreamStats, step: Callable[[], Awaitable[None]],
        resume: Callable[[], Awaitable[object]] | None = None,
    ) -> None:  # fmt: skip
        """Run `step` until cancelled; on failure back off, count it, and `resume` first."""
        failures = 0
        while True:
            try:
                if failures and resume is not None:
                    await resume()
                await step()
                failures = 0
                st.error = ""
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                gap = _is_gap(exc)
                st.error = f"{type(exc).__name__}: {exc}"[:200]
                if gap:
                    st.resyncs += 1
                elif failures == 1:
                    st.reconnects += 1
                kind = "marketdata.resync" if gap else "marketdata.reconnect"
                self.sink.on_stream_event(kind, st.to_json())
                delay = 0.0 if gap else self.backoff_s * 2 ** (failures - 1)
                log.warning(
                    "live data: %s %s %s failed (%s)", st.venue, st.symbol, st.kind, st.error
                )
                await asyncio.sleep(min(self.backoff_max_s, delay))

    # candles -------------------------------------------------------------------------------------
    async def _candles(self, src: MarketSource, needs: SymbolNeeds) -> None:
        st = self.stats[(src.name, needs.symbol, "candles")]
        fanout = CandleFanout(BASE_S, set(needs.intervals))
        closer = CandleCloser(BASE_S)
        sym, base_tf = needs.symbol, timeframe_of(BASE_S)

        async def deliver(base: Candle) -> None:
            for bar in fanout.on_base(base):
                await self.sink.on_live_candle(_at(bar, src.name), False)

        async def backfill(until: int | None = None) -> int:
            # The closed base candles since the last one delivered, from REST (a reconnect, a gap);
            # returns the open time of the last one delivered.
            since = closer.last_closed_ts + BASE_S * 1000
            done = closer.last_closed_ts
            for c in await self._history(src, sym, base_tf, since, until):
                closer.seed(c.ts)
                await deliver(c)
                done = c.ts
            return done

        # A venue that flags closed candles (Binance's kline `x`) closes them on its clock.
        flagged: Callable[[str, str, int], bool] = getattr(
            src, "closed_flag", lambda symbol, timeframe, ts: False
        )
        flags = False  # this stream has flagged a closed candle: its venue sends final rows

        async def take(rows: list[Candle]) -> None:
            nonlocal flags
            if rows:
                st.seen()  # every kline message keeps the stream fresh, closing or not
            for row in rows:
                last = closer.last_closed_ts
                is_final = flagged(sym, base_tf, row.ts)
                flags = flags or is_final
                closed = closer.update(row, is_final)
                if closed is None:
                    continue
                # On a flagging venue a candle closed by the next one starting lost its final row
                # (a reconnect): its last row heard may miss trades, so REST gives the final bar.
                lost_final = flags and not is_final
                if last >= 0 and (closed.ts > last + BASE_S * 1000 or lost_final):
                    closer.last_closed_ts = last
                    until = row.ts if lost_final else closed.ts
                    done = await backfill(until)
                    closer.seed(closed.ts)
                    if done >= closed.ts:
                        continue  # REST delivered it, final
                await deliver(closed)

        await self._warm_up(src, needs, fanout, closer)
        if "candles" in src.streams():

            async def step() -> None:
                await take(await src.watch_candles(sym, base_tf))

        elif "trades" in src.streams():
            bar = TradeBar(BASE_S)

            async def step() -> None:
                await take([bar.update(t) for t in await src.watch_trades(sym)])

        else:

            async def step() -> None:
                since = closer.last_closed_ts if closer.last_closed_ts >= 0 else None
                await take(await src.fetch_candles(sym, base_tf, since, PAGE))
                await asyncio.sleep(self.poll_s)

        await self._follow(st, step, backfill)

    async def _warm_up(
        self, src: MarketSource, needs: SymbolNeeds, fanout: CandleFanout, closer: CandleCloser
    ) -> None:
        """Deliver each interval's history (muted), then the base candles of the open buckets."""
        sym = needs.symbol
        bars: list[Candle] = []
        open_from: int | None = None
        for interval, count in needs.intervals.items():
            rows = await src.fetch_candles(sym, timeframe_of(interval), None, min(count + 1, PAGE))
            if not rows:
                continue
            # The last row may be the bucket still open: it is rebuilt from base candles below.
            *closed, running = rows
            bars.extend(closed[-count:] if count else [])
            for c in closed:
                fanout.mark_delivered(interval, c.ts)
            open_from = running.ts if open_from is None else min(open_from, running.ts)
        bars.sort(key=lambda c: (c.close_ts, c.interval_s))
        for c in bars:
            await self.sink.on_live_candle(_at(c, src.name), True)
        if open_from is None:
            return
        # Everything before the open bucket is delivered: a stream that starts later back-fills.
        closer.seed(open_from - BASE_S * 1000)
        for c in await self._history(src, sym, timeframe_of(BASE_S), open_from, None):
            closer.seed(c.ts)
            for bar in fanout.on_base(c):
                await self.sink.on_live_candle(_at(bar, src.name), False)

    async def _history(
        self, src: MarketSource, symbol: str, timeframe: str, since_ms: int, until: int | None
    ) -> list[Candle]:
        """Closed candles from `since_ms` (and before `until`), page by page.

        Without `until` the venue's last candle is taken as still open and left out; with it,
        every candle before a closed one is closed (a venue's REST may lag its stream).
        """
        out: list[Candle] = []
        while True:
            page = await src.fetch_candles(symbol, timeframe, since_ms, PAGE)
            full = len(page) >= PAGE
            page = [c for c in page if c.ts >= since_ms and (until is None or c.ts < until)]
            if not full or not page or (until is not None and page[-1].ts + 1 >= until):
                out.extend(page if until is not None else page[:-1])
                return out
            out.extend(page)
            since_ms = page[-1].ts + 1

    # books, trades, quotes -----------------------------------------------------------------------
    async def _book(self, src: MarketSource, needs: SymbolNeeds) -> None:
        sym, depth = needs.symbol, needs.depth
        st = self.stats[(src.name, sym, "book")]
        book = self.books[(src.name, sym)] = OrderBook(sym, src.name)
        streamed = "book" in src.streams()

        async def take(first: bool) -> None:
            snap = await (
                src.watch_book(sym, depth) if streamed and not first else src.fetch_book(sym, depth)
            )
            if snap.seq and snap.seq < book.seq:
                return  # an older snapshot than what the book holds
            # A REST snapshot may carry no time (Binance's has none): it is as of its receipt.
            ts = snap.ts or int(time.time() * 1000)
            book.apply_snapshot(snap.bids, snap.asks, ts, snap.seq)
            st.seen()
            await self.sink.on_book(book)

        async def step() -> None:
            await take(False)
            if not streamed:
                await asyncio.sleep(self.poll_s)

        async def resync() -> None:
            book.seq = 0  # the fresh snapshot may start a new id series
            await take(True)

        await resync()
        await self._follow(st, step, resync)

    async def _trades(self, src: MarketSource, needs: SymbolNeeds) -> None:
        sym = needs.symbol
        st = self.stats[(src.name, sym, "trades")]
        streamed = "trades" in src.streams()
        last_ts = 0
        seen: set[str] = set()

        async def step() -> None:
            nonlocal last_ts
            if streamed:
                ticks = await src.watch_trades(sym)
            else:
                ticks = await src.fetch_trades(sym, last_ts or None)
                await asyncio.sleep(self.poll_s)
            for t in ticks:
                if t.ts < last_ts or (t.trade_id and t.trade_id in seen):
                    continue
                if t.ts > last_ts:
                    seen.clear()
                last_ts = t.ts
                seen.add(t.trade_id)
                st.seen()
                await self.sink.on_trade(_at(t, src.name))

        await self._follow(st, step)

    async def _quotes(self, src: MarketSource, symbols: list[str], polled: bool) -> None:
        stats = {s: self.stats[(src.name, s, "quotes")] for s in symbols}
        first = stats[symbols[0]]

        def changed(up: bool) -> None:
            for st in stats.values():
                if not up:
                    st.reconnects += 1
                kind = "marketdata.recovered" if up else "marketdata.rest_fallback"
                self.sink.on_stream_event(kind, st.to_json())

        def arrived(symbol: str) -> None:
            if (st := stats.get(symbol)) is not None:
                st.seen()

        fb = RestFallback(changed=changed, arrived=arrived)
        for st in stats.values():
            st.fallback = fb

        async def step() -> None:
            if polled:
                for s in symbols:
                    q = await src.fetch_quote(s)
                    if q is not None:
                        stats[s].seen()
                        await self.sink.on_quote(_at(q, src.name))
                await asyncio.sleep(self.poll_s)
                return
            # A venue that serves quotes from REST while its websocket is down says so here.
            reporting = getattr(src, "stream_quotes_reporting", None)
            quotes = src.stream_quotes(symbols) if reporting is None else reporting(symbols, fb)
            async for q in quotes:
                st = stats.get(q.symbol)
                if st is not None:
                    st.seen()
                await self.sink.on_quote(_at(q, src.name))

        await self._follow(first, step)
