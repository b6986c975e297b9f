"""The `tradeguard` command line.

`run` is the console script (`main` returns the exit code instead); `common` holds the helpers
every command module shares.
"""

import gc
import os
import sys

# Loading the command line creates thousands of objects that live as long as the process (modules,
# classes, functions): the cyclic collector would scan them some thirty times over (~5 ms of
# every command's start) for nothing to free. It runs rarely while they load, as usual after.
_thresholds = gc.get_threshold()
gc.set_threshold(200_000, *_thresholds[1:])
try:
    from tradeguard.cli.main import build_parser, main, run
except KeyboardInterrupt:
    if os.path.basename(sys.argv[0]) != "tradeguard":
        raise  # imported by other code: its Ctrl-C is its own
    # The console script, stopped as it loads: its line and 130, as every later Ctrl-C gets
    # (a traceback, and the process killed by the signal, otherwise).
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from tradeguard.cli.interrupted import interrupted_line

    print(interrupted_line(sys.argv[1:]), file=sys.stderr, flush=True)
    sys.exit(130)
finally:
    gc.set_threshold(*_thresholds)

__all__ = ["build_parser", "main", "run"]
