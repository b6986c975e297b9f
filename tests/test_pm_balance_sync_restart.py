"""Polymarket's CLOB lists open orders without our client ids: after a restart the balance sync
matches a resting order by the venue order id the journal holds, and syncs beside it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pm_merge_support import demo_clob, pm_config, running, synced
from test_pm_node_crash import POLY_YES
from test_polymarket_venue import YES, make_order, started
from tradeguard.bus import EventBus
from tradeguard.clock import Clock
from tradeguard.execution.balance_sync import BalanceSync
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.venues.polymarket.venue import PolymarketVenue


async def test_a_resting_order_from_before_a_restart_does_not_stop_the_sync(
    tmp_path: Path, monkeypatch
) -> None:
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as first:
            pm = first.venues["polymarket"]
            await first.on_quote(await pm.fetch_quote(POLY_YES))
            placed = await first.submit(OrderIntent(
                "s1", "polymarket", POLY_YES, Side.BUY, Decimal(10), OrderType.LIMIT,
                Decimal("0.42"),
            ))  # fmt: skip
            assert placed.order is not None and placed.order.status is OrderStatus.ACCEPTED
            cid = placed.order.client_order_id

        async with running(cfg) as node:
            assert cid in node.orders.open  # resting on the CLOB from before the restart
            listed = await node.venues["polymarket"].fetch_open_orders()
            assert [r.venue_order_id for r in listed] == [node.orders.open[cid].venue_order_id]
            sync, found = await synced(node)
            assert found == []
            assert sync.waiting == {}, sync.waiting


async def test_a_listing_without_client_ids_is_matched_by_the_journals_venue_order_id(
    tmp_path: Path,
) -> None:
    # The CLOB lists an order by its hash alone; a venue that did not send it nor adopt it
    # (another process on the account) cannot name our client id: the journal's venue order
    # id matches it, so the sync runs beside the resting order and sees the deposit.
    async with PolymarketExchange() as ex:
        sender, _, key = await started(ex)
        order = make_order("pm-rest-1", YES, Side.BUY, "10", "0.40")
        order.venue_order_id = (await sender.submit(order)).venue_order_id
        reader = PolymarketVenue("polymarket", ex.url, key, Clock())
        await reader.connect()
        try:
            listed = await reader.fetch_open_orders()
            assert [(r.client_order_id, r.venue_order_id) for r in listed] == [
                ("", order.venue_order_id)
            ]
            portfolio = Portfolio("USD")
            portfolio.set_balances("polymarket", await reader.fetch_balances())
            db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
            db.migrate()
            sync = BalanceSync({"polymarket": reader}, portfolio, Storage(db), EventBus(),
                               Clock(), open_orders=lambda _v: [order])  # fmt: skip
            ex.accounts[sender.signer.address.lower()].cash += Decimal(25)  # a deposit
            found = await sync.sync_once()
            assert sync.waiting == {}, sync.waiting
            assert [(d.asset, d.difference) for d in found] == [("PUSD", Decimal(25))]
        finally:
            await reader.close()
            await sender.close()
