"""The command line in a real terminal: progress bars, prompts and colours under a pty."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from node_support import write_paper_toml, write_slice
from pty_support import run_in_pty

EXE = Path(sys.executable).parent / "tradeguard"


def _short_config(tmp_path: Path, data: Path) -> Path:
    return write_paper_toml(tmp_path, data, node_extra="checkpoint_every = 500", name="short.toml")


def test_run_until_end_in_a_terminal_shows_the_summary_fresh_and_resumed(tmp_path, data_dir):
    data = write_slice(data_dir, tmp_path / "btc.csv", 3000)
    cfg = str(_short_config(tmp_path, data))
    code, screen = run_in_pty([str(EXE), "run", "--until-end", "--config", cfg], cwd=tmp_path)
    assert code == 0, screen
    assert "Traceback" not in screen
    assert "Run summary" in screen and "3,000" in screen
    code, screen = run_in_pty([str(EXE), "run", "--until-end", "--config", cfg], cwd=tmp_path)
    assert code == 0, screen
    assert "Resuming" in screen and "Run summary (paper, resumed)" in screen


@pytest.mark.slow
def test_quick_start_command_in_a_terminal_replays_the_bundled_month(tmp_path, data_dir):
    env = {"TG_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    code, screen = run_in_pty([str(EXE), "run", "--until-end"], cwd=tmp_path, env=env)
    assert code == 0, screen
    assert "Run summary" in screen and "45,031" in screen and "Traceback" not in screen
