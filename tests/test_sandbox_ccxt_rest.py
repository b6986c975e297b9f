"""The real ccxt Binance client against the sandbox over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest

from tradeguard.sandbox.client import make_ccxt_client
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.server import MAX_BODY_BYTES, SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, seeded_exchange


async def test_load_markets_maps_filters_to_precision_and_limits(client: Any) -> None:
    m = client.market("BTC/USDT")
    assert (m["id"], m["spot"], m["active"]) == ("BTCUSDT", True, True)
    assert m["precision"]["price"] == 0.01
    assert m["precision"]["amount"] == 0.00001
    assert m["limits"]["amount"]["min"] == 0.00001
    assert m["limits"]["cost"]["min"] == 5.0
    assert list(client.markets) == ["BTC/USDT"]


async def test_load_time_difference_reads_server_time(ex: SandboxExchange, client: Any) -> None:
    ex.clock_offset_ms = 120_000
    diff = await client.load_time_difference()
    assert -121_000 < diff < -119_000


async def test_fetch_balance_reports_free_and_used(client: Any) -> None:
    await client.create_order("BTC/USDT", "limit", "buy", 0.1, 40000)
    balance = await client.fetch_balance()
    assert balance["USDT"]["used"] == 4000.0
    assert balance["USDT"]["free"] == 96000.0
    assert balance["BTC"]["total"] == 1.0


async def test_market_buy_fills_against_house_book_with_fee_in_base(client: Any) -> None:
    order = await client.create_order("BTC/USDT", "market", "buy", 0.5)
    assert order["status"] == "closed"
    assert order["filled"] == 0.5
    assert order["average"] == 50001.0
    assert order["fee"] == {"currency": "BTC", "cost": 0.0005}


async def test_market_buy_by_cost_uses_quote_order_qty(client: Any) -> None:
    order = await client.create_order("BTC/USDT", "market", "buy", None, None, {"cost": 1000.02})
    assert order["status"] == "closed"
    assert order["filled"] == 0.02
    assert order["cost"] == pytest.approx(1000.02)


async def test_limit_order_rests_then_cancels_and_leaves_open_orders(client: Any) -> None:
    placed = await client.create_order("BTC/USDT", "limit", "buy", 0.01, 45000)
    assert placed["status"] == "open"
    open_orders = await client.fetch_open_orders("BTC/USDT")
    assert [o["id"] for o in open_orders] == [placed["id"]]
    canceled = await client.cancel_order(placed["id"], "BTC/USDT")
    assert canceled["status"] == "canceled"
    assert await client.fetch_open_orders("BTC/USDT") == []


async def test_fetch_order_by_client_order_id(client: Any) -> None:
    placed = await client.create_order(
        "BTC/USDT", "limit", "sell", 0.01, 60000, {"clientOrderId": "tg-abc-1"}
    )
    fetched = await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": "tg-abc-1"})
    assert fetched["id"] == placed["id"]
    assert fetched["clientOrderId"] == "tg-abc-1"


async def test_fetch_my_trades_lists_fills_with_fees(client: Any) -> None:
    await client.create_order("BTC/USDT", "market", "buy", 0.5)
    await client.create_order("BTC/USDT", "market", "sell", 1.2)
    trades = await client.fetch_my_trades("BTC/USDT")
    assert [(t["price"], t["amount"], t["side"]) for t in trades] == [
        (50001.0, 0.5, "buy"),
        (49999.0, 1.0, "sell"),
        (49998.0, 0.2, "sell"),
    ]
    assert trades[0]["fee"]["currency"] == "BTC"
    assert trades[1]["fee"]["currency"] == "USDT"
    assert trades[1]["takerOrMaker"] == "taker"


async def test_order_test_endpoint_validates_without_placing(client: Any) -> None:
    await client.create_order("BTC/USDT", "limit", "buy", 0.01, 45000, {"test": True})
    assert await client.fetch_open_orders("BTC/USDT") == []
    with pytest.raises(ccxt.InsufficientFunds):
        await client.create_order("BTC/USDT", "limit", "buy", 100, 45000, {"test": True})


async def test_public_tickers_and_depth(client: Any) -> None:
    ticker = await client.fetch_ticker("BTC/USDT")
    assert (ticker["bid"], ticker["ask"]) == (49999.0, 50001.0)
    book = await client.fetch_order_book("BTC/USDT", 5)
    assert book["bids"][0] == [49999.0, 1.0]
    assert book["asks"][1] == [50002.0, 2.0]
    bids_asks = await client.fetch_bids_asks(["BTC/USDT"])
    assert bids_asks["BTC/USDT"]["ask"] == 50001.0


async def test_bad_secret_is_authentication_error(ex: SandboxExchange) -> None:
    c = make_ccxt_client(ex, ALICE_KEY, "wrong-secret", enable_rate_limit=False)
    try:
        await c.load_markets()
        with pytest.raises(ccxt.AuthenticationError, match="-1022"):
            await c.fetch_balance()
    finally:
        await c.close()


async def test_unknown_api_key_is_authentication_error(ex: SandboxExchange) -> None:
    c = make_ccxt_client(ex, "nobody", "x", enable_rate_limit=False)
    try:
        await c.load_markets()
        with pytest.raises(ccxt.AuthenticationError, match="-2015"):
            await c.fetch_balance()
    finally:
        await c.close()


async def test_stale_timestamp_is_invalid_nonce_until_time_is_synced(
    ex: SandboxExchange, client: Any
) -> None:
    ex.clock_offset_ms = 60_000  # the exchange clock runs a minute ahead of ours
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        await client.fetch_balance()
    client.options["adjustForTimeDifference"] = True
    await client.load_time_difference()
    balance = await client.fetch_balance()
    assert balance["USDT"]["total"] == 100000.0


@pytest.mark.parametrize(
    ("amount", "price", "error", "code"),
    [
        (0.01, 45000.001, ccxt.InvalidOrder, "PRICE_FILTER"),
        (0.000015, 45000, ccxt.InvalidOrder, "LOT_SIZE"),
        # ccxt maps -1013 to BadRequest unless the message names PRICE_FILTER or LOT_SIZE.
        (0.0001, 45000, ccxt.BadRequest, "NOTIONAL"),
        (10, 45000, ccxt.InsufficientFunds, "insufficient balance"),
    ],
)
async def test_order_rejections_map_to_ccxt_exceptions(
    client: Any, amount: float, price: float, error: type[Exception], code: str
) -> None:
    # Bypass ccxt's own precision rounding so the exchange sees the raw values.
    request = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": f"{Decimal(str(amount)):f}",
        "price": f"{Decimal(str(price)):f}",
    }
    with pytest.raises(error, match=code):
        await client.privatePostOrder(request)


async def test_duplicate_client_order_id_is_invalid_order(client: Any) -> None:
    await client.create_order("BTC/USDT", "limit", "buy", 0.01, 45000, {"clientOrderId": "dup-1"})
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        await client.create_order(
            "BTC/USDT", "limit", "buy", 0.01, 45000, {"clientOrderId": "dup-1"}
        )


async def test_unknown_order_maps_to_order_not_found(client: Any) -> None:
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": "never-sent"})
    with pytest.raises(ccxt.OrderNotFound, match="-2011"):
        await client.cancel_order("424242", "BTC/USDT")


async def test_api_restrictions_report_withdrawals_per_key(ex: SandboxExchange) -> None:
    ex.add_account("w-key", "w-secret", {}, can_withdraw=True)
    for key, secret, expected in ((ALICE_KEY, ALICE_SECRET, False), ("w-key", "w-secret", True)):
        c = make_ccxt_client(ex, key, secret, enable_rate_limit=False)
        try:
            restrictions = await c.sapiGetAccountApiRestrictions()
        finally:
            await c.close()
        assert restrictions["enableWithdrawals"] is expected


async def test_a_body_over_the_size_limit_is_binances_json_error(tmp_path: Path) -> None:
    # aiohttp refused a body over its limit with a plain-text 413, which ccxt took for an
    # answer (the call returned the text, no error); every other sandbox error is Binance's
    # {"code", "msg"}, which ccxt maps by its code (here: a request not to send again)
    log = tmp_path / "requests.jsonl"
    async with seeded_exchange(SandboxConfig(request_log_path=log)) as ex:
        client = make_ccxt_client(ex, ALICE_KEY, ALICE_SECRET, enable_rate_limit=False)
        try:
            await client.load_markets()
            pad = "x" * (MAX_BODY_BYTES + 1)
            with pytest.raises(ccxt.BadRequest) as err:
                await client.private_post_order({"symbol": "BTCUSDT", "side": "BUY",
                                                 "type": "MARKET", "quantity": "0.01",
                                                 "pad": pad})  # fmt: skip
            text = str(err.value).replace(" ", "")
            assert '"code":-1101' in text and f"limitis{MAX_BODY_BYTES}bytes" in text, text
            # nothing was placed, and the sandbox goes on answering
            assert (await client.fetch_balance())["USDT"]["free"] == 100000.0
        finally:
            await client.close()
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    [refused] = [r for r in rows if r["path"] == "/api/v3/order"]
    assert (refused["status"], refused["code"]) == (413, -1101), refused
