"""An unwind hop the venue never answered (its send, queries and cancel all timing out) may
still trade: it is never taken as unfilled. The cycle is held on what the hop was given, the
way back stops there, and the record and its critical `arb.held` name the unresolved order, as
for a forward leg left so."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from test_triangular_exec_support import Stack, small_universe
from test_triangular_exec_unresolved import held_events, stall
from test_triangular_exec_unwind import CYCLE_4, NO_DIRECT, fail_leg_3
from tradeguard.storage.arb_repository import load_arb_executions

SIZE = Decimal(1000)


async def test_an_unanswered_unwind_hop_is_held_naming_its_order(tmp_path: Path) -> None:
    s = Stack(tmp_path, universe=small_universe(delist=NO_DIRECT),
              exec_config={"leg_timeout_s": 0.05})  # fmt: skip
    opp = s.opportunity(CYCLE_4)
    fail_leg_3(s)
    sent = stall(s, "A0023/FDUSD")  # the way back's first hop

    rec = await s.executor.execute(opp, SIZE)

    assert len(sent) == 1 and [u.symbol for u in rec.unwinds] == ["A0023/FDUSD"]
    assert rec.outcome == "held", rec.reason
    stranded = rec.legs[1].received
    assert rec.held == {"A0023": stranded}
    assert "unresolved" in rec.held_why["A0023"], rec.held_why
    assert sent[0].client_order_id in rec.reason and "unresolved" in rec.reason, rec.reason
    assert held_events(s) == ["critical"]
    [event] = [e for e in s.events if e.kind == "arb.held"]
    assert sent[0].client_order_id in event.data["message"], event.data["message"]
    (row,) = load_arb_executions(s.storage, strategy_id=s.config.strategy_id)
    assert row["outcome"] == "held"
