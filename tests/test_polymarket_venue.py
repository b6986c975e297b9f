"""The polymarket venue against our local CLOB: signing, query by recomputed hash, heartbeats."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account

import tradeguard.sandbox.polymarket.server as clob
from rigs import answering
from tradeguard.clock import Clock
from tradeguard.model.enums import OrderStatus, OrderType, Side, TimeInForce
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.model.order import Order
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.polymarket.venue import PolymarketVenue

D = Decimal
YES = "fed-dec:YES/PUSD"
NO = "fed-dec:NO/PUSD"


class Recorder:
    def __init__(self) -> None:
        self.fills = []

    def on_order_report(self, report) -> None: ...

    def on_fill(self, fill) -> None:
        self.fills.append(fill)

    def on_balances(self, venue, balances) -> None: ...


def make_order(cid, symbol, side, amount, price, tif=TimeInForce.GTC, ts=1_700_000_000_000):
    return Order(
        cid, "s1", "polymarket", symbol, side, OrderType.LIMIT, D(amount), D(price), tif,
        created_ts=ts,
    )  # fmt: skip


async def maker_and_taker(
    ex: PolymarketExchange, listener: Any
) -> tuple[PolymarketVenue, PolymarketVenue]:
    """fed-dec (2% fee) seeded at 0.45/0.47; a maker venue on the user channel telling
    `listener` and a taker venue, each with its own wallet funded with 1000, both connected."""
    ex.add_market("fed-dec", "1001", "1002", fee_rate=D("0.02"))
    ex.seed_book("fed-dec", yes_bids=[("0.45", "100")], yes_asks=[("0.47", "100")])
    maker_wallet, taker_wallet = Account.create(), Account.create()
    ex.add_account(maker_wallet.address, D("1000"))
    ex.add_account(taker_wallet.address, D("1000"))
    ws_user = ex.url.replace("http", "ws") + "/ws/user"
    maker = PolymarketVenue("polymarket", ex.url, maker_wallet.key.hex(), Clock(),
                            ws_url=ws_user)  # fmt: skip
    taker = PolymarketVenue("pm2", ex.url, taker_wallet.key.hex(), Clock())
    maker.set_listener(listener)
    await maker.connect()
    await taker.connect()
    return maker, taker


async def started(ex: PolymarketExchange, **kw):
    ex.add_market("fed-dec", "1001", "1002", fee_rate=D("0.02"), **kw)
    ex.seed_book("fed-dec", yes_bids=[("0.45", "100")], yes_asks=[("0.47", "100")])
    wallet = Account.create()
    ex.add_account(wallet.address, D("1000"))
    key = wallet.key.hex()
    venue = PolymarketVenue("polymarket", ex.url, key, Clock())
    rec = Recorder()
    venue.set_listener(rec)
    await venue.connect()
    return venue, rec, key


async def test_resting_order_is_listed_and_cancelled_and_its_hash_is_known_before_send():
    async with PolymarketExchange() as ex:
        venue, _, _ = await started(ex)
        try:
            order = make_order("tg1-1", YES, Side.BUY, "10", "0.40")
            expected = venue.order_hash(order)
            report = await venue.submit(order)
            assert report.status is OrderStatus.ACCEPTED and report.venue_order_id == expected
            assert [r.client_order_id for r in await venue.fetch_open_orders(YES)] == ["tg1-1"]
            cancelled = await venue.cancel(order)
            assert cancelled.status is OrderStatus.CANCELLED
            assert await venue.fetch_open_orders() == []
        finally:
            await venue.close()


async def test_crossing_buy_fills_with_taker_fee_and_tokens_appear_in_balances():
    async with PolymarketExchange() as ex:
        venue, rec, _ = await started(ex)
        try:
            report = await venue.submit(make_order("tg1-2", YES, Side.BUY, "10", "0.50"))
            assert report.status is OrderStatus.FILLED
            assert [(f.price, f.amount, f.fee) for f in rec.fills] == [
                (D("0.47"), D(10), D("0.049820"))
            ]
            balances = {b.asset: b.total for b in await venue.fetch_balances()}
            assert balances == {"PUSD": D("1000") - D("4.7") - D("0.04982"), "fed-dec:YES": 10}
            with pytest.raises(DefinitiveVenueError, match="Size \\(1\\) lower than the minimum"):
                await venue.submit(make_order("tg1-3", YES, Side.BUY, "1", "0.40"))
        finally:
            await venue.close()


async def test_lost_answer_is_resolved_by_the_recomputed_hash_after_a_restart():
    async with PolymarketExchange() as ex:
        venue, _, key = await started(ex)
        order = make_order("tg1-4", NO, Side.BUY, "10", "0.50")
        ex.faults.update({"http_5xx_rate": 1.0})
        try:
            with pytest.raises(AmbiguousVenueError):
                await venue.submit(order)
        finally:
            ex.faults.update({"http_5xx_rate": 0.0})
            await venue.close()
        # a fresh process knows nothing but the journaled order
        fresh = PolymarketVenue("polymarket", ex.url, key, Clock())
        await fresh.connect()
        try:
            with pytest.raises(AmbiguousVenueError, match="adopt the journaled order"):
                await fresh.fetch_order("tg1-4", NO)
            fresh.adopt(order)
            assert await fresh.fetch_order("tg1-4", NO) is None  # never reached the CLOB
            await fresh.submit(order)
            found = await fresh.fetch_order("tg1-4", NO)
            assert found is not None and found.status is OrderStatus.ACCEPTED
            # executed, answer lost: the query by hash finds the fill
            ex.faults.update({"drop_response_after_execute": 1})
            taker = make_order("tg1-5", YES, Side.BUY, "5", "0.47")
            with pytest.raises(AmbiguousVenueError):
                await fresh.submit(taker)
            found = await fresh.fetch_order("tg1-5", YES)
            assert found is not None and found.status is OrderStatus.FILLED
            assert [f.client_order_id for f in await fresh.fetch_fills(YES)] == ["tg1-5"]
        finally:
            await fresh.close()


async def test_heartbeat_keeps_orders_and_its_absence_cancels_them(monkeypatch):
    monkeypatch.setattr(clob, "HEARTBEAT_TIMEOUT_S", 0.5)
    async with PolymarketExchange() as ex:
        venue, _, _ = await started(ex)
        venue.heartbeat_s = 0.1
        await venue.submit(make_order("tg1-7", YES, Side.BUY, "10", "0.40"))
        await eventually(lambda: bool(ex._heartbeat))
        await venue.close()  # the process "dies": no more heartbeats
        await eventually(lambda: len(ex.book.resting(next(iter(ex.markets)))) == 2, timeout_s=3)


async def test_neg_risk_market_is_signed_against_the_neg_risk_exchange():
    async with PolymarketExchange() as ex:
        venue, _, _ = await started(ex, neg_risk=True)
        try:
            report = await venue.submit(make_order("tg1-6", YES, Side.BUY, "10", "0.40"))
            assert report.status is OrderStatus.ACCEPTED
        finally:
            await venue.close()


async def test_user_channel_delivers_the_fill_of_a_resting_order_and_market_channel_the_book():
    import aiohttp

    async with PolymarketExchange() as ex:
        rec = Recorder()
        maker, taker = await maker_and_taker(ex, rec)
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(ex.url.replace("http", "ws") + "/ws/market") as market_ws,
            ):
                await market_ws.send_json({"assets_ids": ["1001"], "type": "market"})
                first = await market_ws.receive_json(timeout=5)
                assert first[0]["event_type"] == "book"
                assert first[0]["bids"][-1] == {"price": "0.45", "size": "100"}
                await maker.submit(make_order("tg1-8", YES, Side.BUY, "10", "0.46"))
                assert rec.fills == []
                await taker.submit(make_order("tg2-1", NO, Side.BUY, "10", "0.54"))
                await eventually(lambda: len(rec.fills) == 1)
                fill = rec.fills[0]
                assert (fill.client_order_id, fill.price, fill.amount, fill.fee) == (
                    "tg1-8",
                    D("0.46"),
                    D(10),
                    D(0),
                )
                assert fill.liquidity.value == "maker"
                kinds = set()
                while "last_trade_price" not in kinds:
                    msg = await market_ws.receive_json(timeout=5)
                    kinds.add(msg["event_type"])
                    if msg["event_type"] == "last_trade_price":
                        assert (msg["price"], msg["size"]) == ("0.46", "10")
        finally:
            await maker.close()
            await taker.close()


async def test_a_streamed_fill_keeps_the_trade_milliseconds_the_rest_row_drops():
    # the user channel's `timestamp` carries the match's ms; REST's `match_time` whole seconds
    async with PolymarketExchange() as ex:
        rec = Recorder()
        maker, taker = await maker_and_taker(ex, rec)
        try:
            await maker.submit(make_order("tg1-9", YES, Side.BUY, "10", "0.46"))
            report = await taker.submit(make_order("tg2-2", NO, Side.BUY, "10", "0.54"))
            matched_ms = ex.book.orders[report.venue_order_id].ts
            await eventually(lambda: len(rec.fills) == 1)
            assert rec.fills[0].ts == matched_ms
            [rest] = await maker.fetch_fills(YES)
            assert rest.trade_id == rec.fills[0].trade_id
            assert rest.ts == matched_ms // 1000 * 1000  # all REST's row gives
        finally:
            await maker.close()
            await taker.close()


def test_a_trade_time_is_read_to_the_precision_its_row_gives():
    from tradeguard.venues.polymarket.trade_time import trade_ts_ms

    assert trade_ts_ms({"match_time": "1700000000"}) == 1_700_000_000_000
    assert trade_ts_ms({"match_time": "1700000000.25"}) == 1_700_000_000_250
    assert trade_ts_ms({"match_time": "2023-11-14T22:13:20.125Z"}) == 1_700_000_000_125
    assert trade_ts_ms({"matchtime": "1700000000", "timestamp": "1700000000731"}) == (
        1_700_000_000_731
    )
    # a `timestamp` outside the match's second is another moment (the message's): not taken
    assert trade_ts_ms({"match_time": "1700000000", "timestamp": "1700000005000"}) == (
        1_700_000_000_000
    )
    for bad in ({"match_time": "soon"}, {"match_time": "-5"}, {"match_time": "NaN"}, {}):
        with pytest.raises(ValueError, match="match_time"):
            trade_ts_ms(bad)


async def test_hostile_frames_on_the_user_channel_are_skipped_and_later_fills_arrive(caplog):
    async with PolymarketExchange() as ex:
        rec = Recorder()
        maker, taker = await maker_and_taker(ex, rec)
        try:
            await maker.submit(make_order("tg1-9", YES, Side.BUY, "10", "0.46"))
            (conn,) = ex.hub.conns
            await conn.ws.send_str("<html>504 Gateway Time-out</html>")
            await conn.ws.send_json({"event_type": "trade", "id": "t-bad"})
            bad = {"event_type": "trade", "id": "t-neg", "trader_side": "TAKER",
                   "taker_order_id": "0xabc", "asset_id": "1001", "side": "BUY",
                   "price": "0.46", "size": "-10", "fee_paid": "0", "match_time": "1"}  # fmt: skip
            await conn.ws.send_json(bad)
            await taker.submit(make_order("tg2-3", NO, Side.BUY, "10", "0.54"))
            await eventually(lambda: len(rec.fills) == 1)
            assert (rec.fills[0].client_order_id, rec.fills[0].amount) == ("tg1-9", D(10))
            assert maker.user_stream is not None and maker.user_stream.connected
        finally:
            await maker.close()
            await taker.close()
        skipped = [r.getMessage() for r in caplog.records if "fill stream frame" in r.getMessage()]
        assert skipped == [
            "polymarket: fill stream frame skipped: not JSON: '<html>504 Gateway Time-out</html>'",
            "polymarket: fill stream frame skipped: missing 'trader_side'",
            "polymarket: fill stream frame skipped: size: '-10' is not a finite amount >= 0",
        ]
        assert not [r for r in caplog.records if r.exc_info]


async def test_user_channel_refuses_a_wrong_secret():
    import aiohttp

    async with PolymarketExchange() as ex:
        venue, _, _ = await started(ex)
        try:
            creds = dict(venue.api_creds or {})
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(ex.url.replace("http", "ws") + "/ws/user") as ws,
            ):
                auth = {
                    "apiKey": creds["api_key"],
                    "secret": "x",
                    "passphrase": creds["passphrase"],
                }
                await ws.send_json({"auth": auth, "type": "user"})
                assert await ws.receive_json(timeout=5) == {"error": "Unauthorized/Invalid api key"}
        finally:
            await venue.close()


async def test_the_user_channel_state_follows_its_websocket_down_and_back():
    async with PolymarketExchange() as ex:
        ex.add_market("fed-dec", "1001", "1002", fee_rate=D("0.02"))
        wallet = Account.create()
        ex.add_account(wallet.address, D("1000"))
        ws_user = ex.url.replace("http", "ws") + "/ws/user"
        venue = PolymarketVenue("polymarket", ex.url, wallet.key.hex(), Clock(), ws_url=ws_user)
        without = PolymarketVenue("pm2", ex.url, wallet.key.hex(), Clock())
        await venue.connect()
        try:
            stream = venue.user_stream
            assert stream is not None and stream.connected  # connect waits for the subscription
            await ex.hub.close()  # the server drops every websocket
            await eventually(lambda: stream.reconnects == 1)
            await eventually(lambda: stream.connected)  # subscribed again
            assert stream.reconnects == 1 and without.user_stream is None
        finally:
            await venue.close()
            await without.close()


async def test_the_admin_resolve_takes_a_market_slug_as_the_startup_lines_print_it():
    import httpx

    async with PolymarketExchange() as ex:
        ex.add_market("fed-dec", "1001", "1002")
        async with httpx.AsyncClient() as http:
            by_slug = await http.post(
                f"{ex.url}/admin/resolve", json={"condition_id": "fed-dec", "result": "yes"}
            )
            assert by_slug.status_code == 200, by_slug.text
            unknown = await http.post(
                f"{ex.url}/admin/resolve", json={"condition_id": "nope", "result": "yes"}
            )
        assert unknown.status_code == 404 and "'fed-dec'" in unknown.text
        assert [m.resolved for m in ex.markets.values()] == ["yes"]


async def test_an_html_page_or_garbage_from_the_clob_is_a_venue_error_naming_it():
    from aiohttp import web

    answers = iter([
        (200, "<html><body>Cloudflare: checking your browser</body></html>"),
        (200, "[" * 5_000),
        (400, "[1, 2]"),
    ])  # fmt: skip

    async def hostile(request: web.Request) -> web.Response:
        status, text = next(answers)
        return web.Response(status=status, text=text, content_type="text/html")

    runner, base = await answering(hostile)
    venue = PolymarketVenue("polymarket", base, Account.create().key.hex(),
                            Clock())  # fmt: skip
    try:
        with pytest.raises(AmbiguousVenueError) as html:
            await venue.load_instruments()
        with pytest.raises(AmbiguousVenueError) as deep:
            await venue.load_instruments()
        with pytest.raises(DefinitiveVenueError) as listed:
            await venue.load_instruments()
    finally:
        await venue.close()
        await runner.cleanup()
    head = "polymarket: load_instruments failed: GET /markets answered HTTP 200 with a body"
    assert str(html.value) == (
        f"{head} that is not JSON: '<html><body>Cloudflare: checking your browser</body></html>'"
    )
    assert str(deep.value).startswith(f"{head} that is not JSON: '" + "[" * 80)
    assert (
        str(listed.value)
        == "polymarket: load_instruments failed: GET /markets answered HTTP 400: [1, 2]"
    )
