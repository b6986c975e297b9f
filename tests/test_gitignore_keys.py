"""Every key file the documented sandbox commands write in the checkout is ignored by git."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tradeguard.cli.sandbox import DEFAULT_KEYS_FILE

ROOT = Path(__file__).resolve().parents[1]
DIALECTS = ("binance", "kraken", "kalshi", "polymarket")


def _default_keys_file(dialect: str) -> str:
    # as run_sandbox_command and _run_prediction_sandbox name it when --keys-file is not given
    return DEFAULT_KEYS_FILE if dialect == "binance" else f"tradeguard-{dialect}-keys.json"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_sandbox_keys_file_of_every_dialect_is_ignored(dialect: str) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    name = _default_keys_file(dialect)
    found = subprocess.run(["git", "check-ignore", "--no-index", "-q", name], cwd=ROOT, check=False)
    assert found.returncode == 0, f"{name} (tradeguard sandbox --dialect {dialect}) is not ignored"
