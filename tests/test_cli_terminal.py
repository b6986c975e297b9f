"""The command line in a real terminal: progress bars, prompts and colours under a pty."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from node_support import write_slice
from pty_support import run_in_pty

EXE = Path(sys.executable).parent / "tradeguard"


def _short_config(tmp_path: Path, data: Path) -> Path:
    cfg = tmp_path / "short.toml"
    cfg.write_text(
        f"""
mode = "paper"
[node]
database_url = "sqlite:///{tmp_path / "tg.db"}"
kill_sentinel = "{tmp_path / "tg.kill"}"
checkpoint_every = 500
[[data]]
path = "{data}"
symbol = "BTC/USDT"
venue = "paper"
[[venues]]
name = "paper"
kind = "paper"
balances = {{ USDT = "10000" }}
[[venues.instruments]]
symbol = "BTC/USDT"
price_tick = "0.01"
amount_step = "0.00001"
min_notional = "5"
[[strategies]]
id = "ma_cross"
kind = "ma_crossover"
venue = "paper"
symbol = "BTC/USDT"
params = {{ fast = 5, slow = 20, order_usd = "90" }}
"""
    )
    return cfg


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
