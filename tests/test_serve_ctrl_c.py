"""Ctrl-C stops `tradeguard serve` with exit 130, as it stops every other command (README: 130
when Ctrl-C stops it); a SIGTERM (a service manager's stop) ends it with 0, as it ends `run`.
Serve answered 0 to both."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from node_support import write_paper_toml, write_slice
from pty_support import PtySession

EXE = Path(sys.executable).parent / "tradeguard"


def _serving(tmp_path: Path, data_dir: Path) -> PtySession:
    data = write_slice(data_dir, tmp_path / "btc.csv", 200)
    cfg = write_paper_toml(tmp_path, data)
    session = PtySession([str(EXE), "serve", "--config", str(cfg), "--port", "0"], cwd=tmp_path)
    session.expect("Ctrl-C stops.")
    return session


def test_ctrl_c_stops_serve_with_exit_130(tmp_path: Path, data_dir: Path) -> None:
    session = _serving(tmp_path, data_dir)
    session.type(b"\x03")
    code, screen = session.finish()
    assert code == 130, screen
    assert "Traceback" not in screen


def test_sigterm_stops_serve_with_exit_0(tmp_path: Path, data_dir: Path) -> None:
    session = _serving(tmp_path, data_dir)
    session.proc.send_signal(signal.SIGTERM)
    code, screen = session.finish()
    assert code == 0, screen
    assert "Traceback" not in screen
