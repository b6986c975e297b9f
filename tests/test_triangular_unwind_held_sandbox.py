"""Triangular on the Binance-compatible sandbox (real ccxt client, real node processes): a
cycle's unwind hop the venue executed and never answered, the cycle recorded `held` on it, and
the node SIGKILLed while the hop is still held. The venue answers again; the next start learns
the hop sold what it was given and rewrites the held record once (the lot-size remainder it
could not be given is dust, the record `unwound`; one report to the risk engine, one
`arb.resolved` naming the hop); a start after that changes nothing."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from rigs import killed_child
from test_triangular_held_resolved_sandbox import _DropThenDown, _resolved
from test_triangular_interrupted import _cfg, _started
from tradeguard.execution.gateway import RECORD_STATE_KEY
from tradeguard.storage.arb_repository import load_arb_executions
from triangular_node_support import drifting_sandbox

CHILD = Path(__file__).with_name("tri_unwind_held_child.py")


async def _resolve_all(node: Any) -> None:
    node.start_strategies()  # as a run does once started
    legs = node.strategies[0].executor.held_legs
    for task in list(legs._tasks.values()):
        await task


async def test_an_unwind_hop_held_across_a_kill_is_rewritten_once_when_the_venue_answers(
    tmp_path: Path, vault_env: None
) -> None:
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex)
        ex.faults = _DropThenDown()  # the child arms the drop just before its unwind hop
        [died] = await killed_child(CHILD, tmp_path, cfg, ex.base_url, timeout_s=120)
        assert died["outcome"] == "held", died
        [hop] = died["hops"]
        assert died["dropped"] == [hop] and hop in died["reason"], died
        base = died["base"]
        assert base in died["held"], died
        ex.faults.update({"http_5xx_rate": 0.0})  # the venue answers again
        async with _started(cfg) as (node, events):
            await _resolve_all(node)
            [row] = load_arb_executions(node.storage, strategy_id="tri")
            assert row["id"] == died["record_id"]
            [sold] = row["legs"]["unwinds"]
            assert sold["client_order_id"] == hop, json.dumps(row, default=str)
            assert sold["status"] == "filled" and Decimal(sold["filled"]) > 0, sold
            # what the hop was not given (its amount was cut to the lot size) is dust, as an
            # unwind that sold at once records it: nothing is left held to sell
            left = Decimal(row["legs"]["legs"][0]["received"]) - Decimal(sold["filled"])
            assert Decimal(died["held"][base]) > left > 0, (died, row["legs"])
            assert row["legs"]["held"] == {} and row["legs"]["held_why"] == {}, row["legs"]
            assert row["legs"]["dust"] == {base: str(left)}, row["legs"]
            assert row["outcome"] == "unwound", row["outcome"]
            [event] = _resolved(events)
            assert event.data["client_order_id"] == hop and event.data["record_id"] == row["id"]
            key = f"tri:held:{row['id']}:{hop}"
            assert node.risk.settlements_seen["tri"].count(key) == 1
            assert node.storage.kv_get(RECORD_STATE_KEY.format("tri"))["pending"] == {}
        async with _started(cfg) as (again, events):  # nothing left to do
            await _resolve_all(again)
            assert load_arb_executions(again.storage, strategy_id="tri") == [row]
            assert _resolved(events) == []
            assert again.risk.settlements_seen["tri"].count(key) == 1
            assert again.strategies[0].executor.held_legs.pending == {}  # type: ignore[attr-defined]
