"""The arbitrage executor benchmark refuses counts it could report no figure for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "triangular_exec.py"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--updates", "200"], "--updates 200: must be at least 201"),
        (["--paper", "0"], "--paper 0: must be at least 1"),
        (["--sandbox", "-1"], "--sandbox -1: must be at least 0"),
    ],
)
def test_a_count_with_no_sample_is_a_usage_error(args: list[str], said: str) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr[-500:]
    assert said in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
