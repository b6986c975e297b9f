"""The command line run in the test's own process: the same `main` the console script calls,
without a new interpreter importing the package again (seconds per start). Tests about the
process itself (signals, exit codes of the real entry point, a terminal) start one instead."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tradeguard.cli.main import main


@dataclass(frozen=True)
class Done:
    """What a finished command left: as `subprocess.CompletedProcess` names it."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Done:
    """Run `tradeguard ARGV...` in-process; argparse's exits are returned as codes."""
    capsys.readouterr()  # what the test printed before is not the command's
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return Done(code, out, err)
