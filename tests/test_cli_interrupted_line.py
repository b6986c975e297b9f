"""The line a Ctrl-C ends a command with claims only what that command leaves safe: a command
that trades (run, arb run, pm arb run) names the database and the next start's reconciliation,
one that reads or asks (arb scan, pm markets, pm arb retry, backtest compare) claims nothing."""

from __future__ import annotations

import importlib
import select
import sys
import time

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


def test_the_ctrl_c_line_starts_a_line_of_its_own_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Ctrl-C came between a banner line's text and its newline (the sandbox's, as it
    printed its URLs): the line was glued to that text, and to the `^C` the terminal echoed."""
    import io
    import os

    cli_main = importlib.import_module("tradeguard.cli.main")  # the module, not its `main`
    leader, follower = os.openpty()
    err = io.TextIOWrapper(os.fdopen(follower, "wb", buffering=0), write_through=True)
    monkeypatch.setattr(sys, "stderr", err)
    try:
        err.write("admin          http://127.0.0.1:1/admin/faults")  # its newline never came
        assert cli_main._say_interrupted(["sandbox"], KeyboardInterrupt()) == 130
        shown = ""
        deadline = time.monotonic() + 10
        while "Ctrl-C" not in shown and time.monotonic() < deadline:  # each write comes on its own
            if select.select([leader], [], [], 0.1)[0]:
                shown += os.read(leader, 65536).decode().replace("\r", "")
    finally:
        err.close()
        os.close(leader)
    lines = shown.splitlines()
    assert lines[0] == "admin          http://127.0.0.1:1/admin/faults", shown
    assert lines[1].startswith("tradeguard sandbox: stopped by Ctrl-C"), shown
