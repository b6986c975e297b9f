"""The chaos exchange's wait for a node's database leaves no checkpoint thread behind."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from tradeguard.chaos.exchange import _open_storage


def test_each_attempt_before_the_schema_exists_stops_its_checkpoint_thread(
    tmp_path: Path,
) -> None:
    # The node has made the file but not yet its schema: every attempt to read it fails, and
    # each one's database (its connections, its WAL checkpoint thread) is disposed of.
    path = tmp_path / "node.db"
    path.write_bytes(b"")
    with pytest.raises(TimeoutError):
        asyncio.run(_open_storage(path, None, 0.3))
    name = f"sqlite-checkpoint:{path.name}"
    assert [t for t in threading.enumerate() if t.name == name] == []
