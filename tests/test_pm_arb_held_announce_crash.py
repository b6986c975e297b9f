"""A pair attempt's critical `arb.held` event is kept with its `held` record, in the same
commit, and published after it: a node SIGKILLed as the event reaches the bus has its record
committed (no hold announced that no record has), and the next start announces it once, naming
that record; a later start does not announce it again.

What the strategy's `arb-unwind` may sell of that held leg (an operator's retry) is read back
from the held record at each start, not lost with the process: the same 20 contracts the run
counted, at the first start after the kill and at the next."""

from __future__ import annotations

from decimal import Decimal

from rigs import killed_child
from test_pm_arb_book_crash import CHILD, PM_YES, servers
from test_pm_arb_interrupted import _start
from test_pm_arb_node import arb_config
from tradeguard.model.events import EventKind
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import paired_markets
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

__all__ = ["servers"]  # the fixture: both local servers, both demo accounts in the vault


async def test_a_held_event_lost_to_a_kill_is_announced_with_its_record_once(
    tmp_path, servers
) -> None:
    kalshi, pm = servers
    cfg = arb_config(tmp_path, kalshi, pm, {"leg_timeout_s": 1, "max_unwind_loss_usd": "1.5"},
                     {"max_position_usd": "200"})  # fmt: skip
    cfg.node.reconcile_interval_s = 3600  # nothing resolves the leg before the kill
    arb = ArbScenario(
        pm.book, paired_markets("polymarket", pm)[:1], ArbScenarioConfig(size=Decimal(20))
    )
    arb.appear(arb.markets[0])  # a thin cheap Polymarket ask: Polymarket's leg goes first
    [died] = await killed_child(CHILD, tmp_path, cfg, "held_announcing", timeout_s=150)
    assert died.get("step") == "held_announcing", died
    assert died["held"] == {PM_YES + "/PUSD": "20"}, died
    journal = Storage(Database(cfg.node.database_url))
    try:  # the hold was announced only once its record was committed
        held = [r["id"] for r in load_arb_executions(journal, strategy_id="pmarb")
                if r["outcome"] == "held"]  # fmt: skip
    finally:
        journal.db.dispose()
    assert held == [died["record_id"]], (held, died)
    announced, allowed = [], []
    for _ in range(2):
        node, events = await _start(cfg)
        try:
            holdings = node.risk.cycle_holdings
            allowed.append(holdings.held("pmarb", "polymarket", PM_YES))
            announced.append(
                [e.data.get("record_id") for e in events if e.kind == EventKind.ARB_HELD]
            )
            node.flush_audit()
            stored = node.storage.load_events(kind_prefix=EventKind.ARB_HELD)
        finally:
            await node.stop()
            node.close()
    assert announced == [held, []], announced
    assert allowed == [Decimal(20), Decimal(20)], allowed
    assert [e.data.get("record_id") for e in stored] == held  # in the audit log once
