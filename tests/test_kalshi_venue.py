"""Our Kalshi client and venue against our local Kalshi server over loopback HTTP and WebSocket."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from pm_support import TICKER, rsa_pem, seeded_kalshi
from rigs import answering
from tradeguard.clock import Clock
from tradeguard.model.enums import OrderStatus, OrderType, Side, TimeInForce
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.model.order import Order
from tradeguard.model.outcome import Resolution
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.kalshi.signing import load_private_key, sign
from tradeguard.venues.kalshi.venue import KalshiVenue

D = Decimal
YES = f"{TICKER}:YES/USD"
NO = f"{TICKER}:NO/USD"


class Recorder:
    def __init__(self) -> None:
        self.fills = []

    def on_order_report(self, report) -> None: ...

    def on_fill(self, fill) -> None:
        self.fills.append(fill)

    def on_balances(self, venue, balances) -> None: ...


def make_order(cid, symbol, side, amount, price, tif=TimeInForce.GTC) -> Order:
    return Order(cid, "s1", "kalshi", symbol, side, OrderType.LIMIT, D(amount), D(price), tif)


async def started(ex: KalshiExchange, stream: bool = False):
    key_id, pem = seeded_kalshi(ex)
    venue = KalshiVenue("kalshi", ex.rest_url, key_id, pem, Clock(), ex.ws_url, stream)
    rec = Recorder()
    venue.set_listener(rec)
    await venue.connect()
    return venue, rec, key_id, pem


@asynccontextmanager
async def running(ex: KalshiExchange, stream: bool = False) -> AsyncIterator[Any]:
    """`started(ex, stream)`'s venue, recorder, key id and key, the venue closed on leaving."""
    venue, rec, key_id, pem = await started(ex, stream)
    try:
        yield venue, rec, key_id, pem
    finally:
        await venue.close()


def test_signature_matches_the_documented_algorithm():
    pem, key = rsa_pem()
    sig = sign(load_private_key(pem), "1700000000000", "get", "/trade-api/v2/portfolio/balance?x=1")
    # Independently: timestamp + METHOD + path without query, RSA-PSS SHA-256, salt = 32 bytes.
    key.public_key().verify(
        base64.b64decode(sig),
        b"1700000000000GET/trade-api/v2/portfolio/balance",
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )


async def test_server_refuses_tampered_signature_stale_timestamp_and_unknown_key():
    async with KalshiExchange() as ex:
        key_id, pem = seeded_kalshi(ex)
        key = load_private_key(pem)
        path = "/trade-api/v2/portfolio/balance"
        url = f"{ex.base_url}{path}"
        now = str(int(time.time() * 1000))
        good = sign(key, now, "GET", path)
        async with httpx.AsyncClient() as http:
            ok = await http.get(url, headers=_h(key_id, now, good))
            assert ok.status_code == 200 and ok.json()["balance_dollars"] == "1000.0000"
            tampered = good[:-4] + ("AAAA" if good[-4:] != "AAAA" else "BBBB")
            bad = await http.get(url, headers=_h(key_id, now, tampered))
            assert bad.status_code == 401
            assert bad.json()["error"]["code"] == "authentication_error"
            stale = str(int(now) - 60_000)
            old = await http.get(url, headers=_h(key_id, stale, sign(key, stale, "GET", path)))
            assert old.status_code == 401 and "window" in old.json()["error"]["message"]
            other = await http.get(url, headers=_h("nobody", now, good))
            assert other.json()["error"]["message"] == "unknown API key"
            wrong_path = await http.get(
                f"{ex.base_url}/trade-api/v2/portfolio/positions", headers=_h(key_id, now, good)
            )
            assert wrong_path.status_code == 401


def _h(key_id: str, ts: str, sig: str) -> dict[str, str]:
    return {
        "KALSHI-ACCESS-KEY": key_id,
        "KALSHI-ACCESS-TIMESTAMP": ts,
        "KALSHI-ACCESS-SIGNATURE": sig,
    }


async def test_buy_yes_crosses_the_no_book_and_charges_kalshi_fees():
    async with KalshiExchange() as ex, running(ex) as (venue, rec, _, _):
        instruments = await venue.load_instruments()
        assert instruments[YES].price_tick == D("0.01") and instruments[YES].kind == "outcome"
        report = await venue.submit(make_order("tg1-1", YES, Side.BUY, "100", "0.50"))
        assert report.status is OrderStatus.FILLED and report.avg_price == D("0.47")
        assert [(f.price, f.amount, f.fee) for f in rec.fills] == [(D("0.47"), 100, D("1.75"))]
        balances = {b.asset: b.total for b in await venue.fetch_balances()}
        assert balances == {"USD": D("1000") - D("47") - D("1.75"), f"{TICKER}:YES": 100}


async def test_fill_rows_no_venue_would_send_are_skipped_by_name_not_booked(caplog):
    async with KalshiExchange() as ex:
        async with running(ex) as (venue, rec, _, _):
            await venue.submit(make_order("tg1-9", YES, Side.BUY, "100", "0.50"))
            ((account, rows),) = ex.fills.items()
            good = rows[0]
            ex.fills[account] = [
                good,
                {**good, "fill_id": "f-nan", "count_fp": "NaN"},
                {**good, "fill_id": "f-neg", "yes_price_dollars": "-0.47"},
                {**good, "fill_id": "f-side", "side": "maybe"},
            ]
            fills = await venue.fetch_fills(YES)
        assert [(f.trade_id, f.amount) for f in fills] == [(good["fill_id"], 100)]
        assert [f.trade_id for f in rec.fills] == [good["fill_id"]]  # delivered once, at submit
        skipped = [r.getMessage() for r in caplog.records if "fill row skipped" in r.getMessage()]
        assert skipped == [
            "kalshi: fill row skipped: count_fp: 'NaN' is not a finite amount >= 0",
            "kalshi: fill row skipped: yes_price_dollars: '-0.47' is not a finite amount >= 0",
            "kalshi: fill row skipped: side: 'maybe' is not yes or no",
        ]


async def test_fill_time_keeps_the_milliseconds_of_created_time_that_ts_drops():
    async with KalshiExchange() as ex:
        async with running(ex) as (venue, _, _, _):
            await venue.submit(make_order("tg1-8", YES, Side.BUY, "10", "0.50"))
            ((account, rows),) = ex.fills.items()
            good = rows[0]
            ex.fills[account] = [
                {**good, "fill_id": "f-ms", "created_time": "2026-12-05T20:06:45.016Z",
                 "ts": 1796501205},
                {**good, "fill_id": "f-s", "created_time": "not a time", "ts": 1796501205},
                {**good, "fill_id": "f-naive", "created_time": "2026-12-05T20:06:45.5",
                 "ts": 1796501205},
            ]  # fmt: skip
            fills = await venue.fetch_fills(YES)
        # A trade made 16 ms after a ledger opened at ...205.010 is after it, not before.
        assert {f.trade_id: f.ts for f in fills} == {
            "f-ms": 1796501205016, "f-s": 1796501205000, "f-naive": 1796501205000
        }  # fmt: skip


async def test_resting_order_is_listed_cancelled_and_found_by_client_id():
    async with KalshiExchange() as ex, running(ex) as (venue, _, _, _):
        order = make_order("tg1-2", NO, Side.BUY, "10", "0.40")
        report = await venue.submit(order)
        assert report.status is OrderStatus.ACCEPTED
        assert [r.client_order_id for r in await venue.fetch_open_orders()] == ["tg1-2"]
        order.venue_order_id = report.venue_order_id
        cancelled = await venue.cancel(order)
        assert cancelled.status is OrderStatus.CANCELLED
        found = await venue.fetch_order("tg1-2", NO)
        assert found is not None and found.status is OrderStatus.CANCELLED
        assert await venue.fetch_order("never-sent", NO) is None
        balances = {b.asset: b.total for b in await venue.fetch_balances()}
        assert balances["USD"] == D("1000")


async def test_reused_client_order_id_and_unfunded_order_are_refused():
    async with KalshiExchange() as ex, running(ex) as (venue, _, _, _):
        await venue.submit(make_order("tg1-3", NO, Side.BUY, "1", "0.40"))
        with pytest.raises(AmbiguousVenueError, match="order_already_exists"):
            await venue.submit(make_order("tg1-3", NO, Side.BUY, "1", "0.40"))
        with pytest.raises(DefinitiveVenueError, match="insufficient_balance"):
            await venue.submit(make_order("tg1-4", YES, Side.BUY, "5000", "0.40"))
        with pytest.raises(DefinitiveVenueError, match=r"needs 5\.00 yes contracts"):
            await venue.submit(make_order("tg1-5", YES, Side.SELL, "5", "0.40"))


async def test_lost_answer_is_resolved_by_query_not_by_guess():
    async with KalshiExchange() as ex, running(ex) as (venue, _, _, _):
        ex.faults.update({"drop_response_after_execute": 1})
        with pytest.raises(AmbiguousVenueError):
            await venue.submit(make_order("tg1-6", YES, Side.BUY, "2", "0.47"))
        found = await venue.fetch_order("tg1-6", YES)
        assert found is not None and found.status is OrderStatus.FILLED
        fills = await venue.fetch_fills(YES)
        assert [(f.client_order_id, f.amount) for f in fills] == [("tg1-6", 2)]


async def test_fill_of_a_resting_order_arrives_on_the_signed_websocket():
    async with KalshiExchange() as ex, running(ex, stream=True) as (venue, rec, _, _):
        await venue.submit(make_order("tg1-7", YES, Side.BUY, "3", "0.46"))
        assert rec.fills == []
        _, other_pem = await _second_account_venue(ex)
        await other_pem.submit(make_order("tg2-1", NO, Side.BUY, "3", "0.54"))
        await eventually(lambda: len(rec.fills) == 1)
        fill = rec.fills[0]
        assert (fill.client_order_id, fill.price, fill.amount) == ("tg1-7", D("0.46"), 3)
        assert fill.liquidity.value == "maker" and fill.fee == 0
        await other_pem.close()


async def test_a_no_fill_in_the_fill_channels_shape_is_booked_as_the_rest_row_is():
    # Kalshi's `fill` channel names the fill `trade_id` (no fill_id) and carries the YES price
    # only: every such frame was skipped ("missing 'fill_id'"), so a resting order's fill
    # waited for reconciliation; a NO fill's price is 1 minus the YES price
    async with KalshiExchange() as ex, running(ex, stream=True) as (venue, rec, _, _):
        await venue.submit(make_order("tg1-9", NO, Side.BUY, "3", "0.54"))
        _, other = await _second_account_venue(ex)
        await other.submit(make_order("tg2-3", YES, Side.BUY, "3", "0.46"))
        await eventually(lambda: len(rec.fills) == 1)
        (live,) = rec.fills
        assert (live.client_order_id, live.symbol) == ("tg1-9", NO)
        assert (live.price, live.amount, live.side) == (D("0.54"), 3, Side.BUY)
        (rest,) = await venue.fetch_fills(NO)
        assert rest.trade_id == live.trade_id and rest.price == live.price  # booked once
        await other.close()


async def test_hostile_frames_on_the_fill_stream_are_skipped_and_later_fills_still_arrive(caplog):
    async with KalshiExchange() as ex:
        async with running(ex, stream=True) as (venue, rec, _, _):
            await venue.submit(make_order("tg1-8", YES, Side.BUY, "3", "0.46"))
            (conn,) = ex.hub.conns
            # an HTML error page, JSON that is not an object, and fills no venue would send
            await conn.ws.send_str("<html><body>502 Bad Gateway</body></html>")
            await conn.ws.send_str("[1, 2]")
            await conn.ws.send_json({"type": "fill", "msg": {"side": "maybe"}})
            bad = {
                "side": "yes",
                "ticker": TICKER,
                "order_id": "x",
                "fill_id": "f-nan",
                "action": "buy",
                "yes_price_dollars": "0.46",
                "count_fp": "NaN",
                "ts": 1,
            }
            await conn.ws.send_json({"type": "fill", "msg": bad})
            await conn.ws.send_json({"type": "fill", "msg": {**bad, "count_fp": "-3"}})
            _, other = await _second_account_venue(ex)
            await other.submit(make_order("tg2-2", NO, Side.BUY, "3", "0.54"))
            await eventually(lambda: len(rec.fills) == 1)
            assert (rec.fills[0].client_order_id, rec.fills[0].amount) == ("tg1-8", 3)
            assert venue.user_stream is not None and venue.user_stream.connected
            await other.close()
        skipped = [r.getMessage() for r in caplog.records if "fill stream frame" in r.getMessage()]
        assert skipped == [
            "kalshi: fill stream frame skipped: not JSON: '<html><body>502 Bad Gateway</body>"
            "</html>'",
            "kalshi: fill stream frame skipped: not a JSON object: '[1, 2]'",
            "kalshi: fill stream frame skipped: side: 'maybe' is not yes or no",
            "kalshi: fill stream frame skipped: count_fp: 'NaN' is not a finite amount >= 0",
            "kalshi: fill stream frame skipped: count_fp: '-3' is not a finite amount >= 0",
        ]
        assert not [r for r in caplog.records if r.exc_info]


async def test_the_fill_stream_state_follows_the_signed_websocket_down_and_back():
    async with KalshiExchange() as ex, running(ex, stream=True) as (venue, _, _, _):
        stream = venue.user_stream
        assert stream is not None
        await eventually(lambda: stream.connected and stream.last_message_ms is not None)
        assert stream.reconnects == 0
        await ex.hub.close()  # the server drops every websocket
        await eventually(lambda: stream.reconnects == 1)
        await eventually(lambda: stream.connected)  # subscribed again
        assert stream.reconnects == 1


async def _second_account_venue(ex: KalshiExchange):
    pem, key = rsa_pem()
    key_id = ex.add_account(key.public_key(), D("100"))
    venue = KalshiVenue("kalshi2", ex.rest_url, key_id, pem, Clock())
    await venue.connect()
    return key_id, venue


async def test_settlement_pays_yes_holders_and_splits_fifty_fifty():
    async with KalshiExchange() as ex, running(ex) as (venue, _, _, _):
        await venue.submit(make_order("tg1-8", YES, Side.BUY, "10", "0.47"))
        ex.add_market("KXOTHER", "KXOTHER-EV", "Other?")
        ex.seed_book("KXOTHER", [("0.30", "50")], [("0.32", "50")])
        await venue.load_instruments()
        await venue.submit(make_order("tg1-9", "KXOTHER:NO/USD", Side.BUY, "20", "0.70"))
        cash_before = {b.asset: b.total for b in await venue.fetch_balances()}["USD"]
        ex.resolve(TICKER, Resolution.YES)
        ex.resolve("KXOTHER", Resolution.parse("50-50"))
        settlements = {s.market: s for s in await venue.fetch_settlements()}
        assert settlements[TICKER].cash == D("10") and settlements[TICKER].yes_contracts == 10
        assert settlements["KXOTHER"].resolution is Resolution.VOID
        assert settlements["KXOTHER"].cash == D("10")  # 20 NO at 0.50
        balances = {b.asset: b.total for b in await venue.fetch_balances()}
        assert balances == {"USD": cash_before + D("20")}
        with pytest.raises(DefinitiveVenueError, match="finalized"):
            await venue.submit(make_order("tg1-10", YES, Side.BUY, "1", "0.47"))


async def test_a_settlement_dated_in_rfc_3339_as_kalshi_sends_it_is_read_to_the_millisecond():
    # Kalshi's settled_time is RFC 3339 ("2023-11-07T05:31:56Z"); the venue took int() of it, so
    # fetch_settlements raised ValueError and no settlement was ever booked
    async with KalshiExchange() as ex:
        async with running(ex) as (venue, _, _, _):
            await venue.submit(make_order("tg1-11", YES, Side.BUY, "10", "0.47"))
            ex.resolve(TICKER, Resolution.YES)
            (row,) = next(iter(ex.accounts[a].settlements for a in ex.accounts if a != "house"))
            (settled,) = await venue.fetch_settlements()
        assert settled.ts == row["ts"] and settled.cash == D("10")


async def test_market_channels_stream_book_trades_and_settlement_over_signed_websocket():
    import aiohttp

    async with KalshiExchange() as ex:
        venue, _, key_id, pem = await started(ex)
        key = load_private_key(pem)
        now = str(int(time.time() * 1000))
        headers = _h(key_id, now, sign(key, now, "GET", "/trade-api/ws/v2"))
        got: list[dict] = []
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(ex.ws_url, headers=_h(key_id, now, "AAAA")) as bad,
            ):
                pytest.fail(f"unsigned handshake accepted: {bad}")
        except aiohttp.WSServerHandshakeError as exc:
            assert exc.status == 401
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(ex.ws_url, headers=headers) as ws,
            ):
                channels = ["orderbook_delta", "trade", "market_lifecycle_v2"]
                params = {"channels": channels, "market_tickers": [TICKER]}
                await ws.send_json({"id": 1, "cmd": "subscribe", "params": params})
                while len(got) < 4:  # three acks and the book snapshot
                    got.append(await ws.receive_json(timeout=5))
                snapshot = next(m for m in got if m["type"] == "orderbook_snapshot")["msg"]
                assert snapshot["yes_dollars"][-1] == ["0.4500", "100.00"]
                assert snapshot["no_dollars"][-1] == ["0.5300", "100.00"]
                await venue.submit(make_order("tg1-11", YES, Side.BUY, "4", "0.47"))
                trade = await _next_of(ws, "trade")
                assert (trade["yes_price_dollars"], trade["count_fp"]) == ("0.4700", "4.00")
                async with http.post(
                    f"{ex.base_url}/admin/resolve", json={"ticker": TICKER, "result": "maybe"}
                ) as bad_resolve:
                    body = await bad_resolve.json()
                    assert bad_resolve.status == 400
                    assert "'maybe' is not one of yes, no, 50-50" in body["error"]["message"]
                async with http.post(
                    f"{ex.base_url}/admin/resolve", json={"ticker": TICKER, "result": "no"}
                ) as ok:
                    assert (await ok.json()) == {"settled": 1}
                lifecycle = await _next_of(ws, "market_lifecycle_v2")
                assert lifecycle["result"] == "no"
        finally:
            await venue.close()


async def _next_of(ws, kind: str) -> dict:
    while True:
        msg = await ws.receive_json(timeout=5)
        if msg["type"] == kind:
            return msg["msg"]


async def test_an_html_page_or_garbage_with_status_200_is_an_ambiguous_venue_error():
    # A proxy in front of the venue answering 200 with its own page: the order may or may not
    # be placed, so the answer is ambiguous (resolved by query), never a stray JSON traceback.
    from aiohttp import web

    bodies = iter(["<html><body>Service maintenance</body></html>", "[1, 2]", "[" * 5_000])

    async def hostile(request: web.Request) -> web.Response:
        return web.Response(text=next(bodies), content_type="text/html")

    runner, base = await answering(hostile)
    pem, _ = rsa_pem()
    venue = KalshiVenue("kalshi", f"{base}/trade-api/v2", "k1", pem, Clock())
    try:
        errors = []
        for _ in range(3):
            with pytest.raises(AmbiguousVenueError) as err:
                await venue.submit(make_order("tg1-10", YES, Side.BUY, "1", "0.50"))
            errors.append(str(err.value))
    finally:
        await venue.close()
        await runner.cleanup()
    head = "kalshi: submit failed: POST /trade-api/v2/portfolio/orders answered HTTP 200 with a"
    assert (
        errors[0]
        == f"{head} body that is not JSON: '<html><body>Service maintenance</body></html>'"
    )
    assert errors[1] == f"{head} body that is not JSON: '[1, 2]'"
    assert errors[2].startswith(f"{head} body that is not JSON: '" + "[" * 80)
    assert all("\n" not in e and len(e) < 300 for e in errors)
