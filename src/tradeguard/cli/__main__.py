"""`python -m tradeguard.cli`: the same as the `tradeguard` console script."""

from tradeguard.cli.main import run

run()
