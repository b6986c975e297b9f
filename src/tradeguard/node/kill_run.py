"""The kill switch's work: cancel every open order on every venue, flatten when asked, report.

```python
request = node.kill_switch.trigger(reason, by, flatten)   # HALTED and stored, at once
report = await execute_kill(node, request)                # cancels, closes, the report
```

The live loop runs `execute_kill` as a task of its own (node.duties): a venue that hangs holds
the cancels, never the heartbeat nor the kill file.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from tradeguard.execution.held_halts import refusal
from tradeguard.risk.kill import KillRequest

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode

log = logging.getLogger(__name__)


async def execute_kill(node: TradingNode, request: KillRequest) -> dict[str, Any]:
    """Cancel every open order on every venue and, when `request` asks it, flatten; finish
    the kill's report, remove the kill file it took and return the report."""
    report = node.kill_switch.report(request)
    cancelled, failed = await node.orders.cancel_all()
    report.cancelled.extend(cancelled)
    report.failed.extend(failed)
    if request.flatten:
        # each close is capped around its own venue's price: subscribe where none streams
        # (a venue that cannot answer leaves its close to be denied and reported, as before)
        held = sorted({(p.venue, p.symbol) for p in node.portfolio.open_positions()})
        subscribe = (node.ensure_market_data(v, s) for v, s in held)
        await asyncio.gather(*subscribe, return_exceptions=True)
        from tradeguard.node.kill_follow import flatten_and_follow  # a kill that flattens

        await flatten_and_follow(node, report)
    node.kill_switch.finish(report)
    try:
        node.flush_audit()
    except SQLAlchemyError as exc:  # the database full: the report still goes to its asker
        log.error("kill switch: its audit events were not written (%s); the next commit "
                  "writes them", refusal(exc))  # fmt: skip
    node.kill_switch.release(request)  # the kill file it took, never one written since
    return report.to_json()
