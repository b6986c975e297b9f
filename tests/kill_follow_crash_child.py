"""Child process: a sandbox node killed with flatten while a close of its position rests on the
venue (its cancel refused); the close is then cancelled, and the node SIGKILLs itself once the
venue has taken the follow-up's flatten of the rest, before it hears back.

argv: config.json. Prints {"listed": id}, then {"sent": id, "amount": "..."} before dying.
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
from tradeguard.model.money import plain
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
        if not order.signal.get("follow_up"):
            return await send(order)
        await send(order)
        print(json.dumps({"sent": order.client_order_id, "amount": plain(order.amount)}),
              flush=True)  # fmt: skip
        os.kill(os.getpid(), signal.SIGKILL)

    venue.submit = send_then_die  # type: ignore[method-assign]
    listed, _ = await kill_with_a_close_resting(node)
    print(json.dumps({"listed": listed}), flush=True)

    def flattened() -> bool:  # the kill's own flatten is done
        return not [o for o in node.orders.open.values() if o.signal.get("reason")]

    await eventually(flattened, 30)
    await node.orders.cancel(listed)  # the close ends: cancelled, nothing of it filled
    await live  # the follow-up's send kills the process


if __name__ == "__main__":
    asyncio.run(main())
