"""The official Polymarket client (py-clob-client-v2) against our local CLOB over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import pytest
from eth_account import Account
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import OrderArgsV2, OrderType, PartialCreateOrderOptions
from py_clob_client_v2.exceptions import PolyApiException
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2

from tradeguard.model.outcome import Outcome, Resolution
from tradeguard.sandbox.polymarket.server import PolymarketExchange

D = Decimal
YES_TOKEN, NO_TOKEN = (
    "71321045679252212594626385532706912750332728571942532289631379312455583992563",
    "2",
)


async def started(ex: PolymarketExchange):
    market = ex.add_market("fed-dec", YES_TOKEN, NO_TOKEN, fee_rate=D("0.02"))
    ex.seed_book("fed-dec", yes_bids=[("0.45", "100")], yes_asks=[("0.47", "100")])
    wallet = Account.create()
    ex.add_account(wallet.address, D("1000"))
    client = ClobClient(ex.url, chain_id=137, key=wallet.key.hex())
    client.set_api_creds(await asyncio.to_thread(client.create_or_derive_api_key))
    return market, wallet, client


async def test_official_client_places_lists_and_cancels_orders():
    async with PolymarketExchange() as ex:
        _, wallet, client = await started(ex)
        rest = await asyncio.to_thread(
            client.create_and_post_order,
            OrderArgsV2(token_id=YES_TOKEN, price=0.40, size=10, side="BUY"),
        )
        assert rest["success"] and rest["status"] == "live"
        orders = await asyncio.to_thread(client.get_open_orders)
        assert [o["id"] for o in orders] == [rest["orderID"]]
        assert (await asyncio.to_thread(client.get_order, rest["orderID"]))["status"] == "LIVE"
        cancelled = await asyncio.to_thread(
            client.cancel_order, type("P", (), {"orderID": rest["orderID"]})
        )
        assert cancelled["canceled"] == [rest["orderID"]]
        assert await asyncio.to_thread(client.get_open_orders) == []
        # a crossing buy fills against the NO bids and pays the taker fee 10 * 0.02 * 0.47 * 0.53
        taken = await asyncio.to_thread(
            client.create_and_post_order,
            OrderArgsV2(token_id=YES_TOKEN, price=0.50, size=10, side="BUY"),
            None,
            OrderType.FOK,
        )
        assert taken["status"] == "matched" and len(taken["tradeIDs"]) == 1
        acct = ex.accounts[wallet.address.lower()]
        assert acct.cash == D("1000") - D("4.7") - D("0.049820")
        trades = await asyncio.to_thread(client.get_trades)
        assert [(t["price"], t["size"]) for t in trades] == [("0.47", "10")]


async def test_tampered_order_and_wrong_exchange_are_refused():
    async with PolymarketExchange() as ex:
        _, _, client = await started(ex)
        signed = await asyncio.to_thread(
            client.create_order, OrderArgsV2(token_id=YES_TOKEN, price=0.40, size=10, side="BUY")
        )
        payload = order_to_json_v2(signed, client.creds.api_key, "GTC")
        payload["order"]["makerAmount"] = str(int(payload["order"]["makerAmount"]) - 1)
        answer = await asyncio.to_thread(_post_raw, client, payload)
        assert answer == (400, {"error": "invalid order signature"})
        # signed against the neg-risk exchange for a market that is not neg-risk
        neg = await asyncio.to_thread(
            client.create_order,
            OrderArgsV2(token_id=YES_TOKEN, price=0.40, size=10, side="BUY"),
            PartialCreateOrderOptions(neg_risk=True),
        )
        answer = await asyncio.to_thread(
            _post_raw, client, order_to_json_v2(neg, client.creds.api_key, "GTC")
        )
        assert answer == (400, {"error": "invalid order signature"})
        bad_key = dict(client.creds.__dict__)
        client.creds.api_passphrase = "wrong"
        answer = await asyncio.to_thread(_post_raw, client, payload)
        assert answer[0] == 401 and "Invalid api key" in answer[1]["error"]
        assert bad_key["api_passphrase"] != "wrong"


def _post_raw(client: ClobClient, payload: dict) -> tuple[int, dict]:
    body = json.dumps(payload, separators=(",", ":"))
    headers = client._l2_headers("POST", "/order", body=payload, serialized_body=body)
    headers["Content-Type"] = "application/json"
    resp = httpx.post(f"{client.host}/order", content=body, headers=headers)
    return resp.status_code, resp.json()


async def test_heartbeat_dead_man_switch_and_fifty_fifty_resolution():
    async with PolymarketExchange() as ex:
        market, wallet, client = await started(ex)
        import tradeguard.sandbox.polymarket.server as srv

        srv.HEARTBEAT_TIMEOUT_S = 0.3
        try:
            await asyncio.to_thread(
                client.create_and_post_order,
                OrderArgsV2(token_id=NO_TOKEN, price=0.50, size=10, side="BUY"),
            )
            await asyncio.to_thread(client.post_heartbeat)
            from tradeguard.sandbox.testing import eventually

            await eventually(lambda: not ex.book.resting(market.condition_id)[2:], timeout_s=3)
            assert await asyncio.to_thread(client.get_open_orders) == []
        finally:
            srv.HEARTBEAT_TIMEOUT_S = 10.0
        await asyncio.to_thread(
            client.create_and_post_order,
            OrderArgsV2(token_id=NO_TOKEN, price=0.55, size=10, side="BUY"),
        )
        acct = ex.accounts[wallet.address.lower()]
        before = acct.cash
        ex.resolve(market.condition_id, Resolution.parse("50-50"))
        assert acct.cash == before + D("5")
        assert acct.settlements[0]["no_count"] == D("10")


async def test_gtd_order_expires_at_its_expiration_and_releases_its_funds():
    async with PolymarketExchange() as ex:
        _, wallet, client = await started(ex)
        acct = ex.accounts[wallet.address.lower()]
        client.use_server_time = True  # the test moves the exchange's clock forward
        expires = ex.now_s() + 120
        placed = await asyncio.to_thread(
            client.create_and_post_order,
            OrderArgsV2(token_id=YES_TOKEN, price=0.40, size=10, side="BUY", expiration=expires),
            None,
            OrderType.GTD,
        )
        assert placed["status"] == "live" and acct.locked_cash > 0
        # a few seconds before its time it still rests (the exchange's clock is the wall clock
        # plus the offset, so the offset is set from the clock now, not from when it was placed)
        ex.clock_offset_s += (expires - 5) - ex.now_s()
        order = await asyncio.to_thread(client.get_order, placed["orderID"])
        assert (order["status"], order["order_type"], order["expiration"]) == (
            "LIVE",
            "GTD",
            str(expires),
        )
        ex.clock_offset_s = 120
        assert await asyncio.to_thread(client.get_open_orders) == []
        order = await asyncio.to_thread(client.get_order, placed["orderID"])
        assert order["status"] == "CANCELED" and (acct.cash, acct.locked_cash) == (D("1000"), 0)
        book = await asyncio.to_thread(client.get_order_book, YES_TOKEN)
        assert [level["price"] for level in book["bids"]] == ["0.45"]  # its bid left the book


async def test_gtd_order_already_past_its_expiration_is_refused():
    async with PolymarketExchange() as ex:
        _, _, client = await started(ex)
        for expiration in (0, ex.now_s()):
            signed = await asyncio.to_thread(
                client.create_order,
                OrderArgsV2(
                    token_id=YES_TOKEN, price=0.40, size=10, side="BUY", expiration=expiration
                ),
            )
            payload = order_to_json_v2(signed, client.creds.api_key, "GTD")
            status, body = await asyncio.to_thread(_post_raw, client, payload)
            assert status == 400 and f"expiration {expiration}" in body["error"]


async def test_an_expiration_on_an_order_that_is_not_gtd_is_refused_as_the_clob_does():
    async with PolymarketExchange() as ex:
        _, wallet, client = await started(ex)
        acct = ex.accounts[wallet.address.lower()]
        expires = ex.now_s() + 300
        for order_type in (OrderType.GTC, OrderType.FOK, OrderType.FAK):
            with pytest.raises(PolyApiException) as refused:
                await asyncio.to_thread(
                    client.create_and_post_order,
                    OrderArgsV2(
                        token_id=YES_TOKEN, price=0.40, size=10, side="BUY", expiration=expires
                    ),
                    None,
                    order_type,
                )
            assert refused.value.status_code == 400, order_type
            message = str(refused.value.error_msg)
            assert f"invalid expiration {expires}" in message
            assert "only GTD orders may have a non-zero expiration" in message
        assert await asyncio.to_thread(client.get_open_orders) == []
        assert (acct.cash, acct.locked_cash) == (D("1000"), 0)  # nothing placed, nothing locked
        # the same order without its expiration is taken
        placed = await asyncio.to_thread(
            client.create_and_post_order,
            OrderArgsV2(token_id=YES_TOKEN, price=0.40, size=10, side="BUY"),
        )
        assert placed["status"] == "live"


async def test_a_fak_sell_partly_filled_unlocks_its_rest_once():
    # 200 YES sold FAK into a 100 bid: 100 trade, 100 are left and unlocked once; a release
    # per trade and one more after them made the lock -100, so 100 tokens never held were free
    async with PolymarketExchange() as ex:
        market, wallet, client = await started(ex)
        acct = ex.accounts[wallet.address.lower()]
        held = (market.condition_id, Outcome.YES)
        acct.tokens[held] = D(200)
        sold = await asyncio.to_thread(
            client.create_and_post_order,
            OrderArgsV2(token_id=YES_TOKEN, price=0.40, size=200, side="SELL"),
            None,
            OrderType.FAK,
        )
        assert sold["status"] == "matched", sold
        assert acct.tokens[held] == 100
        assert acct.locked_tokens.get(held, D(0)) == 0
        with pytest.raises(PolyApiException) as refused:  # 150 to sell, 100 held
            await asyncio.to_thread(
                client.create_and_post_order,
                OrderArgsV2(token_id=YES_TOKEN, price=0.60, size=150, side="SELL"),
            )
        assert refused.value.status_code == 400
