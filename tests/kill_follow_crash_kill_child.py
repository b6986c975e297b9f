"""Child process: a sandbox node killed with flatten while a close of its position rests on the
venue (its cancel refused); the node SIGKILLs itself once the venue has taken the kill's own
flatten of what that close leaves, before it hears back (and before the kill ends).

argv: config.json. Prints {"listed": id, "sent": id} before dying.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kill_follow_support import child_node, die_once_sent, kill_with_a_close_resting
from tradeguard.model.enums import OrderType


async def main() -> None:
    node, live = await child_node()

    def kill_flatten(order: Any) -> bool:
        return bool(
            order.signal.get("reason") == "kill switch flatten"
            and not order.signal.get("follow_up")
        )

    def listed_and_sent(order: Any) -> dict[str, str]:
        [listed] = [o.client_order_id for o in node.orders.open.values()
                    if o.type is OrderType.LIMIT]  # fmt: skip
        return {"listed": listed, "sent": order.client_order_id}

    die_once_sent(node, kill_flatten, listed_and_sent)
    await kill_with_a_close_resting(node)  # the kill's flatten kills the process
    await live


if __name__ == "__main__":
    asyncio.run(main())
