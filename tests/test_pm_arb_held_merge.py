"""A held Polymarket leg merged with NO bought by hand (the CTF's merge, `POST /admin/merge` on
the local CLOB) settles the held record with the merge's proceeds as its exit: one record and
one `arb.settled` event, its P&L in the strategy's day, no HELD_SHRUNK record; a SIGKILL
between booking the merge and writing the record settles it once at the next start.

The local CLOB, the official py-clob-client (the hand), and the Kalshi stand-in."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import OrderArgsV2

from pm_merge_support import merge
from rigs import killed_child
from test_pm_arb_interrupted import _start
from test_pm_arb_node import arb_config, vault_with_both
from tradeguard.model.enums import Side, TimeInForce
from tradeguard.model.events import EventKind
from tradeguard.node import TradingNode
from tradeguard.sandbox.pm_serve import (
    kalshi_demo,
    kalshi_keys,
    polymarket_demo,
    polymarket_keys,
    token_id,
)
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.strategies.cross_venue.held_retry import held_legs
from tradeguard.strategies.cross_venue.limits import OpenPair
from tradeguard.strategies.cross_venue.records import PairAttempt

D = Decimal
MARKET = "fed-above-4pct-dec"
YES = f"{MARKET}:YES/PUSD"
CHILD = Path(__file__).with_name("pm_arb_held_merge_child.py")


@pytest.fixture
async def rig(tmp_path, monkeypatch):
    k_keys, pm_keys = kalshi_keys(None), polymarket_keys(None)
    kalshi, pm = kalshi_demo(k_keys), polymarket_demo(pm_keys)
    await kalshi.start()
    await pm.start()
    vault_with_both(tmp_path, monkeypatch, k_keys, pm_keys)
    try:
        yield kalshi, pm, pm_keys
    finally:
        await pm.stop()
        await kalshi.stop()


async def _hold_yes(node: TradingNode, n: D) -> OpenPair:
    """The strategy's first leg, n YES bought on the CLOB, held alone: its second leg failed
    and was not unwound (as a run records it)."""
    strat = node.strategies[0]
    ex = strat.executor
    quote = await node.venues["polymarket"].fetch_quote(YES)
    await node.on_quote(quote)
    first = await ex._send("first", "polymarket", YES, Side.BUY, n, quote.ask, TimeInForce.FOK)
    assert first.filled == n, first
    rec = PairAttempt("pmarb", "fed-dec-above-4", "ev", 0, ex.mode, n, D(0), D(0), D(0),
                      outcome="held", reason="second leg failed",
                      ts=node.clock.now_ms())  # fmt: skip
    rec.legs.append(first)
    rec.held[YES], rec.capital = n, -first.cash
    ex.book_pair(OpenPair(rec.pair_id, rec.event, 0, n, rec.capital, 0, ("polymarket",), (YES,)))
    ex._finish(rec)
    [pair] = strat.book.open
    return pair


async def _buy_no_by_hand(pm, keys, n: D) -> None:
    client = ClobClient(pm.url, chain_id=137, key=keys["private_key"])
    client.set_api_creds(await asyncio.to_thread(client.create_or_derive_api_key))
    answer = await asyncio.to_thread(
        client.create_and_post_order,
        OrderArgsV2(token_id=token_id(MARKET, "no"), price=0.99, size=float(n), side="BUY"),
    )
    assert answer["success"] and answer["status"] == "matched", answer


async def _sync(node: TradingNode) -> None:
    sync = node.balance_sync()
    assert sync is not None
    for _ in range(3):  # the hand's trade booked first, then the merge at the next pass
        await asyncio.sleep(2.1)  # past the sync's "changed in the last 2 s" wait
        await sync.sync_once("polymarket")


async def _held_then_merged(
    tmp_path, pm, keys, kalshi, pairs: D = D(10), held: D = D(10)
) -> tuple[TradingNode, list, OpenPair]:
    cfg = arb_config(tmp_path, kalshi, pm, {}, {"max_position_usd": "200"})
    node, events = await _start(cfg)
    pair = await _hold_yes(node, held)
    await _buy_no_by_hand(pm, keys, pairs)
    await _sync(node)  # the hand's NO booked as a trade of no strategy
    await merge(pm.url, keys["address"], str(pairs))
    return node, events, pair


def _settled_once(rows: list[dict], pair: OpenPair, proceeds: D) -> None:
    assert [r["outcome"] for r in rows] == ["held", "unwound"], rows
    assert not [r for r in rows if r["legs"].get("code") == "HELD_SHRUNK"], rows
    merged = rows[1]
    assert merged["legs"]["retry_of"] == rows[0]["id"]
    assert D(merged["actual_profit"]) == proceeds - pair.capital, merged
    assert held_legs(rows) == []


async def test_a_merge_of_a_held_leg_settles_its_record_with_the_merge_as_its_exit(
    tmp_path: Path, rig
) -> None:
    kalshi, pm, keys = rig
    node, events, pair = await _held_then_merged(tmp_path, pm, keys, kalshi)
    strat = node.strategies[0]
    try:
        day_before = strat.book.realised_today
        await _sync(node)
        assert node.portfolio.book("polymarket").total(f"{MARKET}:YES") == 0
        rows = load_arb_executions(node.storage, strategy_id="pmarb")
        [fill] = [f for f in node.storage.load_fills(venue="polymarket", symbol=(YES,))
                  if f.trade_id.startswith("net-")]  # fmt: skip
        _settled_once(rows, pair, fill.amount * fill.price - fill.fee)
        assert strat.book.open == []
        assert strat.book.realised_today - day_before == fill.amount * fill.price - pair.capital
        [settled] = [e for e in events if e.kind == EventKind.ARB_SETTLED]
        assert D(settled.data["pnl"]) == D(rows[1]["actual_profit"])
        await _sync(node)  # nothing more
        assert len(load_arb_executions(node.storage, strategy_id="pmarb")) == 2
    finally:
        await node.stop()
        node.close()
    node, events = await _start(node.config)
    try:  # after a restart: still settled once, nothing shrunk or announced again
        assert len(load_arb_executions(node.storage, strategy_id="pmarb")) == 2
        assert node.strategies[0].book.open == []
        assert not [e for e in events if e.kind in (EventKind.ARB_SETTLED, EventKind.ARB_EXECUTION)]
    finally:
        await node.stop()
        node.close()


async def test_a_kill_between_booking_the_merge_and_settling_the_record_settles_it_once(
    tmp_path: Path, rig
) -> None:
    kalshi, pm, keys = rig
    cfg = arb_config(tmp_path, kalshi, pm, {}, {"max_position_usd": "200"})
    node, _ = await _start(cfg)
    try:
        pair = await _hold_yes(node, D(10))
        await _buy_no_by_hand(pm, keys, D(10))
        await _sync(node)  # the hand's NO booked as a trade of no strategy
        day_before = node.strategies[0].book.realised_today
    finally:
        await node.stop()
        node.close()
    await merge(pm.url, keys["address"], "10")  # while the node is down
    [killed] = await killed_child(CHILD, tmp_path, cfg)
    assert killed["booked"].startswith("net-"), killed
    for start in range(2):
        node, events = await _start(cfg)
        try:
            strat = node.strategies[0]
            rows = load_arb_executions(node.storage, strategy_id="pmarb")
            [fill] = [f for f in node.storage.load_fills(venue="polymarket", symbol=(YES,))
                      if f.trade_id.startswith("net-")]  # fmt: skip
            proceeds = fill.amount * fill.price - fill.fee
            _settled_once(rows, pair, proceeds)
            assert strat.book.open == []
            assert strat.book.realised_today - day_before == proceeds - pair.capital
            settled = [e for e in events if e.kind == EventKind.ARB_SETTLED]
            assert len(settled) == (1 if start == 0 else 0), settled
            assert node.reconcile_report is not None and node.reconcile_report.held_shrunk == []
        finally:
            await node.stop()
            node.close()


async def test_a_merge_of_part_of_a_held_leg_settles_that_part_and_holds_the_rest(
    tmp_path: Path, rig
) -> None:
    kalshi, pm, keys = rig
    node, events, pair = await _held_then_merged(tmp_path, pm, keys, kalshi, D(5), D(12))
    strat = node.strategies[0]
    try:
        await _sync(node)
        rows = load_arb_executions(node.storage, strategy_id="pmarb")
        assert [r["outcome"] for r in rows] == ["held", "held"], rows
        assert rows[1]["legs"]["code"] == "HELD_NETTED"
        [sale] = rows[1]["legs"]["unwinds"]
        assert D(sale["filled"]) == 5
        cost = pair.capital * 5 / 12
        proceeds = D(sale["filled"]) * D(sale["avg_price"]) - D(sale["fee"])
        assert D(rows[1]["actual_profit"]) == proceeds - cost
        [left] = strat.book.open  # a retry starts from the 7 left, at their cost
        assert left.contracts == 7 and left.capital == pair.capital - cost
        [leg] = held_legs(rows)
        assert leg.contracts == 7 and leg.record_id == rows[0]["id"]
        [settled] = [e for e in events if e.kind == EventKind.ARB_SETTLED]
        assert D(settled.data["contracts"]) == 5
    finally:
        await node.stop()
        node.close()
