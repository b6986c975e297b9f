"""`tradeguard run` that SIGKILLs itself right after the replay commits the candle at a time.

    python replay_commit_kill_child.py TS run --until-end --db ... --config ...

The kill lands just after the commit whose cursor is the first candle at or past `TS` (epoch
ms): what that commit wrote is in the database, nothing after it.
"""

from __future__ import annotations

import os
import signal
import sys

import tradeguard.node.checkpoint as ckpt
from tradeguard.cli import run

at_ts = int(sys.argv.pop(1))
commit = ckpt.commit_candle


def commit_then_die(node, candles, i):  # type: ignore[no-untyped-def]
    commit(node, candles, i)
    if candles[i].ts >= at_ts:
        os.kill(os.getpid(), signal.SIGKILL)


ckpt.commit_candle = commit_then_die
sys.argv[0] = "tradeguard"
run()
