"""Triangular on the Binance-compatible sandbox (real ccxt client, real node processes): a first
leg the venue said it never received (`rejected`, the cycle recorded with nothing traded) fills
at the venue while the node is down (SIGKILLed). The next start's reconciliation books the fill;
the start then books it into its cycle's record once (held at its cost, one critical `arb.held`
through the record's outbox); a start after that changes nothing, and counts what the record
holds as the strategy's cycle holding (what an `arb-unwind` may sell)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from conftest import aeventually
from rigs import killed_child
from test_triangular_interrupted import _cfg, _held, _started
from tradeguard.clock import Clock
from tradeguard.config import Config
from tradeguard.model import Order
from tradeguard.node import TradingNode
from tradeguard.storage.arb_repository import insert_arb_execution, load_arb_executions
from tri_child_support import renamed_record
from triangular_node_support import drifting_sandbox

CHILD = Path(__file__).with_name("tri_late_fill_child.py")
BOOK_CHILD = Path(__file__).with_name("tri_late_book_child.py")
NEWER = 300  # records written after the one whose order fills late


async def _filled_while_down(cfg: Config, cid: str) -> None:
    """The journaled order `cid` reaches the venue after all and fills, the node down."""
    down = TradingNode(cfg)  # not started: its venue client only
    [order] = [o for o in down.storage.load_orders(strategy_id="tri") if o.client_order_id == cid]
    venue = down.venues["sbx"]
    venue._listener = None  # the node is down: nothing of it hears the venue
    await venue.connect()
    try:
        report = await venue.submit(order)
    finally:
        await venue.close()
        down.close()
    assert report.filled > 0, report


async def _sent_by_another_client(cfg: Config, order: Order) -> None:
    """`order` reaches the venue through a client of its own (not the node's), and fills."""
    from tradeguard.node.credentials import venue_credentials
    from tradeguard.venues.ccxt_venue import build_ccxt_venue

    [vc] = [v for v in cfg.venues if v.name == "sbx"]
    venue = build_ccxt_venue(vc, Clock(), credentials=venue_credentials(vc))
    await venue.connect()
    try:
        report = await venue.submit(order)
    finally:
        await venue.close()
    assert report.filled > 0, report


async def test_a_first_leg_filled_while_the_node_was_down_is_booked_into_its_record_once(
    tmp_path: Path, vault_env: None
) -> None:
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex)
        [died] = await killed_child(CHILD, tmp_path, cfg, ex.base_url, timeout_s=120)
        assert died["status"] == "rejected" and died["outcome"] in ("rejected", "failed"), died
        cid, base = died["cid"], died["base"]
        await _filled_while_down(cfg, cid)
        async with _started(cfg) as (node, events):
            [row] = load_arb_executions(node.storage, strategy_id="tri")
            assert row["id"] == died["record_id"]
            leg = row["legs"]["legs"][0]
            got = Decimal(leg["received"])
            assert leg["client_order_id"] == cid and got > 0, json.dumps(row, default=str)
            assert row["outcome"] == "held" and row["legs"]["held"] == {base: str(got)}, row
            assert len(_held(events)) == 1, [(e.kind, e.data) for e in events]
            [event] = _held(events)
            assert event.data["record_id"] == row["id"] and event.data["client_order_id"] == cid
        async with _started(cfg) as (again, events):  # nothing left to do
            assert load_arb_executions(again.storage, strategy_id="tri") == [row]
            assert _held(events) == []
            # what the held record holds, an `arb-unwind` may sell after a restart too
            assert again.risk.cycle_holdings.held("tri", "sbx", base) == got


async def test_an_old_records_order_filled_while_down_is_booked_once_across_a_kill_in_booking(
    tmp_path: Path, vault_env: None
) -> None:
    # 300 records newer than the one whose order fills while the node is down (a window of the
    # 256 newest left it out), and a start killed inside the record's rewrite: the next start
    # books it, once.
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex)
        [died] = await killed_child(CHILD, tmp_path, cfg, ex.base_url, timeout_s=120)
        cid, base = died["cid"], died["base"]
        down = TradingNode(cfg)  # not started: its store only
        [first] = load_arb_executions(down.storage, strategy_id="tri")
        with down.storage.transaction():
            for n in range(NEWER):
                insert_arb_execution(down.storage, renamed_record(first, n))
        down.close()
        await _filled_while_down(cfg, cid)
        [cut] = await killed_child(BOOK_CHILD, tmp_path, cfg, timeout_s=120)
        assert cut == {"booking": first["id"]}, cut
        async with _started(cfg) as (node, events):
            row = next(r for r in load_arb_executions(node.storage, strategy_id="tri")
                       if r["id"] == first["id"])  # fmt: skip
            got = Decimal(row["legs"]["legs"][0]["received"])
            assert got > 0 and row["outcome"] == "held", json.dumps(row, default=str)
            assert row["legs"]["held"] == {base: str(got)}, row
            assert [e.data["record_id"] for e in _held(events)] == [first["id"]]
            assert node.risk.settlements_seen["tri"] == [f"tri:late:{first['id']}:{cid}"]
        async with _started(cfg) as (again, events):  # booked once: nothing left to do
            assert next(r for r in load_arb_executions(again.storage, strategy_id="tri")
                        if r["id"] == first["id"]) == row  # fmt: skip
            assert _held(events) == []
            assert again.risk.settlements_seen["tri"] == [f"tri:late:{first['id']}:{cid}"]
            assert again.risk.cycle_holdings.held("tri", "sbx", base) == got


async def test_an_older_runs_order_filled_while_the_node_runs_is_booked_into_its_record(
    tmp_path: Path, vault_env: None
) -> None:
    # The record is the run before's: this run neither wrote it nor keeps its orders.
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex)
        [died] = await killed_child(CHILD, tmp_path, cfg, ex.base_url, timeout_s=120)
        cid, base = died["cid"], died["base"]
        async with _started(cfg) as (node, events):
            assert _held(events) == []
            order = node.storage.get_order(cid)
            assert order is not None
            await _sent_by_another_client(cfg, order)  # the venue fills it now

            def booked() -> bool:
                [row] = load_arb_executions(node.storage, strategy_id="tri")
                return row["outcome"] == "held"

            await aeventually(booked, timeout_s=30)
            [row] = load_arb_executions(node.storage, strategy_id="tri")
            got = Decimal(row["legs"]["legs"][0]["received"])
            assert row["legs"]["held"] == {base: str(got)} and got > 0, row
            assert [e.data["record_id"] for e in _held(events)] == [died["record_id"]]
            assert node.risk.cycle_holdings.held("tri", "sbx", base) == got
