"""A misspelt option is reported by the command it was given to: its usage line, its name in
the error, and the option it most likely meant; never the top-level usage, which lists only
the command typed (`usage: tradeguard [-h] {run} ...`) and none of its options."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pty_support import run_in_pty

EXE = Path(sys.executable).parent / "tradeguard"


@pytest.mark.parametrize(
    ("argv", "usage", "meant"),
    [
        (["run", "--confg", "examples/paper.toml"], "usage: tradeguard run ", "--config"),
        (["run", "--until-ends"], "usage: tradeguard run ", "--until-end"),
        (["status", "--jsn"], "usage: tradeguard status ", "--json"),
        (["bot", "list", "--confg", "x.toml"], "usage: tradeguard bot list ", "--config"),
        (["orders", "--limt=5"], "usage: tradeguard orders ", "--limit"),
        # a command with commands of its own took the typo's value for one of them:
        # "argument backtest_command: invalid choice: 'x.toml' (choose from 'compare')"
        (["backtest", "--confg", "x.toml"], "usage: tradeguard backtest ", "--config"),
        (
            ["backtest", "--out", "o", "--timeframes", "5m"],
            "usage: tradeguard backtest ",
            "--timeframe",
        ),
    ],
    ids=[
        "run-config",
        "run-until-end",
        "status-json",
        "bot-list",
        "orders-limit-equals",
        "backtest-config",
        "backtest-timeframe",
    ],
)
def test_a_misspelt_option_names_the_command_and_the_option_meant(tmp_path, argv, usage, meant):
    code, screen = run_in_pty([str(EXE), *argv], cwd=tmp_path, timeout_s=120)
    assert code == 2, screen
    assert "Traceback" not in screen
    assert usage in screen, screen
    assert "{" not in screen.splitlines()[0], screen  # not the top-level `{run} ...` usage
    command = usage.removeprefix("usage: ").strip()
    typo = argv[-1] if argv[-1].startswith("--") else argv[-2]
    assert f"{command}: error: unrecognized arguments: {typo}" in screen.replace("\r\n", " ")
    assert f"did you mean {meant}?" in screen.replace("\r\n", " "), screen


def test_a_stray_word_is_reported_by_its_command_without_a_guess(tmp_path):
    code, screen = run_in_pty([str(EXE), "status", "extra"], cwd=tmp_path, timeout_s=120)
    assert code == 2, screen
    assert "usage: tradeguard status " in screen, screen
    assert "tradeguard status: error: unrecognized arguments: extra" in screen, screen
    assert "did you mean" not in screen


def test_a_hidden_refused_option_is_never_the_one_meant(capsys):
    # `pm arb retry --token` is refused (a command line is visible to every user of the
    # machine) and hidden from the usage: a misspelt one must not be told to write it out.
    from tradeguard.cli.main import main

    with pytest.raises(SystemExit) as stop:
        main(["pm", "arb", "retry", "--tokn=x"])
    err = capsys.readouterr().err
    assert stop.value.code == 2, err
    assert "tradeguard pm arb retry: error: unrecognized arguments: --tokn=x" in err, err
    assert "--token" not in err, err
    with pytest.raises(SystemExit):
        main(["pm", "arb", "retry", "--jsn"])  # a shown option is still named
    assert "did you mean --json?" in capsys.readouterr().err
