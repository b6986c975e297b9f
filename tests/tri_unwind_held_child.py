"""Child process: a triangular node on the sandbox whose cycle stops after its first leg (the
second's book moved beyond the slippage bound: not sent) and whose unwind hop the venue executes
without answering: the hop's answer dropped, its execution report withheld, then every REST
request answered 503, so the hop is still in doubt after leg_timeout_s and its cancel and the
cycle is recorded `held` on it. The node dies (SIGKILL) right after that record.

argv: config.json base_url (the sandbox, its admin endpoints under it)
Prints one JSON line before dying: the record's outcome, what it holds, the hop's order id.
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from typing import Any

import aiohttp

from tri_child_support import die, say, scanned_cycle, started_node


async def main() -> None:
    node, venue, executor = await started_node()
    base, opp = await scanned_cycle(node, venue, executor, middle_above_bid=True)
    send = venue.submit
    url = f"{sys.argv[2]}/admin/faults"
    dropped: list[str] = []

    async def unanswered_hop(order: Any) -> Any:
        if order.signal.get("arb") == "unwind" and not dropped:  # executed; its answer never comes
            dropped.append(order.client_order_id)
            faults = {"drop_response_after_execute": 1, "drop_execution_reports": 1}
            async with aiohttp.ClientSession() as http, http.post(url, json=faults) as r:
                assert r.status == 200, await r.text()
        return await send(order)

    venue.submit = unanswered_hop  # type: ignore[method-assign]
    rec = await executor.execute(opp, Decimal(20))
    hops = [u.client_order_id for u in rec.unwinds]
    say({"outcome": rec.outcome, "held": {a: str(q) for a, q in rec.held.items()},
         "hops": hops, "dropped": dropped, "base": base, "reason": rec.reason,
         "record_id": rec.record_id})  # fmt: skip
    die()  # the hop still held, unanswered


asyncio.run(main())
