"""Child process: a sandbox node killed with flatten while a close of its position rests on the
venue (its cancel refused); the node SIGKILLs itself once the venue has taken the kill's own
flatten of what that close leaves, before it hears back (and before the kill ends).

argv: config.json. Prints {"listed": id, "sent": id} before dying.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from kill_follow_support import follow_node, kill_with_a_close_resting
from tradeguard.config import Config
from tradeguard.model.enums import OrderType
from tradeguard.sandbox.testing import eventually


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = follow_node(cfg)
    await node.start()
    live = asyncio.create_task(node.run_live(duration_s=120))
    await eventually(lambda: node.market.mid("BTC/USDT") is not None, 30)
    venue = node.venues["binance"]
    send = venue.submit

    async def send_then_die(order: Any) -> Any:
        if order.signal.get("reason") != "kill switch flatten" or order.signal.get("follow_up"):
            return await send(order)
        await send(order)
        [listed] = [o.client_order_id for o in node.orders.open.values()
                    if o.type is OrderType.LIMIT]  # fmt: skip
        print(json.dumps({"listed": listed, "sent": order.client_order_id}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    venue.submit = send_then_die  # type: ignore[method-assign]
    await kill_with_a_close_resting(node)  # the kill's flatten kills the process
    await live


if __name__ == "__main__":
    asyncio.run(main())
