"""Balance sync beside resting orders: the venue's open orders are read at the least weight
(any number of symbols), and a listing without our client ids is matched by venue order id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kraken_support import carol_venue
from test_ccxt_support import make_venue
from tradeguard.bus import EventBus
from tradeguard.clock import Clock
from tradeguard.execution.balance_sync import BalanceSync
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import Order, OrderIntent
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.testing import CAROL_KEY
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.venues.ccxt_venue import CcxtVenue

COINS = [f"C{i:02d}" for i in range(15)]


@pytest.fixture
async def ex() -> AsyncIterator[SandboxExchange]:
    exchange = SandboxExchange()
    held = {"USDT": Decimal(100_000), **{c: Decimal(10) for c in COINS}}
    exchange.add_account(ALICE_KEY, ALICE_SECRET, held)
    for coin in COINS:
        exchange.add_market(f"{coin}USDT", coin, "USDT", "0.01", "0.001", "0.001", "5")
        exchange.set_book(f"{coin}USDT", bids=[("99", "5")], asks=[("101", "5")])
    async with exchange:
        yield exchange


def _storage(tmp_path: Path) -> Storage:
    db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
    db.migrate()
    return Storage(db)


async def _resting(venue: CcxtVenue, coins: list[str]) -> list[Order]:
    """A resting buy of 1 coin at 90 on each of `coins`' markets, as the journal holds it."""
    out = []
    for i, coin in enumerate(coins):
        order = Order(f"bs-{i}", "s", venue.name, f"{coin}/USDT", Side.BUY, OrderType.LIMIT,
                      Decimal(1), Decimal(90), created_ts=Clock().now_ms())  # fmt: skip
        report = await venue.submit(order)
        order.venue_order_id = report.venue_order_id
        out.append(order)
    return out


def _listed_symbols(venue: CcxtVenue) -> list[str | None]:
    """Record the symbol of every open-orders request the ccxt client sends."""
    asked: list[str | None] = []
    real = venue.client.fetch_open_orders

    async def spy(symbol: str | None = None, *args: Any, **kwargs: Any) -> Any:
        asked.append(symbol)
        return await real(symbol, *args, **kwargs)

    venue.client.fetch_open_orders = spy  # type: ignore[method-assign]
    return asked


@pytest.mark.parametrize(
    ("count", "calls"),
    [(4, [f"C{i:02d}/USDT" for i in range(4)]), (13, None), (14, [None])],
)
async def test_resting_orders_on_any_number_of_symbols_are_read_at_the_least_weight(
    ex: SandboxExchange, tmp_path: Path, count: int, calls: list[str | None] | None
) -> None:
    # Binance weighs a symbol's open orders 6 and the account's 80: up to 13 symbols the
    # per-symbol lists are lighter (the sync used one account-wide list past 3 symbols), past
    # that the one list; either way the deposit made meanwhile is seen and nothing waits.
    venue = make_venue(ex, stream_user_data=False)
    try:
        await venue.connect()
        portfolio = Portfolio("USDT")
        mine = await _resting(venue, COINS[:count])
        portfolio.set_balances(venue.name, await venue.fetch_balances())
        sync = BalanceSync({venue.name: venue}, portfolio, _storage(tmp_path), EventBus(),
                           Clock(), open_orders=lambda _v: mine)  # fmt: skip
        asked = _listed_symbols(venue)
        ex.engine.add_account(ex.account_id(ALICE_KEY), {"USDT": Decimal(250)})
        found = await sync.sync_once()
        assert sync.waiting == {}
        assert [(d.asset, d.difference) for d in found] == [("USDT", Decimal(250))]
        expected = calls if calls is not None else [f"C{i:02d}/USDT" for i in range(count)]
        assert asked == expected
    finally:
        await venue.close()


async def test_kraken_orders_of_a_restarted_node_are_matched_and_listed_in_one_call(
    kx: KrakenSandbox, tmp_path: Path
) -> None:
    # Kraken lists an order by the cl_ord_id it was sent: a long client id goes as a UUID a
    # restarted venue cannot turn back into ours, so the journal's txid matches it. Kraken's
    # OpenOrders is account-wide whatever the symbol: one call covers every symbol.
    async with carol_venue(kx) as sender:
        mine = []
        for cid, price in (("tg-a-long-client-id-0001", "40000"), ("tg0a1b2c-2", "41000")):
            intent = OrderIntent("s", "kraken", "BTC/USD", Side.BUY, Decimal("0.002"),
                                 OrderType.LIMIT, Decimal(price))  # fmt: skip
            order = Order.from_intent(intent, cid, Clock().now_ms())
            order.venue_order_id = (await sender.submit(order)).venue_order_id
            mine.append(order)
    async with carol_venue(kx) as restarted:
        portfolio = Portfolio("USD")
        portfolio.set_balances("kraken", await restarted.fetch_balances())
        sync = BalanceSync({"kraken": restarted}, portfolio, _storage(tmp_path), EventBus(),
                           Clock(), open_orders=lambda _v: mine)  # fmt: skip
        asked = _listed_symbols(restarted)
        kx.engine.add_account(kx.account_id(CAROL_KEY), {"USD": Decimal(250)})
        found = await sync.sync_once()
        assert sync.waiting == {}, sync.waiting
        assert [(d.asset, d.difference) for d in found] == [("USD", Decimal(250))]
        assert asked == [None]
