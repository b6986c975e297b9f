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
