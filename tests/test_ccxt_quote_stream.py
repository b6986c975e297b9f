"""The ccxt venue's quote stream on the sandbox: a snapshot first, then every symbol's changes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from decimal import Decimal

from test_ccxt_support import ALICE_KEY, ALICE_SECRET, VENUE, make_venue
from tradeguard.clock import Clock
from tradeguard.marketdata.live.streams import RestFallback
from tradeguard.model import Quote
from tradeguard.sandbox.testing import eventually, seeded_exchange
from tradeguard.venues.ccxt_clients import ccxt_client_factory
from tradeguard.venues.ccxt_venue import CcxtVenue


async def _until(quotes: AsyncIterator[Quote], want: dict[str, Decimal]) -> dict[str, Decimal]:
    """Read quotes until each symbol in `want` has shown that bid; return the last bids seen."""
    seen: dict[str, Decimal] = {}
    async with asyncio.timeout(5):
        async for q in quotes:
            seen[q.symbol] = q.bid
            if all(seen.get(s) == bid for s, bid in want.items()):
                return seen
    raise AssertionError(f"stream ended before {want}; saw {seen}")


async def test_quote_stream_starts_with_a_snapshot_and_loses_no_symbol_in_a_burst() -> None:
    ex = seeded_exchange()
    ex.add_market("ETHUSDT", "ETH", "USDT", "0.01", "0.0001", "0.0001", "5")
    ex.set_book("ETHUSDT", bids=[("2999", "5")], asks=[("3001", "5")])
    async with ex:
        venue = make_venue(ex, stream_user_data=False)
        await venue.connect()
        quotes = venue.stream_quotes(["BTC/USDT", "ETH/USDT"])
        try:
            # Quiet books: only the snapshot can tell their quotes.
            await _until(quotes, {"BTC/USDT": Decimal(49999), "ETH/USDT": Decimal(2999)})
            # The stream was subscribed before the snapshot was asked for.
            await eventually(lambda: len(ex.ws_subscriptions()) == 2)

            # Both books change in one go; the second update must not be dropped.
            ex.set_book("BTCUSDT", bids=[("49990", "1")], asks=[("50010", "1")])
            ex.set_book("ETHUSDT", bids=[("2990", "5")], asks=[("3010", "5")])
            await _until(quotes, {"BTC/USDT": Decimal(49990), "ETH/USDT": Decimal(2990)})
        finally:
            await quotes.aclose()  # type: ignore[attr-defined]
            await venue.close()


async def test_quiet_markets_are_read_again_so_their_quotes_stay_fresh() -> None:
    async with seeded_exchange() as ex:
        venue = make_venue(ex, stream_user_data=False, quote_refresh_s=0.1)
        await venue.connect()
        quotes = venue.stream_quotes(["BTC/USDT"])
        try:
            async with asyncio.timeout(5):
                first = await anext(quotes)
                # No book changes: the stream alone would say nothing from here on.
                again = await anext(quotes)
            assert (again.bid, again.ask) == (first.bid, first.ask)
            assert again.ts > first.ts
        finally:
            await quotes.aclose()  # type: ignore[attr-defined]
            await venue.close()


async def test_a_failing_rest_snapshot_is_not_reported_as_the_websocket_down() -> None:
    # REST answers 503 while the websocket streams on: the quote stream's periodic snapshot
    # fails, which must not put the stream in rest_fallback ("websocket down, on REST").
    async with seeded_exchange() as ex:
        venue = make_venue(ex, stream_user_data=False, quote_refresh_s=0.2)
        await venue.connect()
        fallback = RestFallback()
        quotes = venue.stream_quotes(["BTC/USDT"], fallback)
        seen: list[Quote] = []

        async def read() -> None:
            async for q in quotes:
                seen.append(q)

        reader = asyncio.create_task(read())
        try:
            await eventually(lambda: len(seen) >= 1 and len(ex.ws_subscriptions()) == 1)
            ex.faults.update({"http_5xx_rate": 1.0})
            for i in range(30):  # the book moves: the websocket has news all along
                ex.set_book("BTCUSDT", bids=[(str(49_000 + i), "1")], asks=[("50010", "1")])
                await asyncio.sleep(0.1)
            assert len(ex.ws_subscriptions()) == 1
            assert not fallback.active, f"websocket reported down: {fallback.error}"
            assert fallback.attempts == 0
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await venue.close()


async def test_a_quiet_market_leaves_rest_fallback_once_its_websocket_is_back() -> None:
    # The websocket is refused, then accepted again; the book does not move, so the stream
    # brings no message. Its subscription is open again: the stream must not stay degraded.
    async with seeded_exchange() as ex:
        venue = make_venue(ex, stream_user_data=False, quote_refresh_s=0.2)
        venue.ws_backoff_s = venue.ws_backoff_max_s = 0.1
        await venue.connect()
        fallback = RestFallback()
        quotes = venue.stream_quotes(["BTC/USDT"], fallback)
        reader = asyncio.create_task(_drain(quotes))
        try:
            await eventually(lambda: len(ex.ws_subscriptions()) == 1)
            ex.faults.update({"refuse_ws": True})
            ex.disconnect_websockets()
            await eventually(lambda: fallback.active, timeout_s=10)
            ex.faults.update({"refuse_ws": False})
            await eventually(lambda: len(ex.ws_subscriptions()) == 1, timeout_s=10)
            await eventually(lambda: not fallback.active, timeout_s=5)
            assert fallback.attempts == 0 and fallback.error == ""
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await venue.close()


async def _drain(quotes: AsyncIterator[Quote]) -> None:
    async for _ in quotes:
        pass


@contextlib.asynccontextmanager
async def _slow_door(port: int, wait_s: float) -> AsyncIterator[int]:
    """A TCP relay to 127.0.0.1:`port` that lets each connection through after `wait_s` (a
    websocket handshake that takes that long); yields its own port."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(wait_s)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_a_change_made_while_the_websocket_connects_is_not_lost() -> None:
    # The first snapshot waits for the stream's websocket: one taken before it was subscribed
    # missed what changed meanwhile, and a quiet market's quote stayed wrong until the next
    # refresh (a minute here): a triangular cycle was tried again and again on a book gone.
    async with seeded_exchange() as ex, _slow_door(ex.port, 1.0) as door:
        factory = ccxt_client_factory(
            "binance",
            {"apiKey": ALICE_KEY, "secret": ALICE_SECRET},
            rest_url=ex.rest_url,
            ws_url=f"ws://127.0.0.1:{door}/ws",
        )
        venue = CcxtVenue(VENUE, factory, Clock(), stream_user_data=False, quote_refresh_s=60)
        await venue.connect()
        quotes = venue.stream_quotes(["BTC/USDT"])

        async def move() -> None:
            await asyncio.sleep(0.3)  # the snapshot asked at once has its answer by now
            ex.set_book("BTCUSDT", bids=[("49990", "1")], asks=[("50010", "1")])

        mover = asyncio.create_task(move())
        try:
            seen = await _until(quotes, {"BTC/USDT": Decimal(49990)})
            assert seen["BTC/USDT"] == Decimal(49990)
        finally:
            await mover
            await quotes.aclose()  # type: ignore[attr-defined]
            await venue.close()


@contextlib.asynccontextmanager
async def _mute_door() -> AsyncIterator[int]:
    """A TCP port that takes connections and never answers (a websocket handshake that never
    completes); yields the port."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()


async def test_a_websocket_that_never_subscribes_delays_the_first_quote_and_says_so(
    monkeypatch, caplog
) -> None:
    # The websocket's handshake never completes (a proxy holding it, a venue's WS down): the
    # snapshot is taken after the wait, and the wait and why are logged, not a silent pause.
    monkeypatch.setattr("tradeguard.venues.ccxt_quotes.SUBSCRIBE_WAIT_S", 0.5)
    caplog.set_level(logging.INFO, logger="tradeguard.venues.ccxt_venue")
    async with seeded_exchange() as ex, _mute_door() as door:
        factory = ccxt_client_factory(
            "binance",
            {"apiKey": ALICE_KEY, "secret": ALICE_SECRET},
            rest_url=ex.rest_url,
            ws_url=f"ws://127.0.0.1:{door}/ws",
        )
        venue = CcxtVenue(VENUE, factory, Clock(), stream_user_data=False, quote_refresh_s=60)
        await venue.connect()
        quotes = venue.stream_quotes(["BTC/USDT"])
        try:
            async with asyncio.timeout(5):
                first = await anext(quotes)
            assert first.bid == Decimal(49999)
            said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
            assert any(
                VENUE in m and "websocket" in m and "0.5 s" in m and "snapshot" in m for m in said
            ), said
        finally:
            await quotes.aclose()  # type: ignore[attr-defined]
            await venue.close()


async def test_a_quiet_market_is_read_again_while_another_market_streams_busily() -> None:
    # BTC/USDT is quiet, ETH/USDT moves every few milliseconds. The stream always had a cached
    # ETH message to hand on first, never reached its wait, and so never took the refresh due:
    # the quiet market's quote aged (stale to the risk check) and a market taken out of the
    # triangular scan after an expired leg never came back.
    ex = seeded_exchange()
    ex.add_market("ETHUSDT", "ETH", "USDT", "0.01", "0.0001", "0.0001", "5")
    ex.set_book("ETHUSDT", bids=[("2999", "5")], asks=[("3001", "5")])
    async with ex:
        venue = make_venue(ex, stream_user_data=False, quote_refresh_s=0.2)
        await venue.connect()
        quotes = venue.stream_quotes(["BTC/USDT", "ETH/USDT"])
        seen: dict[str, list[Quote]] = {"BTC/USDT": [], "ETH/USDT": []}

        async def read() -> None:
            async for q in quotes:
                seen[q.symbol].append(q)
                await asyncio.sleep(0.01)  # the node's work on each quote

        reader = asyncio.create_task(read())
        try:
            await eventually(lambda: len(seen["BTC/USDT"]) >= 1 and len(ex.ws_subscriptions()) == 2)
            quiet = len(seen["BTC/USDT"])
            for i in range(600):  # 3 s or more of ETH moving: 15 refreshes due
                ex.set_book("ETHUSDT", bids=[(str(2000 + i), "5")], asks=[("3001", "5")])
                await asyncio.sleep(0.005)
            assert len(seen["ETH/USDT"]) > 50  # the busy market streamed all along
            refreshed = seen["BTC/USDT"][quiet:]
            assert len(refreshed) >= 3, f"{len(refreshed)} refreshes of the quiet market"
            assert all(q.bid == Decimal(49999) for q in refreshed)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await venue.close()
