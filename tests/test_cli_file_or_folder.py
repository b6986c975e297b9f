"""A file where a command writes a folder, or a folder where it writes a file, is a bad
argument (exit 2) said before the command starts its work: `chain --deployment-file /tmp`
deployed the contracts and then failed "Is a directory" (exit 1), and `arb snapshot --out-dir
FILE` fetched the venue's markets and then failed "File exists" (exit 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXE = Path(sys.executable).parent / "tradeguard"
SNAPSHOT_CONFIG = (
    'mode = "sandbox"\nstrategies = []\n[[venues]]\nname = "sbx"\nkind = "ccxt"\n'
    'exchange = "binance"\nrest_url = "http://127.0.0.1:9"\nsymbols = ["BTC/USDT"]\n'
)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["chain", "--port", "0", "--deployment-file", "sub"],
         "--deployment-file sub is a folder; give a file"),
        (["arb", "snapshot", "--config", "c.toml", "--out-dir", "afile"],
         "--out-dir afile: afile is a file; give a folder"),
        (["arb", "snapshot", "--config", "c.toml", "--out-dir", "afile/x"],
         "--out-dir afile/x: afile is a file; give a folder"),
    ],
)  # fmt: skip
def test_a_file_for_a_folder_or_a_folder_for_a_file_is_a_bad_argument(
    tmp_path: Path, argv: list[str], said: str
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "afile").write_text("x")
    (tmp_path / "c.toml").write_text(SNAPSHOT_CONFIG)
    done = subprocess.run(
        [str(EXE), *argv], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    err = done.stderr.strip()
    assert done.returncode == 2, err
    assert err == f"tradeguard: {said}" or err.startswith(f"tradeguard: {said}"), err
    assert len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "c.toml", "sub"]
