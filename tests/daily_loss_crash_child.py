"""Child process: a sandbox node HALTED by the operator's kill switch sees its equity fall
through the daily loss limit (the breaker trips under that halt: it records the day's halt,
which no resume may lift before the next UTC day), then SIGKILLs itself at once: no await,
so no later commit writes what the trip did not write itself.

argv: config.json. Prints {"day": n} (the UTC day number of the trip) before dying.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal

from kill_follow_support import child_node


async def main() -> None:
    node, _ = await child_node()
    risk = node.risk
    node.kill_switch.trigger("ops check", "pytest")  # the operator's halt, stored at once
    await asyncio.sleep(0)
    now = node.clock.now_ms()
    equity = node.portfolio.equity()
    risk.observe_equity(now, equity)  # the day's opening equity is set from here
    assert risk.day_start_equity is not None
    limit = risk._daily_limit(risk.day_start_equity)
    risk.observe_equity(now + 1, risk.day_start_equity - limit * 2)  # twice the limit lost
    assert risk.daily_loss_halt_day is not None
    print(json.dumps({"day": risk.daily_loss_halt_day}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    asyncio.run(main())
