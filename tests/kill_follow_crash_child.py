"""Child process: a sandbox node killed with flatten while a close of its position rests on the
venue (its cancel refused); the close is then cancelled, and the node SIGKILLs itself once the
venue has taken the follow-up's flatten of the rest, before it hears back.

argv: config.json. Prints {"listed": id}, then {"sent": id, "amount": "..."} before dying.
"""

from __future__ import annotations

import asyncio
import json

from kill_follow_support import child_node, die_once_sent, kill_with_a_close_resting
from tradeguard.model.money import plain
from tradeguard.sandbox.testing import eventually


async def main() -> None:
    node, live = await child_node()
    die_once_sent(
        node,
        lambda order: bool(order.signal.get("follow_up")),
        lambda order: {"sent": order.client_order_id, "amount": plain(order.amount)},
    )
    listed, _ = await kill_with_a_close_resting(node)
    print(json.dumps({"listed": listed}), flush=True)

    def flattened() -> bool:  # the kill's own flatten is done
        return not [o for o in node.orders.open.values() if o.signal.get("reason")]

    await eventually(flattened, 30)
    await node.orders.cancel(listed)  # the close ends: cancelled, nothing of it filled
    await live  # the follow-up's send kills the process


if __name__ == "__main__":
    asyncio.run(main())
