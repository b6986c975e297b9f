"""A pair attempt's `arb.execution` event is kept with its record, in the same commit: a node
SIGKILLed after the record committed and before the event reached the bus announces it at the
next start, once (alerts, the audit log and the dashboard hear of that attempt), and a later
start does not announce it again."""

from __future__ import annotations

from decimal import Decimal

from test_pm_arb_book_crash import _killed_at, servers
from test_pm_arb_interrupted import _start
from tradeguard.model.events import EventKind
from tradeguard.sandbox.pm_scenario import ArbScenarioConfig
from tradeguard.storage.arb_repository import load_arb_executions

__all__ = ["servers"]  # the fixture: both local servers, both demo accounts in the vault


async def test_an_event_lost_to_a_kill_after_its_record_is_announced_at_the_next_start_once(
    tmp_path, servers
) -> None:
    cfg, died = await _killed_at(
        tmp_path, servers, "announcing", ArbScenarioConfig(size=Decimal(20))
    )
    announced = []
    for _ in range(2):
        node, events = await _start(cfg)
        try:
            [rec] = load_arb_executions(node.storage, strategy_id="pmarb")
            assert rec["id"] == died["record_id"]
            announced.append(
                [e.data["record_id"] for e in events if e.kind == EventKind.ARB_EXECUTION]
            )
            node.flush_audit()
            stored = node.storage.load_events(kind_prefix=EventKind.ARB_EXECUTION)
        finally:
            await node.stop()
            node.close()
    assert announced == [[died["record_id"]], []], announced
    assert [e.data["record_id"] for e in stored] == [died["record_id"]]  # in the audit log once
    assert stored[0].data["outcome"] == died["outcome"]
