"""Triangular on the Binance-compatible sandbox (real ccxt client, real node processes): a cycle
held on a first leg the venue executed and never answered for; the node learns the order
filled and is SIGKILLed before the held record is rewritten. The next start rewrites it, once:
one report to the risk engine, one `arb.resolved` event; a start after that changes nothing."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from rigs import killed_child
from test_triangular_interrupted import _cfg, _started
from tradeguard.execution.gateway import RECORD_STATE_KEY
from tradeguard.model.events import EventKind
from tradeguard.sandbox.faults import Faults
from tradeguard.storage.arb_repository import load_arb_executions
from triangular_node_support import VENUE, drifting_sandbox

CHILD = Path(__file__).with_name("tri_held_child.py")


class _DropThenDown(Faults):
    """An order's answer lost, then every REST request answered 503 until told otherwise."""

    def take_drop(self) -> bool:
        dropped = super().take_drop()
        if dropped:
            self.http_5xx_rate = 1.0
        return dropped


def _resolved(events: list[Any]) -> list[Any]:
    return [e for e in events if e.kind == EventKind.ARB_RESOLVED]


async def test_a_held_leg_that_filled_is_rewritten_once_across_a_kill_before_its_record(
    tmp_path: Path, vault_env: None
) -> None:
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex)
        ex.faults = _DropThenDown(drop_response_after_execute=1, drop_execution_reports=1)
        out = await killed_child(CHILD, tmp_path, cfg, ex.base_url, timeout_s=120)
        held, amending = out[0], out[-1]
        assert held["outcome"] == "held" and held["held"] == {"USDT": "20"}, held
        cid = held["cid"]
        assert amending == {"amending": cid}, out
        async with _started(cfg) as (node, events):
            node.start_strategies()  # as a run does once started
            legs = node.strategies[0].executor.held_legs  # type: ignore[attr-defined]
            for task in list(legs._tasks.values()):
                await task
            [row] = load_arb_executions(node.storage, strategy_id="tri")
            leg = row["legs"]["legs"][0]
            base = leg["to"]
            assert leg["status"] == "filled", json.dumps(row, default=str)
            assert row["outcome"] == "held" and row["legs"]["held"] == {base: leg["received"]}
            got = Decimal(leg["received"])
            assert got > 0 and node.portfolio.book(VENUE).total(base) >= got
            assert Decimal(row["legs"]["spent"]) == Decimal(leg["spent"]) > 0
            assert row["actual_profit"] == 0  # what it bought counts at its cost
            [event] = _resolved(events)
            assert event.data["client_order_id"] == cid and event.data["outcome"] == "held"
            key = f"tri:held:{row['id']}:{cid}"
            assert node.risk.settlements_seen["tri"].count(key) == 1
            assert node.storage.kv_get(RECORD_STATE_KEY.format("tri"))["pending"] == {}
            held_now, profit = row["legs"]["held"], row["actual_profit"]
            print(f"\nresolved at start: {cid} filled {leg['filled']} {base} for {leg['spent']} "
                  f"USDT; record held {held_now}, profit {profit}")  # fmt: skip
        # nothing left to do: the record, the count and the event stay as they were
        async with _started(cfg) as (again, events):
            again.start_strategies()
            assert load_arb_executions(again.storage, strategy_id="tri") == [row]
            assert _resolved(events) == []
            assert again.risk.settlements_seen["tri"].count(key) == 1
            executor = again.strategies[0].executor  # type: ignore[attr-defined]
            assert executor.held_legs.pending == {}


async def test_a_rewritten_records_event_lost_to_a_kill_is_announced_at_the_next_start_once(
    tmp_path: Path, vault_env: None
) -> None:
    async with drifting_sandbox(arb_drift_every_ms=0) as ex:
        cfg = _cfg(tmp_path, ex)
        ex.faults = _DropThenDown(drop_response_after_execute=1, drop_execution_reports=1)
        out = await killed_child(CHILD, tmp_path, cfg, ex.base_url, "announcing",
                                 timeout_s=120)  # fmt: skip
        held, announcing = out[0], out[-1]
        assert held["outcome"] == "held" and announcing == {"announcing": held["cid"]}, out
        told = []
        for _ in range(2):
            async with _started(cfg) as (node, events):
                told.append([e.data["client_order_id"] for e in _resolved(events)])
                [row] = load_arb_executions(node.storage, strategy_id="tri")
                assert row["legs"]["legs"][0]["status"] == "filled"  # rewritten before the kill
                node.flush_audit()
                stored = node.storage.load_events(kind_prefix=EventKind.ARB_RESOLVED)
        assert told == [[held["cid"]], []], told
        assert len(stored) == 1  # in the audit log once
