"""The line a Ctrl-C ends a command with claims only what that command leaves safe: a command
that trades (run, arb run, pm arb run) names the database and the next start's reconciliation,
one that reads or asks (arb scan, pm markets, pm arb retry, backtest compare) claims nothing."""

from __future__ import annotations

import pytest

from tradeguard.cli.interrupted import interrupted_line


@pytest.mark.parametrize(
    ("argv", "left"),
    [
        (["run", "--config", "x.toml"], "committed so far is in the database"),
        (["arb", "run", "--config", "x.toml"], "committed so far is in the database"),
        (["pm", "arb", "run", "--config", "x.toml"], "committed so far is in the database"),
        (["backtest", "--config", "x.toml"], "marked INCOMPLETE"),
        (["sweep", "--config", "x.toml"], "the same command resumes"),
        (["sandbox", "--port", "0"], "lived in memory only"),
    ],
)
def test_a_command_that_leaves_something_safe_says_what(argv: list[str], left: str) -> None:
    line = interrupted_line(argv)
    assert line.startswith(f"tradeguard {argv[0]}") and left in line, line


@pytest.mark.parametrize(
    "argv",
    [
        ["arb", "scan", "--venue", "binance"],
        ["arb", "snapshot", "--venue", "binance"],
        ["pm", "markets", "--venue", "kalshi"],
        ["pm", "arb", "retry", "--max-loss", "2"],
        ["pm", "map", "check", "--config", "x.toml"],
        ["pm", "settlements", "--config", "x.toml"],
        ["backtest", "compare", "/runs/a", "/runs/b"],
    ],
)
def test_a_command_that_only_reads_claims_nothing_it_did_not_keep(argv: list[str]) -> None:
    # before: `arb scan` and every `pm` command told of orders and fills committed and a next
    # start reconciling, `backtest compare` of a run directory marked INCOMPLETE
    line = interrupted_line(argv)
    command = " ".join(w for w in argv[:3] if not w.startswith(("-", "/")))
    assert line == f"tradeguard {command}: stopped by Ctrl-C", line
