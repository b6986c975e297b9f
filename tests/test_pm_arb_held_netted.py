"""A held Kalshi leg netted by the venue against the opposite outcome bought by hand (Kalshi
keeps one signed position per market and pays 1 USD a YES and NO pair) settles the held
record with the netting as its exit: one record, one `arb.settled` event, its P&L in the
strategy's day, no HELD_SHRUNK record, and so after a restart.

The Kalshi stand-in and its client (the hand) on the node's account."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from rigs import killed_child
from test_pm_arb_held_shrink import NO, _held_by_a_run, rig  # noqa: F401  (the fixture)
from test_pm_arb_interrupted import _start
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import TradingState
from tradeguard.model.events import EventKind
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.strategies.cross_venue.held_retry import held_legs
from tradeguard.venues.kalshi.client import KalshiClient

D = Decimal
TICKER = NO.split(":")[0]
CHILD = Path(__file__).with_name("pm_arb_held_netted_child.py")


async def _buy_yes_by_hand(kalshi, k_keys, n: D) -> None:
    client = KalshiClient(kalshi.rest_url, k_keys["key_id"], k_keys["private_key_pem"])
    try:
        await client.create_order({"ticker": TICKER, "client_order_id": "by-hand-yes",
                                   "side": "yes", "action": "buy", "count_fp": f"{n:.2f}",
                                   "yes_price_dollars": "0.9900",
                                   "time_in_force": "immediate_or_cancel"})  # fmt: skip
    finally:
        await client.close()


async def test_a_held_kalshi_leg_netted_against_yes_bought_by_hand_settles_its_record(
    tmp_path,
    rig,  # noqa: F811
):
    kalshi, pm, k_keys = rig
    node, events = await _held_by_a_run(tmp_path, kalshi, pm)
    strat = node.strategies[0]
    try:
        [lone] = strat.book.open
        n, day_before = lone.contracts, strat.book.realised_today
        await _buy_yes_by_hand(kalshi, k_keys, n)
        report = await reconcile_and_gate(node, "periodic")
        assert report.ok, report.reason
        assert report.held_shrunk == [], report.held_shrunk
        assert node.portfolio.book("kalshi").total(NO) == 0
        rows = load_arb_executions(node.storage, strategy_id="pmarb")
        assert [r["outcome"] for r in rows] == ["held", "unwound"], rows
        assert rows[1]["legs"]["code"] == "HELD_NETTED" and rows[1]["legs"]["retry_of"] == 1
        [sale] = rows[1]["legs"]["unwinds"]
        proceeds = D(sale["filled"]) * D(sale["avg_price"]) - D(sale["fee"])
        assert D(sale["filled"]) == n and sale["client_order_id"].startswith("net")
        assert D(rows[1]["actual_profit"]) == proceeds - lone.capital
        assert strat.book.open == [] and held_legs(rows) == []
        assert strat.book.realised_today - day_before == proceeds - lone.capital
        [settled] = [e for e in events if e.kind == EventKind.ARB_SETTLED]
        assert D(settled.data["pnl"]) == proceeds - lone.capital
        again = await reconcile_and_gate(node, "periodic")
        assert again.ok and again.held_shrunk == []
    finally:
        await node.stop()
        node.close()
    node, events = await _start(node.config)
    try:  # settled once: nothing recorded, shrunk or announced at the next start
        assert len(load_arb_executions(node.storage, strategy_id="pmarb")) == 2
        assert node.strategies[0].book.open == []
        assert not [e for e in events if e.kind in (EventKind.ARB_SETTLED, EventKind.ARB_EXECUTION)]
    finally:
        await node.stop()
        node.close()


async def _lone_leg_of_a_stopped_run(tmp_path, kalshi, pm):
    """A run that holds one lone Kalshi leg, stopped: its config, the leg, the day's P&L."""
    node, _ = await _held_by_a_run(tmp_path, kalshi, pm)
    try:
        [lone] = node.strategies[0].book.open
        return node.config, lone, node.strategies[0].book.realised_today
    finally:
        await node.stop()
        node.close()


async def test_a_kill_after_the_node_booked_a_kalshi_netting_settles_the_held_leg_once(
    tmp_path,
    rig,  # noqa: F811
):
    kalshi, pm, k_keys = rig
    config, lone, day_before = await _lone_leg_of_a_stopped_run(tmp_path, kalshi, pm)
    pem = tmp_path / "hand.pem"
    pem.write_text(k_keys["private_key_pem"])
    args = (kalshi.rest_url, k_keys["key_id"], str(pem), f"{lone.contracts:.2f}")
    [killed] = await killed_child(CHILD, tmp_path, config, *args)
    assert killed["booked"].startswith("net"), killed
    await _settled_once_at_each_start(config, lone, day_before)


async def _settled_once_at_each_start(config, lone, day_before: D) -> None:
    """Two starts: the held record settled by the netting once, announced at the first."""
    for start in range(2):
        node, events = await _start(config)
        try:
            report = node.reconcile_report
            assert report is not None and report.ok, report and report.reason
            assert report.held_shrunk == [], report.held_shrunk
            assert node.portfolio.book("kalshi").total(NO) == 0
            assert node.risk.state is not TradingState.HALTED, node.risk.state
            strat = node.strategies[0]
            rows = load_arb_executions(node.storage, strategy_id="pmarb")
            assert [(r["outcome"], r["legs"].get("code")) for r in rows][1:] == [
                ("unwound", "HELD_NETTED")
            ], rows  # fmt: skip
            [sale] = rows[1]["legs"]["unwinds"]
            proceeds = D(sale["filled"]) * D(sale["avg_price"]) - D(sale["fee"])
            assert D(sale["filled"]) == lone.contracts
            assert D(rows[1]["actual_profit"]) == proceeds - lone.capital
            assert strat.book.open == [] and held_legs(rows) == []
            assert strat.book.realised_today - day_before == proceeds - lone.capital
            settled = [e for e in events if e.kind == EventKind.ARB_SETTLED]
            assert len(settled) == (1 if start == 0 else 0), settled
        finally:
            await node.stop()
            node.close()


async def test_a_held_kalshi_leg_netted_by_hand_while_the_node_is_down_settles_at_the_start(
    tmp_path,
    rig,  # noqa: F811
):
    kalshi, pm, k_keys = rig
    config, lone, day_before = await _lone_leg_of_a_stopped_run(tmp_path, kalshi, pm)
    await _buy_yes_by_hand(kalshi, k_keys, lone.contracts)  # the node is down: the venue nets
    await _settled_once_at_each_start(config, lone, day_before)


async def test_a_kill_during_the_start_booking_a_hand_netting_settles_the_held_leg_once(
    tmp_path,
    rig,  # noqa: F811
):
    kalshi, pm, k_keys = rig
    config, lone, day_before = await _lone_leg_of_a_stopped_run(tmp_path, kalshi, pm)
    pem = tmp_path / "hand.pem"
    pem.write_text(k_keys["private_key_pem"])
    args = (kalshi.rest_url, k_keys["key_id"], str(pem), f"{lone.contracts:.2f}", "down", TICKER)
    [killed] = await killed_child(CHILD, tmp_path, config, *args)
    assert killed["booked"].startswith("net"), killed
    await _settled_once_at_each_start(config, lone, day_before)
