"""Child process: run a sandbox node's live loop; the test deposits on the venue, and the
periodic reconciliation's balance commit (the one holding the deposit's adjustment) meets a
SIGKILL.

argv: config.json at-commit|after-failure
- `at-commit`: the process dies inside that commit, before it lands (with the balance sync on
  and the reconciliation rare, the sync's commit of the deposit);
- `after-failure`: that commit fails (a locked database), the reconciliation fails and halts
  trading, and the process dies once the halt is stored.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path

from sqlalchemy.exc import OperationalError

from tradeguard.config import Config
from tradeguard.model.enums import TradingState
from tradeguard.model.events import Event, EventKind
from tradeguard.node import TradingNode


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    mode = sys.argv[2]
    node = TradingNode(cfg)
    await node.start()

    def at_commit() -> None:
        if not node.storage.load_balance_adjustments("binance"):
            return
        if mode == "at-commit":
            os.kill(os.getpid(), signal.SIGKILL)
        raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))

    def on_event(event: Event) -> None:
        if event.kind == EventKind.RECONCILE_FAILED and node.risk.state is TradingState.HALTED:
            print(json.dumps({"halted": node.risk.state_reason}), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    node.storage.add_commit_hook(at_commit)
    node.bus.subscribe(on_event)
    print(json.dumps({"started": True}), flush=True)
    await node.run_live(duration_s=90)
    print(json.dumps({"unexpected": "the live run ended"}), flush=True)


asyncio.run(main())
