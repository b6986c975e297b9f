"""Child process: a node is built on the config at argv[1] (its strategies stored for `bot add`
beside it), then SIGKILLs itself: nothing of its close runs."""

from __future__ import annotations

import os
import signal
import sys

from tradeguard.config import load_config
from tradeguard.node import TradingNode

if __name__ == "__main__":
    node = TradingNode(load_config(sys.argv[1]))
    os.kill(os.getpid(), signal.SIGKILL)
