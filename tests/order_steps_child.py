"""Child process: a sandbox node sends a limit buy of 0.002 BTC at 49,500 (it rests) and
SIGKILLs itself at one step of the order's life (argv[2]):

- `journaled_not_sent`: the order's journal row committed, the venue not asked yet;
- `sent_not_heard`: the venue has taken it, the node has not heard back.

Before dying it prints the order's id and its journal row as another connection reads it
(what is committed): the kill lands after the journal's commit, not inside an open unit.

argv: config.json step.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from decimal import Decimal
from typing import Any

from kill_follow_support import child_node
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.sandbox.testing import eventually

D = Decimal


def committed_status(node: Any, cid: str) -> str | None:
    path = node.config.node.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:  # not the node's: sees only what is committed
        row = conn.execute("SELECT status FROM orders WHERE client_order_id = ?", (cid,)).fetchone()
    return None if row is None else str(row[0])


async def main() -> None:
    step = sys.argv[2]
    node, _ = await child_node()
    await eventually(lambda: node.market.mid("BTC/USDT") == D(50000), 30)
    venue = node.venues["binance"]
    send = venue.submit

    async def cut(order: Any) -> Any:
        if step == "sent_not_heard":
            await send(order)
        cid = order.client_order_id
        print(json.dumps({"order": cid, "journaled": committed_status(node, cid)}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    venue.submit = cut  # type: ignore[method-assign]
    await node.submit(
        OrderIntent(
            "manual", "binance", "BTC/USDT", Side.BUY, D("0.002"), OrderType.LIMIT, D("49500")
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
