"""A lone leg the person sells by hand on the venue leaves the strategy's book at the next
reconciliation or balance sync: shrunk to what the venue holds (never below zero), recorded,
evented, shown in the held list with why, and still so after a restart."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from pm_arb_support import book_moves_after_sizing
from test_pm_arb_interrupted import _start
from test_pm_arb_node import arb_config, vault_with_both
from tradeguard.api.routes.pm_arb import held_json
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.events import EventKind
from tradeguard.node import TradingNode
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import (
    kalshi_demo,
    kalshi_keys,
    paired_markets,
    polymarket_demo,
    polymarket_keys,
)
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.strategies.cross_venue.held_retry import held_legs
from tradeguard.venues.kalshi.client import KalshiClient

NO = "KXFED-26DEC-T4.00:NO"


@pytest.fixture
async def rig(tmp_path, monkeypatch):
    k_keys, pm_keys = kalshi_keys(None), polymarket_keys(None)
    kalshi, pm = kalshi_demo(k_keys), polymarket_demo(pm_keys)
    await kalshi.start()
    await pm.start()
    vault_with_both(tmp_path, monkeypatch, k_keys, pm_keys)
    book_moves_after_sizing(monkeypatch)  # its runs leave a leg held
    try:
        yield kalshi, pm, k_keys
    finally:
        await pm.stop()
        await kalshi.stop()


async def _sell_by_hand(kalshi, k_keys, n: Decimal, cid: str) -> None:
    client = KalshiClient(kalshi.rest_url, k_keys["key_id"], k_keys["private_key_pem"])
    try:
        await client.create_order({"ticker": NO.split(":")[0], "client_order_id": cid,
                                   "side": "no", "action": "sell", "count_fp": f"{n:.2f}",
                                   "no_price_dollars": "0.0100",
                                   "time_in_force": "immediate_or_cancel"})  # fmt: skip
    finally:
        await client.close()


async def _held_by_a_run(tmp_path, kalshi, pm) -> tuple[TradingNode, list]:
    """A running node whose first attempt left its Kalshi leg held (cap 0.01 USD)."""
    cfg = arb_config(tmp_path, kalshi, pm, {"max_unwind_loss_usd": "0.01"},
                     {"max_position_usd": "200"})  # fmt: skip
    node, events = await _start(cfg)
    for venue in node.venues.values():
        venue.quote_poll_s = 0.05  # type: ignore[attr-defined]
    scenario = ArbScenario(
        pm.book, paired_markets("polymarket", pm)[:1],
        ArbScenarioConfig(size=Decimal(2000), fail_second=True),
    )  # fmt: skip
    run = asyncio.create_task(node.run_live(duration_s=120))
    scenario.appear(scenario.markets[0])
    strat = node.strategies[0]
    for _ in range(2400):
        if strat.attempts:
            break
        await asyncio.sleep(0.05)
    node.request_stop()
    await run
    assert [a.outcome for a in strat.attempts] == ["held"], strat.attempts
    return node, events


async def test_a_held_leg_sold_by_hand_shrinks_then_leaves_the_book(tmp_path, rig):
    kalshi, pm, k_keys = rig
    node, events = await _held_by_a_run(tmp_path, kalshi, pm)
    strat = node.strategies[0]
    try:
        [lone] = strat.book.open
        n = lone.contracts
        assert node.portfolio.book("kalshi").total(NO) == n and n > 5
        await _sell_by_hand(kalshi, k_keys, n - 5, "by-hand-1")
        report = await reconcile_and_gate(node, "periodic")
        assert report.ok, report.reason
        [changed] = report.held_shrunk
        assert {s: Decimal(q) for s, q in changed["held"].items()} == {f"{NO}/USD": 5}, changed
        [pair] = strat.book.open
        assert pair.contracts == 5 and pair.capital == lone.capital * 5 / n
        shown = held_json(strat.id, pair)
        assert Decimal(shown["contracts"]) == 5 and f"{n - 5} of the {n}" in shown["note"], shown
        rows = load_arb_executions(node.storage, strategy_id="pmarb")
        assert [r["outcome"] for r in rows] == ["held", "held"]
        assert rows[1]["legs"]["code"] == "HELD_SHRUNK" and rows[1]["legs"]["retry_of"] == 1
        [leg] = held_legs(rows)  # a retry starts from what is left
        assert leg.contracts == 5 and leg.record_id == rows[0]["id"]
        [event] = [e for e in events if e.kind == EventKind.ARB_EXECUTION][1:]
        assert event.severity == "warning" and "no longer there" in event.data["reason"]
        again = await reconcile_and_gate(node, "periodic")
        assert again.held_shrunk == []  # nothing more changed: nothing recorded
    finally:
        await node.stop()
        node.close()
    await _sell_by_hand(kalshi, k_keys, Decimal(5), "by-hand-2")  # the rest, while down
    for start in range(2):
        node, events = await _start(node.config)
        try:
            assert node.strategies[0].book.open == []  # never below zero: dropped
            rows = load_arb_executions(node.storage, strategy_id="pmarb")
            assert [r["outcome"] for r in rows] == ["held", "held", "failed"], rows
            assert held_legs(rows) == []
            assert node.portfolio.book("kalshi").total(NO) == 0
            shrunk = [e for e in events if e.kind == EventKind.ARB_EXECUTION]
            assert len(shrunk) == (1 if start == 0 else 0)
        finally:
            await node.stop()
            node.close()
    print(f"\nheld {n}: shrunk to 5 by a reconciliation, dropped at the next start")


async def test_the_balance_sync_shrinks_a_held_leg_sold_by_hand(tmp_path, rig):
    kalshi, pm, k_keys = rig
    node, _events = await _held_by_a_run(tmp_path, kalshi, pm)
    strat = node.strategies[0]
    try:
        [lone] = strat.book.open
        await _sell_by_hand(kalshi, k_keys, lone.contracts, "by-hand-all")
        sync = node.balance_sync()
        assert sync is not None
        for _ in range(1200):  # it waits while an order of the venue changed in the last 2 s
            await sync.sync_once("kalshi")
            if "kalshi" not in sync.skipped:
                break
            await asyncio.sleep(0.05)
        assert "kalshi" not in sync.skipped, sync.waiting
        assert strat.book.open == []
        rows = load_arb_executions(node.storage, strategy_id="pmarb")
        assert rows[-1]["legs"]["code"] == "HELD_SHRUNK" and rows[-1]["outcome"] == "failed"
        assert strat.state()["record_id"] == rows[-1]["id"]
    finally:
        await node.stop()
        node.close()
