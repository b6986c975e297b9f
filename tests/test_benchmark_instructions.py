"""benchmarks/backtest_instructions.py: a usage error or a missing valgrind is a clear message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "backtest_instructions.py"


def _run(args: list[str], path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True, text=True, timeout=120, env={"PATH": path},
    )  # fmt: skip


def test_without_valgrind_it_says_so_and_prints_no_traceback(tmp_path: Path) -> None:
    done = _run([], str(tmp_path))  # a PATH without valgrind
    assert done.returncode != 0
    assert "valgrind" in done.stderr and "Traceback" not in done.stderr, done.stderr[-800:]
    assert done.stdout == ""


@pytest.mark.parametrize("args", [["--src"], ["--keep"]])
def test_an_option_without_its_directory_is_a_usage_error(args: list[str]) -> None:
    done = _run(args, "/usr/bin:/bin")
    assert done.returncode == 2, done.stderr[-800:]
    assert args[0] in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
