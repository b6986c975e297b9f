"""The real ccxt client rehearsing a bot's day on the sandbox: candles, trades, stops, OCO."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt
import pytest

from tradeguard.sandbox.client import make_ccxt_client
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, eventually, seeded_exchange


@pytest.fixture
async def ex() -> AsyncIterator[SandboxExchange]:
    # These books are set by hand and taken level by level. The house refill (every second by
    # default) quoted a taken level again whenever an await crossed its tick: the next trade then
    # printed at the refilled price, and a stop meant to trigger stayed open.
    async with seeded_exchange(SandboxConfig(house_refill_ms=0)) as sandbox:
        yield sandbox


@pytest.fixture
async def client(ex: SandboxExchange) -> AsyncIterator[Any]:
    c = make_ccxt_client(ex, ALICE_KEY, ALICE_SECRET, enable_rate_limit=False)
    await c.load_markets()
    yield c
    await c.close()


def _minute(ms: int) -> int:
    return ms // 60_000 * 60_000


def _three_minutes(ms: int) -> int:
    return ms // 180_000 * 180_000


async def test_fetch_ohlcv_aggregates_the_sandbox_trades_per_minute(
    ex: SandboxExchange, client: Any
) -> None:
    base = _three_minutes(ex.now_ms()) - 180_000
    ex.trade_through("BTCUSDT", "BUY", "50001", "0.2", at_ms=base + 1_000)
    ex.trade_through("BTCUSDT", "SELL", "49999", "0.3", at_ms=base + 30_000)
    ex.trade_through("BTCUSDT", "BUY", "50002", "0.9", at_ms=base + 2 * 60_000 + 5_000)
    candles = await client.fetch_ohlcv("BTC/USDT", "1m", since=base, limit=3)
    assert candles == [
        [base, 50001.0, 50001.0, 49999.0, 49999.0, 0.5],
        [base + 60_000, 49999.0, 49999.0, 49999.0, 49999.0, 0.0],  # no trade: flat at the close
        [base + 120_000, 50001.0, 50002.0, 50001.0, 50002.0, 0.9],  # 0.8 at 50,001, 0.1 above
    ]
    three = await client.fetch_ohlcv("BTC/USDT", "3m", since=base, limit=1)
    assert three == [[base, 50001.0, 50002.0, 49999.0, 50002.0, 1.4]]


async def test_fetch_trades_lists_the_public_tape(ex: SandboxExchange, client: Any) -> None:
    ex.trade_through("BTCUSDT", "BUY", "50001", "0.25")
    trades = await client.fetch_trades("BTC/USDT")
    assert [(t["price"], t["amount"], t["side"]) for t in trades] == [(50001.0, 0.25, "buy")]


async def test_watch_ohlcv_streams_the_current_kline(ex: SandboxExchange, client: Any) -> None:
    watch = asyncio.get_running_loop().create_task(client.watch_ohlcv("BTC/USDT", "1m"))
    await eventually(lambda: "btcusdt@kline_1m" in ex.ws_subscriptions())
    ex.trade_through("BTCUSDT", "BUY", "50001", "0.4")
    candles = await asyncio.wait_for(watch, 5)
    assert candles[-1][0] == _minute(ex.now_ms())
    assert candles[-1][1:] == [50001.0, 50001.0, 50001.0, 50001.0, 0.4]


async def test_stop_loss_limit_rests_until_a_trade_crosses_its_stop(
    ex: SandboxExchange, client: Any
) -> None:
    order = await client.create_order(
        "BTC/USDT", "STOP_LOSS_LIMIT", "sell", 0.5, 49000, {"stopPrice": 49500}
    )
    assert order["status"] == "open"
    assert ex.balances(ALICE_KEY)["BTC"] == (Decimal("0.5"), Decimal("0.5"))
    ex.set_book(
        "BTCUSDT", bids=[("49600", "0.1"), ("49500", "0.1"), ("49100", "2")], asks=[("49700", "1")]
    )
    ex.trade_through("BTCUSDT", "SELL", "49600", "0.1")  # last 49,600: above the stop
    assert (await client.fetch_order(order["id"], "BTC/USDT"))["filled"] == 0.0
    ex.trade_through("BTCUSDT", "SELL", "49500", "0.1")  # last 49,500: the stop triggers
    done = await client.fetch_order(order["id"], "BTC/USDT")
    assert (done["status"], done["filled"], done["average"]) == ("closed", 0.5, 49100.0)
    assert done["stopPrice"] == 49500.0


async def test_stop_loss_limit_that_would_trigger_at_once_is_refused(client: Any) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="Stop price would trigger immediately"):
        await client.create_order(
            "BTC/USDT", "STOP_LOSS_LIMIT", "sell", 0.5, 50500, {"stopPrice": 51000}
        )


async def test_oco_take_profit_fills_and_cancels_the_stop_leg(
    ex: SandboxExchange, client: Any
) -> None:
    resp = await client.private_post_orderlist_oco(
        {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "quantity": "0.4",
            "aboveType": "LIMIT_MAKER",
            "abovePrice": "51000",
            "belowType": "STOP_LOSS_LIMIT",
            "belowPrice": "48900",
            "belowStopPrice": "49000",
            "belowTimeInForce": "GTC",
        }
    )
    assert (resp["contingencyType"], resp["listOrderStatus"]) == ("OCO", "EXECUTING")
    stop_id, limit_id = (str(o["orderId"]) for o in resp["orders"])
    assert [r["type"] for r in resp["orderReports"]] == ["STOP_LOSS_LIMIT", "LIMIT_MAKER"]
    assert ex.balances(ALICE_KEY)["BTC"] == (Decimal("0.6"), Decimal("0.4"))  # locked once
    ex.set_book("BTCUSDT", bids=[("49999", "1")], asks=[])  # Alice's 51,000 is the only ask
    ex.trade_through("BTCUSDT", "BUY", "51000", "0.4")
    limit = await client.fetch_order(limit_id, "BTC/USDT")
    stop = await client.fetch_order(stop_id, "BTC/USDT")
    assert (limit["status"], limit["filled"]) == ("closed", 0.4)
    assert stop["status"] == "canceled"
    assert ex.balances(ALICE_KEY)["BTC"] == (Decimal("0.6"), Decimal("0"))


async def test_oco_stop_trigger_cancels_the_limit_leg(ex: SandboxExchange, client: Any) -> None:
    resp = await client.private_post_orderlist_oco(
        {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.4", "aboveType": "LIMIT_MAKER",
         "abovePrice": "51000", "belowType": "STOP_LOSS", "belowStopPrice": "49000"}
    )  # fmt: skip
    stop_id, limit_id = (str(o["orderId"]) for o in resp["orders"])
    ex.set_book("BTCUSDT", bids=[("49000", "1"), ("48990", "1")], asks=[("49010", "1")])
    ex.trade_through("BTCUSDT", "SELL", "49000", "0.1")
    stop = await client.fetch_order(stop_id, "BTC/USDT")
    assert (stop["status"], stop["filled"], stop["average"]) == ("closed", 0.4, 49000.0)
    assert (await client.fetch_order(limit_id, "BTC/USDT"))["status"] == "canceled"


async def test_cancel_all_orders_cancels_every_open_order(ex: SandboxExchange, client: Any) -> None:
    await client.create_order("BTC/USDT", "limit", "buy", 0.1, 40000)
    await client.create_order("BTC/USDT", "limit", "buy", 0.1, 41000)
    cancelled = await client.cancel_all_orders("BTC/USDT")
    assert len(cancelled) == 2
    assert await client.fetch_open_orders("BTC/USDT") == []
    assert ex.balances(ALICE_KEY)["USDT"] == (Decimal("100000"), Decimal("0"))


async def test_exchange_info_lists_stop_order_types(client: Any) -> None:
    info = client.market("BTC/USDT")["info"]
    assert "STOP_LOSS_LIMIT" in info["orderTypes"]
    assert "TAKE_PROFIT" in info["orderTypes"]
    assert info["ocoAllowed"] is True


async def test_unknown_stream_is_refused_with_binance_error(ex: SandboxExchange) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(ex.ws_url) as ws:
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@nonsense"], "id": 7})
        answer = await ws.receive_json(timeout=5)
        assert answer == {
            "error": {"code": 2, "msg": "Invalid request: unknown stream 'btcusdt@nonsense'"},
            "id": 7,
        }
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 8})
        assert await ws.receive_json(timeout=5) == {"result": None, "id": 8}
        async with s.get(f"{ex.base_url}/stream?streams=ethusdt@trade") as resp:
            assert resp.status == 400
            assert (await resp.json())["code"] == 2


async def test_kline_and_agg_trade_events_carry_binance_fields(ex: SandboxExchange) -> None:
    async with aiohttp.ClientSession() as s:
        url = f"{ex.base_url}/stream?streams=btcusdt@kline_1m/btcusdt@aggTrade"
        async with s.ws_connect(url) as ws:
            await eventually(lambda: len(ex.ws_subscriptions()) == 2)
            ex.trade_through("BTCUSDT", "BUY", "50001", "0.3")
            got = {}
            while len(got) < 2:
                msg = await ws.receive_json(timeout=5)
                got[msg["stream"]] = msg["data"]
    k = got["btcusdt@kline_1m"]["k"]
    assert (k["s"], k["i"], k["f"], k["L"], k["n"], k["x"]) == ("BTCUSDT", "1m", 1, 1, 1, False)
    assert (k["o"], k["c"], k["v"], k["T"] - k["t"]) == ("50001.00000000", "50001.00000000",
                                                         "0.30000000", 59_999)  # fmt: skip
    agg = got["btcusdt@aggtrade"]
    assert (agg["e"], agg["a"], agg["p"], agg["q"], agg["m"]) == (
        "aggTrade", 1, "50001.00000000", "0.30000000", False,
    )  # fmt: skip


async def test_the_rest_market_data_routes_answer_in_binance_shapes(
    ex: SandboxExchange, client: Any
) -> None:
    ex.trade_through("BTCUSDT", "BUY", "50001", "0.4")
    ex.trade_through("BTCUSDT", "SELL", "49999", "0.2")
    sym = {"symbol": "BTCUSDT"}
    ui = await client.public_get_uiklines({**sym, "interval": "1m", "limit": 5})
    plain = await client.public_get_klines({**sym, "interval": "1m", "limit": 5})
    assert ui == plain and ui[-1][4] == "49999.00000000"  # the last close is the last trade
    agg = await client.public_get_aggtrades(sym)
    assert [(a["p"], a["q"], a["m"]) for a in agg[-2:]] == [
        ("50001.00000000", "0.40000000", False), ("49999.00000000", "0.20000000", True),
    ]  # fmt: skip
    avg = await client.public_get_avgprice(sym)
    assert set(avg) >= {"mins", "price"} and Decimal(avg["price"]) > 0
    price = await client.public_get_ticker_price(sym)
    assert price == {"symbol": "BTCUSDT", "price": "49999.00000000"}
    book = await client.public_get_ticker_bookticker(sym)
    assert (book["bidPrice"], book["bidQty"], book["askPrice"], book["askQty"]) == (
        "49999.00000000",
        "0.80000000",
        "50001.00000000",
        "0.60000000",
    )  # what the two trades left of the best levels
