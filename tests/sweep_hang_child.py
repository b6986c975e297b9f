"""`tradeguard sweep ARGS...` whose process pool never finishes stopping once Ctrl-C stops it:
as a worker that will not end, or a Ray that will not shut down."""

from __future__ import annotations

import sys
import threading

from tradeguard.backtest import pools
from tradeguard.cli.main import run


def _hang(self: pools.ProcessPool, interrupted: bool = False) -> None:
    if interrupted:
        threading.Event().wait()  # never set


pools.ProcessPool.close = _hang  # type: ignore[method-assign]
if __name__ == "__main__":  # a spawned pool worker imports this file again: it must not sweep
    sys.argv = ["tradeguard", *sys.argv[1:]]
    run()
