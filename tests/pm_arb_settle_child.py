"""Child process: a cross_venue node holding a pair whose two markets have resolved, SIGKILLed
right after its settlement check told the risk engine, before any later checkpoint.

argv: config.json [announcing]
With `announcing`, the process dies instead as the settlement's `arb.settled` event is put on
the bus, after the settlement committed and before any subscriber hears of it.
The start books the settlement fills (the strategy learns both resolutions) and a checkpoint
keeps the strategy's book with the pair still held; the settlement check then settles it and
the process dies. Prints one JSON line first: the settlement events and the engine's streak.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from tradeguard.config import Config
from tradeguard.node import TradingNode
from tradeguard.node.checkpoint import checkpoint


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = TradingNode(cfg)
    if sys.argv[2:] == ["announcing"]:
        from tradeguard.model.events import EventKind

        publish = node.bus.publish

        def die_announcing(event, publish=publish):  # type: ignore[no-untyped-def]
            if event.kind == EventKind.ARB_SETTLED:
                print(json.dumps({"announcing": event.data["pnl"]}), flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            publish(event)

        node.bus.publish = die_announcing  # type: ignore[method-assign]
    await node.start()
    strat = node.strategies[0]
    checkpoint(node, node.clock.now_ms())  # the pair held, both resolutions known
    events = strat.check_settlements()  # type: ignore[attr-defined]
    print(json.dumps({"settled": [e.data["pnl"] for e in events],
                      "streak": node.risk.consecutive_losses}), flush=True)  # fmt: skip
    os.kill(os.getpid(), signal.SIGKILL)


asyncio.run(main())
