"""A database's WAL checkpoint thread ends with the node that opened it: left running, it wakes
20 times a second for as long as the process lives, and a process that opens nodes again and
again (a supervisor, a restart, a test session) piles them up until they starve its work."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from node_support import node_for, paper_config, write_slice


def _checkpointers(path: Path) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"sqlite-checkpoint:{path.name}"]


def test_a_node_whose_last_write_fails_at_close_still_stops_its_checkpoint_thread(
    tmp_path: Path, data_dir: Path
) -> None:
    # Before: close() disposed of the database only after its last writes, so a write that
    # failed there left the thread (and the connections) running for good.
    path = tmp_path / "closing.db"
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    node = node_for(paper_config(f"sqlite:///{path}", data, tmp=tmp_path))
    (thread,) = _checkpointers(path)

    def refused() -> None:
        raise RuntimeError("disk full")

    node.orders.flush = refused  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="disk full"):
        node.close()
    assert not thread.is_alive()
    assert _checkpointers(path) == []


def test_a_node_whose_build_fails_lets_go_of_its_database_and_writer_lock(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A build that fails once the database is open (a strategy refused, a vault read failing)
    # left the database's connections, its checkpoint thread and the writer lock to the node
    # half built, held for as long as its error is: a process that goes on (a sweep's worker,
    # a retry with the fault fixed) found its own database locked and the thread running.
    from tradeguard.node import builder

    path = tmp_path / "failing.db"
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    config = paper_config(f"sqlite:///{path}", data, tmp=tmp_path)

    def refused(node: object) -> None:
        raise RuntimeError("strategy refused")

    with monkeypatch.context() as patched:
        patched.setattr(builder, "_build_strategies", refused)
        with pytest.raises(RuntimeError, match="strategy refused") as failed:
            node_for(config)
    assert failed.value is not None  # the error (and the node it holds) is still alive here
    assert _checkpointers(path) == []
    node_for(paper_config(f"sqlite:///{path}", data, tmp=tmp_path)).close()  # not locked out
