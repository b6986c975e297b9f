"""Child process: a sandbox node holding 0.002 BTC with a buy resting on the venue is killed
with flatten, and SIGKILLs itself at one step of the kill (argv[2]):

- `after_trigger`: the kill switch has stored its trigger (HALTED, then the request), no await
  since (no later commit);
- `before_cancel`: HALTED is stored, nothing cancelled yet (`before_cancel_no_flatten`: the
  same for a kill without flatten);
- `after_cancel`: the resting buy cancelled, no flatten stored yet;
- `mid_flatten`: the venue has taken the flatten, the node has not heard back;
- `after_flatten`: the flatten answered, the kill's report not stored;
- `overlap`: a kill without flatten is cancelling when a second kill, with flatten, is asked
  for; the first ends (its report stored) while the second's cancels wait or hang, and the
  process dies there;
- `restart_mid_flatten`, `restart_before_finish`: a node started on the database a kill was
  cut short in, dying while that start finishes the kill: once the venue has taken its
  flatten, or before its report is stored.

argv: config.json step. Prints {"resting": id} before the kill.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from kill_follow_support import child_node, die_once_sent, follow_node, held
from tradeguard.config import Config
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.sandbox.testing import eventually

D = Decimal


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def restart(step: str) -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = follow_node(cfg)
    if step == "restart_mid_flatten":
        die_once_sent(node, lambda o: o.signal.get("reason") == "kill switch flatten",
                      lambda o: {"sent": o.client_order_id})  # fmt: skip
    else:
        node.kill_switch.finish = lambda report: _die()  # type: ignore[method-assign]
    await node.start()  # finishes the kill cut short; dies in it
    print(json.dumps({"alive": True}), flush=True)  # not reached when the kill is run


async def main() -> None:
    step = sys.argv[2]
    if step.startswith("restart_"):
        await restart(step)
        return
    node, live = await child_node()
    await eventually(lambda: node.market.mid("BTC/USDT") == D(50000), 30)
    buy = await node.submit(OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, D("0.002"),
                                        OrderType.MARKET))  # fmt: skip
    assert buy.ok, buy.reason
    await eventually(lambda: held(node) > D("0.0019"), 30)
    rest = await node.submit(OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, D("0.001"),
                                         OrderType.LIMIT, D("49500")))  # fmt: skip
    assert rest.ok and rest.order is not None, rest.reason
    print(json.dumps({"resting": rest.order.client_order_id}), flush=True)
    cancel_all = node.orders.cancel_all

    async def cut_cancel(venue_name: str | None = None) -> Any:
        if step.startswith("before_cancel"):
            _die()
        done = await cancel_all(venue_name)
        if step == "after_cancel":
            _die()
        return done

    node.orders.cancel_all = cut_cancel  # type: ignore[method-assign]
    if step == "overlap":
        await _overlap(node, cancel_all)
        return
    if step == "mid_flatten":
        die_once_sent(node, lambda o: o.signal.get("reason") == "kill switch flatten",
                      lambda o: {"sent": o.client_order_id})  # fmt: skip
    if step == "after_flatten":
        node.kill_switch.finish = lambda report: _die()  # type: ignore[method-assign]
    if step == "after_trigger":
        trigger = node.kill_switch.trigger

        def trigger_then_die(reason: str, by: str, flatten: bool = False) -> Any:
            trigger(reason, by, flatten)
            _die()

        node.kill_switch.trigger = trigger_then_die  # type: ignore[method-assign]
    flatten = step != "before_cancel_no_flatten"
    await node.kill(reason="cut short", by="pytest", flatten=flatten)
    await live


async def _overlap(node: Any, cancel_all: Any) -> None:
    second_asked = asyncio.Event()
    calls = 0

    async def slow_cancel(venue_name: str | None = None) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:  # the first kill's cancels answer once the second kill is asked for
            await second_asked.wait()
            return await cancel_all(venue_name)
        await asyncio.Event().wait()  # the second kill's cancels never answer

    trigger = node.kill_switch.trigger

    def trigger_asked(reason: str, by: str, flatten: bool = False) -> Any:
        request = trigger(reason, by, flatten)  # stored (HALTED) before its cancels queue
        if reason == "second":
            second_asked.set()
        return request

    node.orders.cancel_all = slow_cancel
    node.kill_switch.trigger = trigger_asked
    finish = node.kill_switch.finish

    def finish_then_die(report: Any) -> None:
        finish(report)
        _die()

    node.kill_switch.finish = finish_then_die
    first = asyncio.create_task(node.kill(reason="first", by="pytest", flatten=False))
    await asyncio.sleep(0.05)
    await node.kill(reason="second", by="pytest", flatten=True)
    await first


if __name__ == "__main__":
    asyncio.run(main())
