"""The best bid/ask stream of a ccxt venue: websocket updates, REST snapshots to start, to
refresh a quiet market, and to stand in while the websocket fails.

`CcxtVenue` takes these from `CcxtQuoteStream`; they only read the connection's client,
clock and back-off settings, and record each quote's mid for the venue's order checks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from tradeguard.model.market import Quote
from tradeguard.model.money import dec
from tradeguard.venues.ccxt_connection import CcxtConnection, num_or_zero

if TYPE_CHECKING:
    from tradeguard.marketdata.live.streams import RestFallback

# The venue's own logger name: what operators filter on stays the same.
log = logging.getLogger("tradeguard.venues.ccxt_venue")

# How long the first snapshot waits for the quote stream's websocket to connect and subscribe.
SUBSCRIBE_WAIT_S = 5.0


class CcxtQuoteStream(CcxtConnection):
    """Quote streaming of a ccxt venue (see the module's docstring)."""

    async def stream_quotes(
        self, symbols: list[str], fallback: RestFallback | None = None
    ) -> AsyncIterator[Quote]:
        """Best bid/ask updates for `symbols`, resubscribing after disconnects.

        A REST snapshot comes first, again after each stream failure, and every
        `quote_refresh_s` (0 = never): a stream only sends changes, so a quiet market would
        otherwise stay unknown until its book moves, and then look stale to the risk check. The
        stream is subscribed before the snapshot is asked for, so no change falls between them.
        While the websocket fails, quotes come from those snapshots alone: `fallback` is told of
        each failed websocket attempt (not a failed snapshot) and of the websocket being back.
        """
        loop = asyncio.get_running_loop()
        next_refresh = loop.time() + self.quote_refresh_s
        failures = 0
        bids_asks = bool(self.client.has.get("watchBidsAsks"))
        snapshot = bool(self.client.has.get("fetchBidsAsks"))
        delivered: dict[str, Any] = {}
        watch: asyncio.Future[Any] | None = None
        try:
            while not self._closing:
                rest = snapshot  # a failing REST snapshot is no websocket down
                try:
                    if bids_asks and watch is None:
                        watch = asyncio.ensure_future(self.client.watch_bids_asks(symbols))
                        await self._subscribed(watch, before_snapshot=snapshot)
                    if snapshot:
                        tickers = await self._call(
                            "fetch_bids_asks", self.client.fetch_bids_asks, symbols
                        )
                        snapshot = False
                        next_refresh = loop.time() + self.quote_refresh_s
                    elif watch is not None:
                        # ccxt hands a watcher only the message that woke it; messages handled
                        # while no watcher was registered are only in its cache: take those first.
                        # (not when a refresh is due: busy markets would always have some)
                        due = self.quote_refresh_s and loop.time() >= next_refresh
                        tickers = {} if due else self._undelivered(symbols, delivered)
                        if not tickers:
                            wait = next_refresh - loop.time() if self.quote_refresh_s else None
                            done, _ = await asyncio.wait({watch}, timeout=wait)
                            if due or not done:
                                delivered.update(self._undelivered(symbols, delivered))  # older
                                if fallback is not None and self._ws_open():
                                    fallback.up()  # back, on a market too quiet to say so
                                snapshot = bool(self.client.has.get("fetchBidsAsks"))
                                next_refresh = loop.time() + self.quote_refresh_s
                                continue
                            got, watch = watch.result(), None
                            if fallback is not None:
                                fallback.up()
                            tickers = {s: t for s, t in got.items() if t is not delivered.get(s)}
                        delivered.update(tickers)
                    else:
                        t = await self.client.watch_ticker(symbols[0])
                        tickers = {t["symbol"]: t}
                        if fallback is not None:
                            fallback.up()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    if fallback is not None and not rest:
                        fallback.down(exc)
                    if watch is not None and watch.done():
                        watch = None
                        # What the old subscription cached may be older than the next snapshot.
                        delivered.update(self._undelivered(symbols, delivered))
                    snapshot = bool(self.client.has.get("fetchBidsAsks"))
                    delay = min(self.ws_backoff_max_s, self.ws_backoff_s * 2 ** (failures - 1))
                    log.warning("venue %s: quote stream failed (%s)", self.name, type(exc).__name__)
                    await asyncio.sleep(delay)
                    continue
                failures = 0
                for sym, t in tickers.items():
                    if t.get("bid") is not None and t.get("ask") is not None:
                        yield self._quote_of(sym, t)
        finally:
            if watch is not None:
                watch.cancel()

    async def _subscribed(self, watch: asyncio.Future[Any], before_snapshot: bool) -> None:
        """Let `watch` take its first step (it registers what it waits for); before a snapshot,
        wait until the websocket it is opening has connected and sent its subscription (or
        `watch` ended, or SUBSCRIBE_WAIT_S passed, which is logged): a snapshot taken before
        that misses what changes until the stream starts, and a quiet market's quote stays
        wrong until the next refresh."""
        await asyncio.sleep(0)
        if not before_snapshot:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SUBSCRIBE_WAIT_S
        pending = [
            connected
            for client in list((getattr(self.client, "clients", None) or {}).values())
            if getattr(client, "connecting", False)
            and isinstance(connected := getattr(client, "connected", None), asyncio.Future)
        ]
        while pending and not watch.done() and (left := deadline - loop.time()) > 0:
            await asyncio.wait({*pending, watch}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            pending = [f for f in pending if not f.done()]
        if pending and not watch.done():
            log.warning(
                "venue %s: websocket not connected after %g s; quotes start from a REST "
                "snapshot taken without it (a change before it subscribes shows at the next)",
                self.name,
                SUBSCRIBE_WAIT_S,
            )
        for _ in range(3):  # the subscription is sent from the connection's done callback
            await asyncio.sleep(0)

    def _ws_open(self) -> bool:
        """Whether a websocket of the client is connected and open now."""
        for client in list((getattr(self.client, "clients", None) or {}).values()):
            connected = getattr(client, "connected", None)
            if connected is None or not connected.done() or connected.cancelled():
                continue
            if connected.exception() is None and not client.closed():
                return True
        return False

    def _quote_of(self, sym: str, t: Mapping[str, Any]) -> Quote:
        """The quote of ticker `t`; its mid is recorded for the venue's order checks."""
        quote = Quote(
            symbol=sym,
            ts=int(t.get("timestamp") or self.clock.now_ms()),
            bid=dec(t["bid"], "bid"),
            bid_size=num_or_zero(t.get("bidVolume"), "bidVolume"),
            ask=dec(t["ask"], "ask"),
            ask_size=num_or_zero(t.get("askVolume"), "askVolume"),
        )
        self._mids[sym] = quote.mid
        return quote

    def _undelivered(self, symbols: list[str], delivered: dict[str, Any]) -> dict[str, Any]:
        """Return the cached best bid/ask messages of `symbols` not handed on yet."""
        cache = getattr(self.client, "bidsasks", None) or {}
        return {s: cache[s] for s in symbols if s in cache and cache[s] is not delivered.get(s)}
