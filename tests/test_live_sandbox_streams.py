"""Books, trades and on-demand quotes through ccxt.pro from the sandbox on 127.0.0.1."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from live_support import sandbox_config, write_vault
from test_ccxt_support import make_venue
from test_live_hub import Sink
from tradeguard.marketdata.live.hub import LiveHub
from tradeguard.marketdata.live.subscriptions import Subscription
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually, seeded_exchange

D = Decimal


async def test_book_and_trades_stream_from_the_sandbox_into_the_hub() -> None:
    async with seeded_exchange() as ex:
        venue = make_venue(ex, stream_user_data=False)
        await venue.connect()
        sink = Sink()
        hub = LiveHub({venue.name: venue.market_data()}, sink)
        hub.subscribe([
            Subscription("book", venue.name, "BTC/USDT", depth=5),
            Subscription("trades", venue.name, "BTC/USDT"),
        ])  # fmt: skip
        try:
            book = await _wait_book(hub, venue.name)
            assert book.best_ask() == (D("50001"), D(1))  # the REST snapshot came first
            ex.set_book("BTCUSDT", bids=[("49990", "3")], asks=[("50010", "4")])
            await eventually(lambda: book.best_ask() == (D("50010"), D(4)))
            assert book.bids() == [(D("49990"), D(3))]
            ex.trade_through("BTCUSDT", "SELL", "49990", "0.5")
            await eventually(lambda: len(sink.trades) == 1)
            stats = {s["stream"]: s for s in hub.status()}
            assert stats["book"]["messages"] >= 2 and stats["trades"]["messages"] == 1
            assert not stats["book"]["polled"] and not stats["trades"]["polled"]
        finally:
            await hub.stop()
            await venue.close()


async def _wait_book(hub: LiveHub, venue: str):  # type: ignore[no-untyped-def]
    await eventually(
        lambda: (venue, "BTC/USDT") in hub.books and hub.books[(venue, "BTC/USDT")].seq
    )
    return hub.books[(venue, "BTC/USDT")]


async def test_an_order_for_a_symbol_nobody_streams_subscribes_it_instead_of_a_stale_denial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_vault(tmp_path, monkeypatch)
    async with seeded_exchange() as ex:
        node = TradingNode(sandbox_config(tmp_path, ex, []))  # no strategy streams anything
        await node.start()
        try:
            assert node.market.last_update_ms("BTC/USDT") is None
            intent = OrderIntent(
                strategy_id="http", venue="binance", symbol="BTC/USDT", side=Side.BUY,
                amount=D("0.001"), type=OrderType.MARKET,
            )  # fmt: skip
            result = await node.submit(intent)
            assert result.ok, result.reason
            assert node.market.quotes["BTC/USDT"].ask == D("50001")
            assert node.live is not None
            assert [(s["symbol"], s["stream"]) for s in node.live.status()] == [
                ("BTC/USDT", "quotes")
            ]
        finally:
            await node.stop()
            node.close()


async def test_klines_close_on_the_venues_flag_once_and_not_before() -> None:
    minute = 60_000
    async with seeded_exchange() as ex:
        venue = make_venue(ex, stream_user_data=False)
        await venue.connect()
        sink = Sink()
        hub = LiveHub({venue.name: venue.market_data()}, sink)
        t0 = (ex.now_ms() // minute + 1) * minute  # the sandbox runs ahead on its trades
        hub.subscribe([Subscription("candles", venue.name, "BTC/USDT", "1m")])
        try:
            await eventually(lambda: any("kline" in s for s in ex.ws_subscriptions()))

            def messages() -> int:
                return int(hub.status()[0]["messages"])

            for i in range(3):  # three trades inside minute t0: the candle stays open
                seen = messages()
                ex.trade_through("BTCUSDT", "BUY", "50001", "0.01", at_ms=t0 + 1000 * i)
                await eventually(lambda: messages() > seen)  # noqa: B023
            assert (t0 // minute, False) not in sink.candles, "not emitted before it closes"
            # a trade in the next minute: the venue sends minute t0 flagged closed, then t0+1
            ex.trade_through("BTCUSDT", "BUY", "50001", "0.01", at_ms=t0 + minute + 10)
            await eventually(lambda: (t0 // minute, False) in sink.candles)
            source = hub.sources[venue.name]
            assert source.closed_flag("BTC/USDT", "1m", t0), "closed on the venue's `x` flag"
            assert not source.closed_flag("BTC/USDT", "1m", t0 + minute)
            seen = messages()
            ex.trade_through("BTCUSDT", "BUY", "50002", "0.01", at_ms=t0 + minute + 20)
            await eventually(lambda: messages() > seen)
        finally:
            await hub.stop()
            await venue.close()
    live = [m for m, warm in sink.candles if not warm]
    assert live.count(t0 // minute) == 1 and (t0 + minute) // minute not in live


async def test_trades_read_from_binance_frames_equal_ccxts_own_parse() -> None:
    async with seeded_exchange() as ex:
        venue = make_venue(ex, stream_user_data=False)
        await venue.connect()
        source = venue.market_data()
        try:
            assert source._tap is not None  # the fast path is on for Binance
            watching = asyncio.ensure_future(source.watch_trades("BTC/USDT"))
            await eventually(lambda: any("@trade" in s for s in ex.ws_subscriptions()))
            ex.trade_through("BTCUSDT", "SELL", "49998", "1.5")  # two prints, the taker sells
            got = await asyncio.wait_for(watching, 10)
            while len(got) < 2:
                got += await asyncio.wait_for(source.watch_trades("BTC/USDT"), 10)
            rest = await source.fetch_trades("BTC/USDT", None)
        finally:
            await venue.close()
    assert got == rest[-2:], "the same ticks as ccxt's parse of the venue's trade list"
    assert [(t.price, t.amount, t.side) for t in got] == [
        (D("49999"), D(1), "sell"), (D("49998"), D("0.5"), "sell"),
    ]  # fmt: skip


async def test_a_dropped_trade_socket_raises_to_the_hub_and_the_stream_resumes() -> None:
    async with seeded_exchange() as ex:
        venue = make_venue(ex, stream_user_data=False)
        await venue.connect()
        sink = Sink()
        hub = LiveHub({venue.name: venue.market_data()}, sink, backoff_s=0.01)
        hub.subscribe([Subscription("trades", venue.name, "BTC/USDT")])
        try:
            await eventually(lambda: any("@trade" in s for s in ex.ws_subscriptions()))
            ex.trade_through("BTCUSDT", "BUY", "50001", "0.1")
            await eventually(lambda: len(sink.trades) == 1)
            ex.disconnect_websockets()
            await eventually(lambda: hub.status()[0]["reconnects"] == 1)
            await eventually(lambda: any("@trade" in s for s in ex.ws_subscriptions()))
            ex.trade_through("BTCUSDT", "BUY", "50001", "0.1")
            await eventually(lambda: len(sink.trades) == 2)
        finally:
            await hub.stop()
            await venue.close()
    assert len(set(sink.trades)) == 2
