"""Child process: run a sandbox node's live loop with its database refusing every write from
before it says it started (the test then trades by hand on the account); once a periodic
reconciliation has failed and trading is HALTED, the process SIGKILLs itself (nothing it kept
to write again is written).

argv: config.json
stdout: {"started": true} once the database refuses writes, then {"halted": reason}
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from db_faults import FailingWrites, journal_order
from tradeguard.config import Config
from tradeguard.model.enums import TradingState
from tradeguard.model.events import Event, EventKind
from tradeguard.node import TradingNode


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = TradingNode(cfg)
    await node.start()
    await journal_order(node)  # its symbol's fills are caught up by reconciliations
    faults = FailingWrites(node.storage)
    faults.locked = True  # from before the trade's stream message: its commit is refused too

    def on_event(event: Event) -> None:
        if event.kind == EventKind.RECONCILE_FAILED and node.risk.state is TradingState.HALTED:
            print(json.dumps({"halted": event.data["reason"]}), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    node.bus.subscribe(on_event)
    print(json.dumps({"started": True}), flush=True)
    await node.run_live(duration_s=90)
    print(json.dumps({"unexpected": "the live run ended"}), flush=True)


asyncio.run(main())
