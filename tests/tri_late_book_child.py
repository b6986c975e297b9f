"""Child process: a triangular node started on the sandbox after a recorded cycle's order was
filled while it was down. The start's reconciliation journals the fill; the node dies
(SIGKILL) while booking it into the record: the record's rewrite written, not committed.

argv: config.json
Prints one JSON line before dying: the record being rewritten (none: the start booked nothing).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from tradeguard.config import Config
from tradeguard.execution import gateway
from tradeguard.node import TradingNode
from tri_child_support import die, say


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    amend = gateway.amend_arb_execution

    def amend_then_die(storage: Any, record_id: int, row: Any) -> None:
        amend(storage, record_id, row)
        say({"booking": record_id})
        die()  # inside the record's commit: the fill journaled, the record as it was

    gateway.amend_arb_execution = amend_then_die  # type: ignore[assignment]
    node = TradingNode(cfg)
    node.orders.not_found_grace_ms = 0  # the restart comes after the venue's queueing grace
    await node.start()
    say({"booking": None})
    die()


asyncio.run(main())
