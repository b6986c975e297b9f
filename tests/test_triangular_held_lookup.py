"""A held cycle's watch reads its order's state from the journal by the order's row alone (the
order path's `journaled_order`), as the other fill paths do: its fills are read once, when the
held record is rewritten, not at every look."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from test_triangular_exec_support import CYCLE, Stack
from test_triangular_held_resolved import SIZE, go_silent, resolved_events, rows


async def test_a_watch_told_nothing_by_the_order_path_reads_the_order_row_alone(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path, exec_config={"leg_timeout_s": 0.05})
    go_silent(s, CYCLE[0], executes=False)
    fill_reads: list[Any] = []
    load_fills = s.storage.load_fills

    def counted(*args: Any, **kwargs: Any) -> Any:
        fill_reads.append(kwargs)
        return load_fills(*args, **kwargs)

    s.storage.load_fills = counted  # type: ignore[method-assign]

    async def not_restored(cid: str, poll_s: float) -> None:
        await asyncio.sleep(0.01)  # as after a start that restored no order: the journal tells
        return None

    s.gateway.wait_terminal = not_restored  # type: ignore[assignment, method-assign]
    rec = await s.executor.execute(s.opportunity(), SIZE)
    assert rec.outcome == "held", rec.reason
    await asyncio.sleep(0.1)  # the watch looks several times while the order is in doubt
    looked = len(fill_reads)

    s.venue.fetch_order, s.venue.cancel = s.speak  # type: ignore[attr-defined, method-assign]
    s.clock.advance_to(s.clock.now_ms() + 60_000)
    await s.orders.retry_unknown()
    for task in list(s.executor.held_legs._tasks.values()):
        await asyncio.wait_for(task, 5)

    (row,) = rows(s)
    assert row["outcome"] == "failed" and row["legs"]["held"] == {}
    assert len(resolved_events(s)) == 1
    assert looked == 0, fill_reads  # was: every look read the order's fills
    assert len(fill_reads) == 1  # the rewrite's, once
