"""Child process: a paper node takes the kill file and SIGKILLs itself at one step (argv[2]):

- `taken`: the file renamed to its taken name, the kill not asked for (nothing stored);
- `stored`: the kill stored (HALTED), nothing cancelled yet;
- `finished`: the kill done and its report stored, the taken file not removed yet.

argv: tmp folder (tg.db, btc.csv, tg.kill) step.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from node_support import node_for, paper_config


def _die(*_: Any, **__: Any) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)


async def main(tmp: Path, step: str) -> None:
    cfg = paper_config(f"sqlite:///{tmp / 'tg.db'}", tmp / "btc.csv", strategies=False, tmp=tmp)
    node = node_for(cfg)
    await node.start()
    await node.run()
    if step == "taken":
        node.kill_switch.trigger = _die  # type: ignore[method-assign]
    elif step == "stored":
        node.orders.cancel_all = _die  # type: ignore[method-assign]
    else:
        node.kill_switch.release = _die  # type: ignore[method-assign]
    Path(cfg.node.kill_sentinel).write_text("halt: drill\n")
    await node.poll_kill_sentinel()
    raise SystemExit("the node was not killed at the step")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
