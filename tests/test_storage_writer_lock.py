"""One writer per database: a second node refuses at once and names the holder; reads still work."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_support import run_cli
from node_support import node_for, paper_config, write_paper_toml, write_slice
from tradeguard.storage.lock import WriterLockHeld, acquire_writer_lock, lock_path

# A real node that opens the database, says so, and lives until killed or its stdin closes.
HOLDER = """
import sys
from tradeguard.config import load_config
from tradeguard.node import TradingNode
node = TradingNode(load_config(sys.argv[1]))
print("holding", flush=True)
sys.stdin.read()
node.close()
"""


def _config(tmp_path: Path, db_url: str, data: Path) -> Path:
    return write_paper_toml(tmp_path, data, db_url=db_url)


@pytest.fixture
def holder_factory(tmp_path: Path) -> Iterator[object]:
    procs: list[subprocess.Popen[str]] = []

    def start(cfg: Path) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(cfg)],
            cwd=tmp_path,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the node holds the lock (or died)
        assert line.strip() == "holding", proc.stderr.read() if proc.stderr else ""
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def _second_node_is_refused_then_takes_over_after_sigkill(
    tmp_path: Path, db_url: str, data_dir: Path, holder_factory: object, capsys, monkeypatch
) -> None:
    """The holder is a process of its own; the commands beside it run in this one."""
    monkeypatch.chdir(tmp_path)

    def _tg(*args: str) -> object:
        return run_cli(capsys, *args)

    data = write_slice(data_dir, tmp_path / "btc.csv", 1500)
    cfg = _config(tmp_path, db_url, data)
    assert _tg("run", "--config", str(cfg), "--until-end", "--json").returncode == 0
    holder = holder_factory(cfg)  # type: ignore[operator]

    second = _tg("run", "--config", str(cfg), "--until-end")

    assert second.returncode == 1
    err = second.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in second.stderr
    assert f"pid {holder.pid} on {socket.gethostname()} since " in err
    assert "already written by another tradeguard node" in err
    # Read-only commands keep working while the holder runs.
    orders = _tg("orders", "--config", str(cfg), "--json")
    assert orders.returncode == 0, orders.stderr
    assert len(json.loads(orders.stdout)) > 0
    assert _tg("status", "--config", str(cfg), "--json").returncode == 0
    # The kill switch still reaches the running node, through its sentinel file.
    kill = _tg("kill", "--config", str(cfg), "--reason", "drill", "--json")
    assert kill.returncode == 0, kill.stderr
    assert f"pid {holder.pid}" in json.loads(kill.stdout)["message"]
    assert (tmp_path / "tg.kill").read_text().startswith("halt: drill")

    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    again = _tg("run", "--config", str(cfg), "--until-end", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["resumed"] is True


def test_two_nodes_on_one_sqlite_database(tmp_path, data_dir, holder_factory, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'tg.db'}"
    _second_node_is_refused_then_takes_over_after_sigkill(
        tmp_path, url, data_dir, holder_factory, capsys, monkeypatch
    )


@pytest.mark.postgres
def test_two_nodes_on_one_postgres_database(
    tmp_path, data_dir, pg_url, holder_factory, capsys, monkeypatch
):
    _second_node_is_refused_then_takes_over_after_sigkill(
        tmp_path, pg_url, data_dir, holder_factory, capsys, monkeypatch
    )


def test_lock_file_names_the_holder_and_is_released_on_close(tmp_path, data_dir):
    url = f"sqlite:///{tmp_path / 'tg.db'}"
    node = node_for(paper_config(url, write_slice(data_dir, tmp_path / "btc.csv", 10)))
    holder = json.loads(lock_path(tmp_path / "tg.db").read_text())
    assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
    with pytest.raises(WriterLockHeld, match=f"pid {os.getpid()}"):
        acquire_writer_lock(url)
    node.close()
    lock = acquire_writer_lock(url)  # free again
    assert lock is not None and lock.held
    lock.release()
    assert not lock.held


@pytest.mark.postgres
def test_postgres_lock_is_per_database(pg_url, tmp_path):
    first = acquire_writer_lock(pg_url)
    try:
        with pytest.raises(WriterLockHeld, match=f"pid {os.getpid()} on {socket.gethostname()}"):
            acquire_writer_lock(pg_url)
        other = acquire_writer_lock(f"sqlite:///{tmp_path / 'other.db'}")
        assert other is not None and other.held
        other.release()
    finally:
        assert first is not None
        first.release()
    again = acquire_writer_lock(pg_url)
    assert again is not None and again.held
    again.release()


def test_in_memory_database_needs_no_lock():
    assert acquire_writer_lock("sqlite:///:memory:") is None
