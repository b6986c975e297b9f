"""Native stop-loss and take-profit orders on the Kraken sandbox: as ccxt.kraken sends them
(`ordertype` stop-loss[-limit] / take-profit[-limit], trigger in `price`, limit in `price2`),
resting until a trade crosses the trigger; the node's Kraken venue sends them natively and a
venue that never sent one (a restarted node) finds it by our client order id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest

from kraken_support import carol_venue
from rigs import killed_child
from test_kraken_node import CHILD, vault  # noqa: F401  (the fixture: carol's key in a vault)
from test_kraken_node import _config as kraken_node_config
from tradeguard.clock import Clock
from tradeguard.model import OrderIntent, OrderStatus, OrderType, Side
from tradeguard.model.enums import TimeInForce
from tradeguard.model.order import Order
from tradeguard.node import TradingNode
from tradeguard.sandbox.kraken.client import make_kraken_client
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.testing import CAROL_KEY, CAROL_SECRET, seeded_kraken
from tradeguard.sandbox.testing import eventually

D = Decimal


@pytest.fixture
async def carol(kx: KrakenSandbox) -> AsyncIterator[Any]:
    c = make_kraken_client(kx.base_url, CAROL_KEY, CAROL_SECRET)
    await c.load_markets()
    yield c
    await c.close()


def _node_config(tmp_path: Path, kx: KrakenSandbox) -> Any:
    venue = {"name": "kraken", "kind": "ccxt", "exchange": "kraken", "credentials": "carol",
             "rest_url": kx.base_url, "symbols": ["BTC/USD"]}  # fmt: skip
    return kraken_node_config(tmp_path, [venue])


def _resting(kx: KrakenSandbox) -> list[Any]:
    return kx.engine.open_orders(kx.account_id(CAROL_KEY))


async def test_a_stop_loss_rests_until_a_trade_crosses_it_then_sells_at_market(
    kx: KrakenSandbox, carol: Any
) -> None:
    params = {"stopLossPrice": 49000, "clientOrderId": "tg-sl-1"}
    sent = await carol.create_order("BTC/USD", "market", "sell", 0.01, None, params)
    [order] = await carol.fetch_open_orders("BTC/USD")
    assert order["id"] == sent["id"] and order["clientOrderId"] == "tg-sl-1"
    assert order["info"]["descr"]["ordertype"] == "stop-loss"
    assert order["triggerPrice"] == 49000.0 and order["status"] == "open"
    assert [o.stop_price for o in _resting(kx)] == [D("49000")]
    kx.set_book("BTC/USD", bids=[("48950", "1")], asks=[("48960", "1")])  # no trade: still rests
    assert len(_resting(kx)) == 1
    kx.trade_through("BTC/USD", "SELL", "48950", "0.1")  # a trade at 48,950 crosses 49,000
    await eventually(lambda: not _resting(kx))
    closed = await carol.fetch_order(sent["id"], "BTC/USD")
    assert (closed["status"], closed["filled"]) == ("closed", 0.01)
    trades = await carol.fetch_my_trades("BTC/USD")
    assert [(t["side"], t["price"]) for t in trades] == [("sell", 48950.0)]


async def test_limit_variants_carry_trigger_and_limit_and_take_profit_triggers_upwards(
    kx: KrakenSandbox, carol: Any
) -> None:
    tp = await carol.create_order(
        "BTC/USD", "limit", "sell", 0.01, 51000, {"takeProfitPrice": 51010}
    )
    sl = await carol.create_order("BTC/USD", "limit", "sell", 0.02, 48900, {"stopLossPrice": 48950})
    rows = {o["id"]: o for o in await carol.fetch_open_orders("BTC/USD")}
    descr = rows[tp["id"]]["info"]["descr"]
    assert (descr["ordertype"], descr["price"], descr["price2"]) == (
        "take-profit-limit", "51010", "51000",
    )  # fmt: skip
    assert descr["order"].endswith("@ take profit 51010 -> limit 51000")
    assert rows[sl["id"]]["info"]["descr"]["ordertype"] == "stop-loss-limit"
    assert (rows[sl["id"]]["triggerPrice"], rows[sl["id"]]["price"]) == (48950.0, 48900.0)
    kx.set_book("BTC/USD", bids=[("51020", "1")], asks=[("51030", "1")])
    kx.trade_through("BTC/USD", "SELL", "51020", "0.1")  # up through 51,010: take-profit
    await eventually(lambda: [o.stop_price for o in _resting(kx)] == [D("48950")])
    done = await carol.fetch_order(tp["id"], "BTC/USD")
    assert done["status"] == "closed" and done["average"] >= 51000


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"ordertype": "stop-loss"}, "EGeneral:Invalid arguments:price"),
        ({"ordertype": "stop-loss-limit", "price": "49000"}, "EGeneral:Invalid arguments:price2"),
        ({"ordertype": "stop-loss", "price": "49000", "trigger": "index"},
         "EGeneral:Invalid arguments:trigger"),
        ({"ordertype": "trailing-stop", "price": "+100"}, "EGeneral:Invalid arguments:ordertype"),
    ],
)  # fmt: skip
async def test_malformed_trigger_orders_are_refused_by_name(
    kx: KrakenSandbox, carol: Any, fields: dict[str, str], error: str
) -> None:
    request = {"pair": "XBTUSD", "type": "sell", "volume": "0.01", **fields}
    with pytest.raises(ccxt.ExchangeError, match=error):
        await carol.private_post_addorder(request)
    assert _resting(kx) == []


def _stop(cid: str, trigger: str, type_: OrderType = OrderType.STOP_LOSS) -> Order:
    intent = OrderIntent(
        strategy_id="s1", venue="kraken", symbol="BTC/USD", side=Side.SELL, amount=D("0.01"),
        type=type_, trigger_price=D(trigger), time_in_force=TimeInForce.GTC,
        price=D("48900") if type_.has_limit else None,
    )  # fmt: skip
    return Order.from_intent(intent, cid, Clock().now_ms())


async def test_the_venue_rests_a_native_stop_and_a_restarted_one_finds_it_by_client_id(
    kx: KrakenSandbox,
) -> None:
    async with carol_venue(kx) as venue:
        assert venue.native_stops and not venue.native_oco  # Kraken spot: no OCO lists
        report = await venue.submit(_stop("tg0stop00001-1", "49000"))
        assert (report.status, report.client_order_id) == (OrderStatus.ACCEPTED, "tg0stop00001-1")
        [resting] = _resting(kx)
        assert (resting.type, resting.stop_price) == ("STOP_LOSS", D("49000"))
        assert resting.client_order_id == "tg0stop00001-1"
        limit = await venue.submit(_stop("tg0stop00002-1", "48950", OrderType.STOP_LOSS_LIMIT))
        assert limit.status is OrderStatus.ACCEPTED
    async with carol_venue(kx) as fresh:  # never sent them: finds both by our ids alone
        found = await fresh.fetch_order("tg0stop00001-1", "BTC/USD")
        assert found is not None and found.status is OrderStatus.ACCEPTED
        kx.set_book("BTC/USD", bids=[("48990", "1")], asks=[("49010", "1")])
        kx.trade_through("BTC/USD", "SELL", "48990", "0.1")  # crosses 49,000, not 48,950
        await eventually(lambda: len(_resting(kx)) == 1)
        found = await fresh.fetch_order("tg0stop00001-1", "BTC/USD")
        assert found is not None and found.status is OrderStatus.FILLED
        assert found.venue_order_id
        fills = await fresh.fetch_order_fills("tg0stop00001-1", found.venue_order_id, "BTC/USD")
        assert [(f.price, f.amount) for f in fills] == [(D("48990"), D("0.01"))]
        still = await fresh.fetch_order("tg0stop00002-1", "BTC/USD")
        assert still is not None and still.status is OrderStatus.ACCEPTED


@pytest.mark.usefixtures("vault")
async def test_a_native_stop_journaled_before_a_crash_is_adopted_after_restart_then_fills(
    tmp_path: Path,
) -> None:
    async with seeded_kraken() as kx:
        cfg = _node_config(tmp_path, kx)
        await killed_child(CHILD, tmp_path, cfg, "stop", timeout_s=90)
        [resting] = _resting(kx)  # sent and resting; the node died before reading the answer
        assert (resting.type, resting.stop_price) == ("STOP_LOSS", D("49000"))
        node = TradingNode(cfg)
        try:
            await node.start()
            assert node.reconcile_report.ok, node.reconcile_report.reason

            def stop_order() -> Any:
                return next(
                    o for o in node.storage.load_orders(venue="kraken")
                    if o.type is OrderType.STOP_LOSS
                )  # fmt: skip

            order = stop_order()
            assert order.client_order_id == resting.client_order_id  # journaled before sent
            assert (order.type, order.trigger_price) == (OrderType.STOP_LOSS, D("49000"))
            assert order.status is OrderStatus.ACCEPTED and order.venue_order_id
            kx.set_book("BTC/USD", bids=[("48990", "1")], asks=[("49010", "1")])
            kx.trade_through("BTC/USD", "SELL", "48990", "0.1")
            await eventually(
                lambda: stop_order().status is OrderStatus.FILLED,
                timeout_s=15,
            )
            fills = node.storage.load_fills(venue="kraken")
            [fill] = [f for f in fills if f.side is Side.SELL]
            assert (fill.price, fill.amount) == (D("48990"), D("0.002"))
        finally:
            await node.stop()
            node.close()
