"""`tradeguard serve` runs a node: it takes the database's writer lock like `run`, so a serve
beside a running node, or a run beside a serving one, is refused at once naming the holder."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

from cli_support import Done, run_cli
from node_support import write_paper_toml, write_slice

EXE = Path(sys.executable).parent / "tradeguard"


def _refused_by(proc: Done, pid: int) -> None:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "already written by another tradeguard node" in err
    assert f"pid {pid} on {socket.gethostname()} since " in err


def _serving(cfg: Path, cwd: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [str(EXE), "serve", "--config", str(cfg), "--port", "0"],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:  # until it says it serves (or it died)
        if "tradeguard API and dashboard on" in line:
            return proc
    proc.wait(timeout=30)
    raise AssertionError(proc.stderr.read() if proc.stderr else "serve ended")


def test_serve_and_run_on_one_database_refuse_each_other_naming_the_holder(
    tmp_path: Path, data_dir: Path, capsys, monkeypatch
) -> None:
    # The serving and the holding node are processes of their own (a pid apart from this
    # one's to name); the commands refused beside them run in this process.
    monkeypatch.chdir(tmp_path)

    def _tg(*args: str) -> Done:
        return run_cli(capsys, *args)

    data = write_slice(data_dir, tmp_path / "btc.csv", 1500)
    cfg = write_paper_toml(tmp_path, data)
    assert _tg("run", "--config", str(cfg), "--until-end").returncode == 0

    server = _serving(cfg, tmp_path)
    try:
        _refused_by(_tg("run", "--config", str(cfg), "--until-end"), server.pid)
        _refused_by(_tg("serve", "--config", str(cfg), "--port", "0"), server.pid)
        # Read-only commands keep working beside the serving node.
        status = _tg("status", "--config", str(cfg), "--json")
        assert status.returncode == 0, status.stderr
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    assert server.returncode == 130  # a Ctrl-C (SIGINT) stopped it

    # And a serve beside a running node (a real node holding the database) is refused.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(cfg)], cwd=tmp_path,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        _refused_by(_tg("serve", "--config", str(cfg), "--port", "0"), holder.pid)
    finally:
        holder.kill()
        holder.wait(timeout=30)


# A real node that opens the database, says so, and lives until killed.
HOLDER = """
import sys
from tradeguard.config import load_config
from tradeguard.node import TradingNode
node = TradingNode(load_config(sys.argv[1]))
print("holding", flush=True)
sys.stdin.read()
"""
