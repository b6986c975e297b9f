"""`tradeguard status` does not call a strategy of a node that stopped `running`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from node_support import write_paper_toml, write_slice
from tradeguard.cli import main
from tradeguard.config import load_config
from tradeguard.node.stats import HEARTBEAT_KEY
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage


def _status(capsys: pytest.CaptureFixture[str], cfg: str) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    assert main(["status", "--config", cfg, "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_a_stopped_node_s_strategies_are_not_shown_running(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run state keeps the status `running` it was written with; a node whose live loop
    stopped (its last heartbeat says so) showed its strategies `running` beside `Heartbeat:
    stopped`."""
    data = write_slice(data_dir, tmp_path / "btc.csv", 500)
    cfg = str(write_paper_toml(tmp_path, data))
    capsys.readouterr()
    assert main(["run", "--config", cfg, "--until-end", "--json"]) == 0
    assert {s["status"] for s in _status(capsys, cfg)["strategies"]} == {"running"}
    db = Database(load_config(cfg).node.database_url)
    storage = Storage(db)
    now = int(time.time() * 1000)
    storage.kv_set(HEARTBEAT_KEY, {"ts": now, "wall_ms": now, "pid": 1, "stopped": True})
    db.dispose()
    out = _status(capsys, cfg)
    assert out["heartbeat"]["state"] == "stopped"
    assert [s["status"] for s in out["strategies"]] == ["stopped"], out["strategies"]
