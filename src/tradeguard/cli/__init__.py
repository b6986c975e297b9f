"""The `tradeguard` command line.

`run` is the console script (`main` returns the exit code instead); `common` holds the helpers
every command module shares.
"""

from tradeguard.cli.main import build_parser, main, run

__all__ = ["build_parser", "main", "run"]
