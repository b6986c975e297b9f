"""Child process: a triangular node on the sandbox holds a cycle on a first leg the venue
executed and never answered for; once the venue answers again and the order path learns the
order's end, the node dies (SIGKILL) before the held record is rewritten.

argv: config.json base_url [announcing] (the sandbox, its admin endpoints under it; with
`announcing` the node dies instead as the rewritten record's `arb.resolved` event is published,
after the rewrite committed)
The sandbox's faults are set by the test: the first order placement's answer dropped and its
execution report withheld, then every REST request answered 503. This process lifts the 503s
through the sandbox's admin endpoint once the cycle is recorded held.
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
    _, opp = await scanned_cycle(node, venue, executor)
    rec = await executor.execute(opp, Decimal(20))
    cid = rec.legs[0].client_order_id
    held = {a: str(q) for a, q in rec.held.items()}
    say({"outcome": rec.outcome, "held": held, "cid": cid, "reason": rec.reason})
    amend = executor.gateway.amend_execution

    def die_before_the_record(*args: Any, **kw: Any) -> bool:  # the order ended; no record yet
        say({"amending": cid})
        die()
        return bool(amend(*args, **kw))

    if sys.argv[3:] == ["announcing"]:  # dies as the rewritten record's event is published
        from tradeguard.model.events import EventKind

        publish = node.bus.publish

        def die_announcing(event: Any) -> None:
            if event.kind == EventKind.ARB_RESOLVED:
                say({"announcing": cid})
                die()
            publish(event)

        node.bus.publish = die_announcing  # type: ignore[method-assign]
    else:
        executor.gateway.amend_execution = die_before_the_record
    url = f"{sys.argv[2]}/admin/faults"
    async with aiohttp.ClientSession() as http, http.post(url, json={"http_5xx_rate": 0}) as r:
        assert r.status == 200, await r.text()  # the venue answers again
    for _ in range(200):
        await node.orders.retry_unknown()
        await asyncio.sleep(0.05)
    say({"unexpected": "never amended"})
    die()


asyncio.run(main())
