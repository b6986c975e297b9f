"""The `tradeguard` command line.

`run` is the console script (`main` returns the exit code instead); `common` holds the helpers
every command module shares.
"""

import gc

# Loading the command line creates thousands of objects that live as long as the process (modules,
# classes, functions): the cyclic collector would scan them some thirty times over (~5 ms of
# every command's start) for nothing to free. It runs rarely while they load, as usual after.
_thresholds = gc.get_threshold()
gc.set_threshold(200_000, *_thresholds[1:])
try:
    from tradeguard.cli.main import build_parser, main, run
finally:
    gc.set_threshold(*_thresholds)

__all__ = ["build_parser", "main", "run"]
