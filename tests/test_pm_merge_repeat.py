"""A second merge of the same size from the same holding (a buy between them) is a new merge,
and `POST /admin/merge` answers hostile amounts with a 400 naming them, never a 500."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from pm_merge_support import (
    MARKET,
    POLY_NO,
    buy,
    config_after_a_pair,
    demo_clob,
    held,
    holding_a_pair,
    merge,
    pm_config,
    running,
    synced,
)
from rigs import killed_child
from test_pm_node_crash import POLY_YES
from tradeguard.model.outcome import Outcome


async def test_a_second_merge_from_the_same_holding_after_a_buy_is_booked_too(
    tmp_path: Path, monkeypatch
) -> None:
    async with (
        demo_clob() as (server, keys),
        holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _),
    ):
        await merge(server.url, keys["address"], "5")  # 10/10 -> 5/5
        sync, found = await synced(node)
        assert found == []
        await buy(node, POLY_YES, Decimal(5))
        await merge(server.url, keys["address"], "5")  # 10/5 -> 5/0: YES 10 before again
        _, found = await synced(node, sync)
        assert found == [], found
        assert node.storage.load_balance_adjustments("polymarket") == []
        assert held(node).get((POLY_YES, "s1"), Decimal(0)) == 5
        assert held(node).get((POLY_NO, "s1"), Decimal(0)) == 0


@pytest.mark.parametrize(
    "amount", ["NaN", "sNaN", "-NaN", "Infinity", "1e999999999", "-3", "0.0000001", "1e-30"]
)
async def test_admin_merge_refuses_hostile_amounts_with_a_400(amount: str) -> None:
    async with demo_clob() as (server, keys):
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


async def test_a_sigkill_while_booking_a_merge_books_it_once_at_the_next_start(
    tmp_path: Path, monkeypatch
) -> None:
    async with demo_clob() as (server, keys):
        cfg = await config_after_a_pair(tmp_path, monkeypatch, server, keys)
        await merge(server.url, keys["address"], "4")  # while the node is down
        child = Path(__file__).with_name("pm_merge_crash_child.py")
        docs = await killed_child(child, tmp_path, cfg, timeout_s=120)
        assert docs and "recorded" in docs[-1], docs
        for _ in range(2):
            async with running(cfg) as node:
                assert node.storage.load_balance_adjustments("polymarket") == []
                assert held(node)[(POLY_YES, "s1")] == 6 and held(node)[(POLY_NO, "s1")] == 6
                fills = node.storage.load_fills(venue="polymarket")
                assert len(fills) == 4, fills  # two buys, two merge legs: booked once


async def test_a_merge_of_a_pair_held_by_two_strategies_closes_both(
    tmp_path: Path, monkeypatch
) -> None:
    async with (
        demo_clob() as (server, keys),
        running(pm_config(tmp_path, monkeypatch, server, keys)) as node,
    ):
        start = node.portfolio.book("polymarket").total("PUSD")
        for sid, symbol in (("s1", POLY_YES), ("s2", POLY_NO)):
            await buy(node, symbol, sid=sid)
        await merge(server.url, keys["address"], "10")
        _, found = await synced(node)
        assert found == []
        assert node.storage.load_balance_adjustments("polymarket") == []
        positions = node.portfolio.positions.items()
        assert {(s, sid): p.quantity for (_, s, sid), p in positions if p.quantity} == {}
        realised = sum((p.realized_pnl for _, p in positions), Decimal(0))
        # both strategies' costs against the 10.00 the merge paid, realised between them
        assert realised == node.portfolio.book("polymarket").total("PUSD") - start
