"""A second merge of the same size from the same holding (a buy between them) is a new merge,
and `POST /admin/merge` answers hostile amounts with a 400 naming them, never a 500."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from rigs import killed_child
from test_pm_merge_sync import MARKET, POLY_NO, _merge, _node_holding_a_pair
from test_pm_node_crash import POLY_YES, node_config, vault_with
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.model.outcome import Outcome
from tradeguard.node import TradingNode
from tradeguard.sandbox.pm_serve import polymarket_demo, polymarket_keys


async def test_a_second_merge_from_the_same_holding_after_a_buy_is_booked_too(
    tmp_path: Path, monkeypatch
) -> None:
    keys = polymarket_keys(None)
    server = polymarket_demo(keys)
    await server.start()
    try:
        node, _ = await _node_holding_a_pair(tmp_path, monkeypatch, server, keys)
        try:
            sync = node.balance_sync()
            assert sync is not None
            await _merge(server.url, keys["address"], "5")  # 10/10 -> 5/5
            await asyncio.sleep(2.1)  # past the "changed in the last 2 s" wait
            assert await sync.sync_once("polymarket") == []
            quote = await node.venues["polymarket"].fetch_quote(POLY_YES)
            await node.on_quote(quote)
            placed = await node.submit(OrderIntent(
                "s1", "polymarket", POLY_YES, Side.BUY, Decimal(5), OrderType.LIMIT, quote.ask,
            ))  # fmt: skip
            assert placed.order is not None and placed.order.status is OrderStatus.FILLED
            await _merge(server.url, keys["address"], "5")  # 10/5 -> 5/0: YES 10 before again
            await asyncio.sleep(2.1)
            found = await sync.sync_once("polymarket")
            assert found == [], found
            assert node.storage.load_balance_adjustments("polymarket") == []
            held = {(s, sid): p.quantity for (_, s, sid), p in node.portfolio.positions.items()}
            assert held.get((POLY_YES, "s1"), Decimal(0)) == 5
            assert held.get((POLY_NO, "s1"), Decimal(0)) == 0
        finally:
            await node.stop()
            node.close()
    finally:
        await server.stop()


@pytest.mark.parametrize(
    "amount", ["NaN", "sNaN", "-NaN", "Infinity", "1e999999999", "-3", "0.0000001", "1e-30"]
)
async def test_admin_merge_refuses_hostile_amounts_with_a_400(amount: str) -> None:
    keys = polymarket_keys(None)
    server = polymarket_demo(keys)
    await server.start()
    try:
        # the account holds 10 free pairs, so only the amount itself can be refused
        (cid,) = [c for c, m in server.markets.items() if m.slug == MARKET]
        account = server.accounts[keys["address"].lower()]
        for outcome in Outcome:
            account.tokens[(cid, outcome)] = Decimal(10)
        async with aiohttp.ClientSession() as http:
            body = {"address": keys["address"], "condition_id": MARKET, "amount": amount}
            async with http.post(f"{server.url}/admin/merge", json=body) as resp:
                text = await resp.text()
                assert resp.status == 400, (resp.status, text)
                assert "amount" in text or "merge of" in text, text
        assert account.tokens[(cid, Outcome.YES)] == 10  # nothing merged
    finally:
        await server.stop()


async def test_a_sigkill_while_booking_a_merge_books_it_once_at_the_next_start(
    tmp_path: Path, monkeypatch
) -> None:
    keys = polymarket_keys(None)
    server = polymarket_demo(keys)
    await server.start()
    try:
        node, _ = await _node_holding_a_pair(tmp_path, monkeypatch, server, keys)
        cfg = node.config
        await node.stop()
        node.close()
        await _merge(server.url, keys["address"], "4")  # while the node is down
        child = Path(__file__).with_name("pm_merge_crash_child.py")
        docs = await killed_child(child, tmp_path, cfg, timeout_s=120)
        assert docs and "recorded" in docs[-1], docs
        for _ in range(2):
            node = TradingNode(cfg)
            await node.start()
            try:
                assert node.storage.load_balance_adjustments("polymarket") == []
                held = {(s, sid): p.quantity
                        for (_, s, sid), p in node.portfolio.positions.items()}  # fmt: skip
                assert held[(POLY_YES, "s1")] == 6 and held[(POLY_NO, "s1")] == 6
                fills = node.storage.load_fills(venue="polymarket")
                assert len(fills) == 4, fills  # two buys, two merge legs: booked once
            finally:
                await node.stop()
                node.close()
    finally:
        await server.stop()


async def test_a_merge_of_a_pair_held_by_two_strategies_closes_both(
    tmp_path: Path, monkeypatch
) -> None:
    keys = polymarket_keys(None)
    server = polymarket_demo(keys)
    await server.start()
    venue = {"name": "polymarket", "kind": "polymarket", "credentials": "demo",
             "rest_url": server.url}  # fmt: skip
    vault_with(tmp_path, monkeypatch, "demo", "polymarket",
               {k: v for k, v in keys.items() if k != "address"})  # fmt: skip
    node = TradingNode(node_config(tmp_path, venue))
    await node.start()
    try:
        start = node.portfolio.book("polymarket").total("PUSD")
        for sid, symbol in (("s1", POLY_YES), ("s2", POLY_NO)):
            quote = await node.venues["polymarket"].fetch_quote(symbol)
            await node.on_quote(quote)
            placed = await node.submit(OrderIntent(
                sid, "polymarket", symbol, Side.BUY, Decimal(10), OrderType.LIMIT, quote.ask,
            ))  # fmt: skip
            assert placed.order is not None and placed.order.status is OrderStatus.FILLED
        await _merge(server.url, keys["address"], "10")
        sync = node.balance_sync()
        assert sync is not None
        await asyncio.sleep(2.1)
        assert await sync.sync_once("polymarket") == []
        assert node.storage.load_balance_adjustments("polymarket") == []
        positions = node.portfolio.positions.items()
        assert {(s, sid): p.quantity for (_, s, sid), p in positions if p.quantity} == {}
        realised = sum((p.realized_pnl for _, p in positions), Decimal(0))
        # both strategies' costs against the 10.00 the merge paid, realised between them
        assert realised == node.portfolio.book("polymarket").total("PUSD") - start
    finally:
        await node.stop()
        node.close()
        await server.stop()
