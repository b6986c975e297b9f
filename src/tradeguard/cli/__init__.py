"""The `tradeguard` command line.

`main` is the console script; `common` holds the helpers every command module shares.
"""

from tradeguard.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
