"""Child process: a sandbox node (`risk.on_loss_halt = "flatten"`) holding 0.002 BTC sees its
equity fall to half its peak: the drawdown breaker trips and asks for the flatten, which the
live loop's kill duty runs. The process SIGKILLs itself at one step of it (argv[2]):

- `mid_flatten`: the venue has taken the flatten's sell, the node has not heard back;
- `after_flatten`: the sell answered, the flatten's report not stored;
- `after_trip`: the breaker has tripped, nothing else ran (no await: no commit, no poll).
- `halt_file`: the flatten has started cancelling when `tradeguard kill` (no --flatten) writes
  the kill file; the node takes it, and dies before the flatten sold anything.

argv: config.json step. Prints {"held": amount} before the trip.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path

from kill_follow_support import child_node, die_once_sent, held
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.risk.kill import sentinel_line
from tradeguard.sandbox.testing import eventually

D = Decimal


def _die(*_: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def main() -> None:
    step = sys.argv[2]
    node, live = await child_node()
    await eventually(lambda: node.market.mid("BTC/USDT") == D(50000), 30)
    buy = await node.submit(OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, D("0.002"),
                                        OrderType.MARKET))  # fmt: skip
    assert buy.ok, buy.reason
    await eventually(lambda: held(node) > D("0.0019"), 30)
    print(json.dumps({"held": str(held(node))}), flush=True)
    if step == "mid_flatten":
        die_once_sent(node, lambda o: o.signal.get("reason") == "kill switch flatten",
                      lambda o: {"sent": o.client_order_id})  # fmt: skip
    elif step == "halt_file":
        sentinel = Path(node.config.node.kill_sentinel)

        async def halt_asked_meanwhile() -> None:
            sentinel.write_text(sentinel_line(False, "drill", "ops"))
            # taken and triggered in one synchronous poll: gone means asked
            await eventually(lambda: not sentinel.exists(), 30)
            _die()

        node.orders.cancel_all = halt_asked_meanwhile  # type: ignore[method-assign,assignment]
    else:
        node.kill_switch.finish = _die  # type: ignore[method-assign]
    risk, now = node.risk, node.clock.now_ms()
    equity = node.portfolio.equity()
    risk.observe_equity(now, equity * 2)  # the peak: twice the equity now
    risk.observe_equity(now + 1, equity)  # 50% below it: max_drawdown_pct trips
    assert risk.flatten_asked is not None or risk.last_kill is not None
    if step == "after_trip":
        _die()
    await live  # the kill duty takes the flatten; the process dies in it


if __name__ == "__main__":
    asyncio.run(main())
