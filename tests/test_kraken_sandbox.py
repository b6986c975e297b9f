"""The Kraken sandbox through the real ccxt.kraken client on 127.0.0.1: signatures, nonces,
Kraken's names and error strings, and an order's life from AddOrder to its trades."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import ccxt
import pytest

from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.kraken.client import make_kraken_client
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.testing import CAROL_KEY, CAROL_SECRET, seeded_kraken
from tradeguard.sandbox.server import MAX_BODY_BYTES

D = Decimal


@pytest.fixture
async def carol(kx: KrakenSandbox) -> AsyncIterator[Any]:
    c = make_kraken_client(kx.base_url, CAROL_KEY, CAROL_SECRET)
    await c.load_markets()
    yield c
    await c.close()


async def _signed(kx: KrakenSandbox, path: str, nonce: int, fields: dict[str, str]) -> Any:
    """A private call signed here, by Kraken's documented recipe (not the sandbox's code)."""
    body = urllib.parse.urlencode({"nonce": str(nonce), **fields})
    digest = hashlib.sha256((str(nonce) + body).encode()).digest()
    mac = hmac.new(base64.b64decode(CAROL_SECRET), path.encode() + digest, hashlib.sha512)
    headers = {
        "API-Key": CAROL_KEY,
        "API-Sign": base64.b64encode(mac.digest()).decode(),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(kx.base_url + path, data=body, headers=headers) as r,
    ):
        return await r.json()


async def test_a_request_signed_by_the_documented_recipe_is_answered(kx: KrakenSandbox) -> None:
    doc = await _signed(kx, "/0/private/BalanceEx", time.time_ns(), {})
    assert doc["error"] == []
    assert doc["result"]["ZUSD"] == {"balance": "100000", "hold_trade": "0"}
    assert doc["result"]["XXBT"]["balance"] == "1"


async def test_a_nonce_not_above_the_last_one_is_refused(kx: KrakenSandbox) -> None:
    nonce = time.time_ns()
    assert (await _signed(kx, "/0/private/Balance", nonce, {}))["error"] == []
    assert (await _signed(kx, "/0/private/Balance", nonce, {}))["error"] == ["EAPI:Invalid nonce"]
    lower = await _signed(kx, "/0/private/Balance", nonce - 1, {})
    assert lower["error"] == ["EAPI:Invalid nonce"]
    assert (await _signed(kx, "/0/private/Balance", nonce + 1, {}))["error"] == []


async def test_a_wrong_key_or_secret_is_refused_with_krakens_errors(kx: KrakenSandbox) -> None:
    stranger = make_kraken_client(kx.base_url, "no-such-key", CAROL_SECRET)
    forger = make_kraken_client(kx.base_url, CAROL_KEY, base64.b64encode(b"x" * 64).decode())
    try:
        with pytest.raises(ccxt.AuthenticationError, match="EAPI:Invalid key"):
            await stranger.fetch_balance()
        with pytest.raises(ccxt.ExchangeError, match="EAPI:Invalid signature"):
            await forger.fetch_balance()
    finally:
        await stranger.close()
        await forger.close()


async def test_a_body_changed_after_signing_is_refused(kx: KrakenSandbox) -> None:
    nonce = str(time.time_ns())
    signed = urllib.parse.urlencode({"nonce": nonce, "pair": "XBTUSD"})
    digest = hashlib.sha256((nonce + signed).encode()).digest()
    path = "/0/private/OpenOrders"
    mac = hmac.new(base64.b64decode(CAROL_SECRET), path.encode() + digest, hashlib.sha512)
    headers = {"API-Key": CAROL_KEY, "API-Sign": base64.b64encode(mac.digest()).decode()}
    async with (
        aiohttp.ClientSession() as http,
        http.post(kx.base_url + path, data=signed + "&x=1", headers=headers) as r,
    ):
        assert (await r.json())["error"] == ["EAPI:Invalid signature"]


async def test_markets_and_balances_use_krakens_names(kx: KrakenSandbox, carol: Any) -> None:
    market = carol.markets["BTC/USD"]
    assert market["id"] == "XXBTZUSD" and market["altname"] == "XBTUSD"
    assert market["precision"] == {"amount": 1e-08, "price": 0.1}
    assert market["limits"]["amount"]["min"] == 0.0001
    assert (market["maker"], market["taker"]) == (0.0016, 0.0026)
    balance = await carol.fetch_balance()
    assert balance["total"]["USD"] == 100000 and balance["total"]["BTC"] == 1
    ticker = await carol.fetch_ticker("BTC/USD")
    assert (ticker["bid"], ticker["ask"]) == (49999, 50001)
    book = await carol.fetch_order_book("BTC/USD")
    assert [row[:2] for row in book["asks"][:2]] == [[50001, 1], [50002, 2]]


async def test_resting_order_fills_in_part_then_cancels_and_releases_its_funds(
    kx: KrakenSandbox, carol: Any
) -> None:
    order = await carol.create_order(
        "BTC/USD", "limit", "buy", 0.01, 50000, {"clientOrderId": "tgk1-1"}
    )
    [listed] = await carol.fetch_open_orders("BTC/USD", None, None, {"clientOrderId": "tgk1-1"})
    assert (listed["id"], listed["clientOrderId"], listed["status"]) == (
        order["id"],
        "tgk1-1",
        "open",
    )
    usd = kx.balances(CAROL_KEY)["USD"]
    # 500 USD plus the taker fee (0.26 %) stay locked while the order rests
    assert usd == (D("100000") - D("501.3"), D("501.3"))

    kx.trade_through("BTC/USD", "SELL", "50000", "0.004")
    got = await carol.fetch_order(order["id"], "BTC/USD")
    assert (got["status"], got["filled"], got["average"]) == ("open", 0.004, 50000)

    await carol.cancel_order(None, "BTC/USD", {"clientOrderId": "tgk1-1"})
    [closed] = await carol.fetch_closed_orders("BTC/USD", None, None, {"clientOrderId": "tgk1-1"})
    assert (closed["status"], closed["filled"]) == ("canceled", 0.004)
    trades = await carol.fetch_order_trades(
        order["id"], "BTC/USD", None, None, {"trades": [t["id"] for t in got["trades"]]}
    )
    [trade] = trades
    assert (trade["side"], trade["amount"], trade["takerOrMaker"]) == ("buy", 0.004, "maker")
    assert trade["fee"] == {"cost": 0.32, "currency": "USD"}  # 200 USD at the maker 0.16 %
    free, locked = kx.balances(CAROL_KEY)["USD"]
    assert (free, locked) == (D("100000") - D("200") - D("0.32"), 0)
    assert kx.balances(CAROL_KEY)["BTC"] == (D("1.004"), 0)
    with pytest.raises(ccxt.OrderNotFound, match="EOrder:Unknown order"):
        await carol.cancel_order(None, "BTC/USD", {"clientOrderId": "tgk1-1"})


async def test_ioc_buy_takes_the_book_and_pays_the_taker_fee_in_usd(
    kx: KrakenSandbox, carol: Any
) -> None:
    sent = await carol.create_order(
        "BTC/USD", "limit", "buy", 0.002, 50010, {"clientOrderId": "tgk2-1", "timeInForce": "IOC"}
    )
    got = await carol.fetch_order(sent["id"], "BTC/USD")
    assert (got["status"], got["filled"], got["clientOrderId"]) == ("closed", 0.002, "tgk2-1")
    [mine] = await carol.fetch_my_trades("BTC/USD")
    assert (mine["order"], mine["price"], mine["fee"]["cost"]) == (sent["id"], 50001, 0.26000520)
    free, _ = kx.balances(CAROL_KEY)["USD"]
    assert free == D("100000") - D("100.002") - D("0.2600052")


async def test_refusals_carry_krakens_error_strings(kx: KrakenSandbox, carol: Any) -> None:
    with pytest.raises(ccxt.InsufficientFunds, match="EOrder:Insufficient funds"):
        await carol.create_order("BTC/USD", "limit", "buy", 10, 50000)
    with pytest.raises(ccxt.InvalidOrder, match="EOrder:Order minimum not met"):
        await carol.create_order("BTC/USD", "limit", "buy", 0.00001, 40000)
    # ccxt maps only some "Invalid arguments" strings; these two surface as ExchangeError
    with pytest.raises(ccxt.ExchangeError, match="EGeneral:Invalid arguments:userref"):
        await carol.create_order("BTC/USD", "limit", "buy", 0.001, 40000, {"userref": 2**31})
    with pytest.raises(ccxt.ExchangeError, match="EGeneral:Invalid arguments:cl_ord_id"):
        await carol.create_order(
            "BTC/USD", "limit", "buy", 0.001, 40000, {"clientOrderId": "x" * 19}
        )
    assert kx.engine.open_orders(kx.account_id(CAROL_KEY)) == []


async def test_orders_are_found_by_int32_userref(kx: KrakenSandbox, carol: Any) -> None:
    sent = await carol.create_order(
        "BTC/USD", "limit", "sell", 0.001, 60000, {"userref": 2**31 - 1}
    )
    [listed] = await carol.fetch_open_orders("BTC/USD", None, None, {"userref": 2**31 - 1})
    assert listed["id"] == sent["id"] and listed["clientOrderId"] == str(2**31 - 1)
    assert await carol.cancel_all_orders() is not None
    assert await carol.fetch_open_orders("BTC/USD") == []


def test_cli_kraken_dialect_keeps_a_base64_pair_in_its_own_keys_file(tmp_path: Path) -> None:
    from test_sandbox_keys import _start_sandbox

    first = _start_sandbox(tmp_path, "--dialect", "kraken")
    keys_file = tmp_path / "tradeguard-kraken-keys.json"
    # the banner folds a long path onto lines of its own: the first line names what happened
    assert first["demo keys"].startswith("new pair saved to") and keys_file.exists()
    assert len(base64.b64decode(first["demo secret"], validate=True)) == 64
    assert first["kraken REST"].startswith("http://127.0.0.1:")
    assert first["kraken WS"].startswith("ws://127.0.0.1:")
    assert first["kraken WS"].split()[0].endswith("/kraken-ws/v2")
    second = _start_sandbox(tmp_path, "--dialect", "kraken")
    assert second["demo secret"] == first["demo secret"]
    assert not (tmp_path / "tradeguard-sandbox-keys.json").exists()


async def test_request_log_masks_the_key_and_keeps_no_signature(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    async with seeded_kraken(SandboxConfig(request_log_path=log)) as kx:
        c = make_kraken_client(kx.base_url, CAROL_KEY, CAROL_SECRET)
        try:
            await c.fetch_balance()
        finally:
            await c.close()
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    private = next(r for r in rows if r["path"] == "/0/private/BalanceEx")
    assert private["status"] == 200 and "nonce" in private["params"]
    assert private["api_key"] != CAROL_KEY and CAROL_SECRET not in log.read_text()
    assert "API-Sign" not in log.read_text()


@pytest.mark.parametrize(("validate", "placed"), [
    ("true", False), ("True", False), ("1", False),  # "True": Python's str(True), as krakenex sends
    ("false", True), ("0", True),
])  # fmt: skip
async def test_add_order_validate_checks_without_placing(
    kx: KrakenSandbox, validate: str, placed: bool
) -> None:
    fields = {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "volume": "0.01"}
    fields.update(price="40000", validate=validate)
    doc = await _signed(kx, "/0/private/AddOrder", time.time_ns(), fields)
    assert doc["error"] == [] and ("txid" in doc["result"]) is placed, doc
    opened = await _signed(kx, "/0/private/OpenOrders", time.time_ns(), {})
    assert len(opened["result"]["open"]) == int(placed)


async def test_add_order_refuses_a_validate_that_is_no_boolean(kx: KrakenSandbox) -> None:
    fields = {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "volume": "0.01"}
    fields["price"] = "40000"
    for junk in ("maybe", "yes", "2"):
        doc = await _signed(kx, "/0/private/AddOrder", time.time_ns(), {**fields, "validate": junk})
        assert doc["error"] == ["EGeneral:Invalid arguments:validate"], (junk, doc)
    opened = await _signed(kx, "/0/private/OpenOrders", time.time_ns(), {})
    assert opened["result"]["open"] == {}


async def test_a_body_over_the_size_limit_is_krakens_error(kx: KrakenSandbox, carol: Any) -> None:
    # aiohttp answered it in plain text (HTTP 413), which ccxt read as an answer it could not
    # parse; Kraken's refusals are its {"error": [...]} list, as every other one here
    pad = "x" * (MAX_BODY_BYTES + 1)
    with pytest.raises(ccxt.ExchangeError, match="EGeneral:Invalid arguments:request body"):
        await carol.create_order("BTC/USD", "limit", "buy", 0.001, 40000, {"pad": pad})
    assert kx.engine.open_orders(kx.account_id(CAROL_KEY)) == []
    assert (await carol.fetch_balance())["USD"]["free"] == 100000.0
