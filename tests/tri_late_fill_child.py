"""Child process: a triangular node on the sandbox whose first leg's send times out without
reaching the venue; queries find no such order, so the leg is `rejected` and the cycle recorded
with nothing traded. The node dies (SIGKILL) with the order still on its way: the parent
delivers it to the venue while the node is down.

argv: config.json base_url (the sandbox)
Prints one JSON line before dying: the record's id and outcome, the leg's order id, its asset.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from tradeguard.model.errors import AmbiguousVenueError
from tri_child_support import VENUE, die, say, scanned_cycle, started_node


async def main() -> None:
    # not_found_grace_ms 0: the venue's "no such order" is taken at once
    node, venue, executor = await started_node(not_found_grace_ms=0)
    base, opp = await scanned_cycle(node, venue, executor)
    send = venue.submit
    held_back: list[Any] = []

    async def queued(order: Any) -> Any:
        if not held_back:  # the first leg: lost on the way, for now
            held_back.append(order)
            raise AmbiguousVenueError(VENUE, f"timeout sending {order.client_order_id}")
        return await send(order)

    venue.submit = queued  # type: ignore[method-assign]
    rec = await executor.execute(opp, Decimal(20))
    [order] = held_back
    say({"outcome": rec.outcome, "status": rec.legs[0].status, "record_id": rec.record_id,
         "cid": order.client_order_id, "base": base})  # fmt: skip
    die()  # the order still on its way to the venue


asyncio.run(main())
