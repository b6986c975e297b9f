"""Backups' test support: the console script, its environment, and a paper node's journal to
back up (`backup_fixtures.paper_db` gives each test a copy of one made per session)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from node_support import write_paper_toml, write_slice

EXE = Path(sys.executable).parent / "tradeguard"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TG_")}
    if "TG_DATA_DIR" in os.environ:
        env["TG_DATA_DIR"] = os.environ["TG_DATA_DIR"]
    return env | extra


def _paper_db(tmp_path: Path, data_dir: Path, rows: int = 3000) -> tuple[str, Path]:
    data = write_slice(data_dir, tmp_path / "btc.csv", rows)
    cfg = write_paper_toml(tmp_path, data)
    done = subprocess.run([EXE, "run", "--config", str(cfg), "--until-end"], env=_env(),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return str(cfg), tmp_path / "tg.db"
