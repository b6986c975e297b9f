"""scripts/test.sh says what it does, step by step; scripts/services.sh names each service."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _stub(path: Path, name: str) -> None:
    path.write_text(f'#!/bin/sh\necho "{name} $*"\n')
    path.chmod(0o755)


def _test_sh(tmp_path: Path, workers: str | None) -> subprocess.CompletedProcess[str]:
    """scripts/test.sh -q -x in a copy of the repo whose tools echo their arguments."""
    if not (tmp_path / "scripts").is_dir():
        (tmp_path / "scripts").mkdir()
        for script in ("test.sh", "services.sh", "fetch_uniswap.sh"):
            shutil.copy(ROOT / "scripts" / script, tmp_path / "scripts" / script)
        bin_dir = tmp_path / ".venv" / "bin"
        bin_dir.mkdir(parents=True)
        for tool in ("python", "ruff", "mypy", "pytest"):
            _stub(bin_dir / tool, tool)  # hand-written stand-ins: the script's order is under test
    env = {k: v for k, v in os.environ.items() if k != "TG_TEST_WORKERS"}
    if workers is not None:
        env["TG_TEST_WORKERS"] = workers
    return subprocess.run(
        ["bash", str(tmp_path / "scripts" / "test.sh"), "-q", "-x"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def test_test_script_announces_each_step_before_running_it(tmp_path):
    proc = _test_sh(tmp_path, None)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    steps = [line for line in lines if line.startswith("[")]
    assert [s[:5] for s in steps] == [f"[{i}/6]" for i in range(1, 7)]
    order = [
        "[1/6] using the virtual environment .venv",
        "[2/6] installing tradeguard",
        "python -m pip install --quiet --upgrade pip",
        "[3/6] checking PostgreSQL",
        "  PostgreSQL: running on 127.0.0.1:5432",
        "  Chromium: ",
        "[4/6] ruff",
        "ruff check src tests benchmarks",
        "[5/6] mypy",
        "mypy src/tradeguard",
        "[6/6] pytest -n 2 --dist worksteal -q -x",  # two xdist workers unless told otherwise
        "pytest -n 2 --dist worksteal -q -x",
    ]
    positions = [next(i for i, line in enumerate(lines) if line.startswith(o)) for o in order]
    assert positions == sorted(positions)


def test_test_script_runs_the_tests_in_one_process_with_zero_workers(tmp_path):
    proc = _test_sh(tmp_path, "0")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-2:] == ["[6/6] pytest -q -x", "pytest -q -x"], proc.stdout
    for bad in ("two", "-1", "100"):  # refused before anything is installed
        proc = _test_sh(tmp_path, bad)
        assert proc.returncode == 2 and proc.stdout == "", (bad, proc.stdout)
        assert proc.stderr == (
            f"scripts/test.sh: TG_TEST_WORKERS={bad} is not a number of workers; allowed 0..99 "
            "(0 runs the tests in one process)\n"
        ), proc.stderr
