"""A node's build and start read the database a bounded number of times per strategy: the
strategies' stored states in one read each kind, the fills of a symbol only once a venue
reports some. What they read back is the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tradeguard.backtest.runner import BacktestNode, backtest_config
from tradeguard.clock import SimulatedClock
from tradeguard.config import load_config
from tradeguard.execution.gateway import RECORD_NOTE_KEY, RECORD_STATE_KEY
from tradeguard.storage.unit_of_work import StorageCore
from tradeguard.strategies.base import Strategy

ROOT = Path(__file__).resolve().parents[1]
PAIRS = ROOT / "examples" / "backtest" / "btc_pairs.toml"


async def _reads_to_start(tmp_path: Path, strategies: int, monkeypatch: Any) -> int:
    config = load_config(PAIRS)
    config.strategies = config.strategies[:strategies]
    bt = backtest_config(config, tmp_path)
    reads = 0
    real = StorageCore._read

    def counting(self: StorageCore, stmt: Any) -> Any:
        nonlocal reads
        reads += 1
        return real(self, stmt)

    with monkeypatch.context() as m:
        m.setattr(StorageCore, "_read", counting)
        node = BacktestNode(bt, clock=SimulatedClock())
        try:
            await node.start()
        finally:
            node.close()
    return reads


async def test_reads_at_start_grow_little_with_the_strategies(tmp_path: Path, monkeypatch) -> None:
    one = await _reads_to_start(tmp_path / "one", 1, monkeypatch)
    seven = await _reads_to_start(tmp_path / "seven", 7, monkeypatch)
    # Still one read per strategy: its orders, for arbitrage legs a stop interrupted.
    assert seven - one <= 6, (one, seven)


@pytest.fixture
def restored(monkeypatch: Any) -> dict[str, dict[str, Any]]:
    got: dict[str, dict[str, Any]] = {}

    def restore(self: Strategy, state: dict[str, Any]) -> None:
        got[self.id] = state

    monkeypatch.setattr(Strategy, "restore", restore)
    return got


async def test_stored_states_and_records_are_restored_per_strategy(
    tmp_path: Path, restored: dict[str, dict[str, Any]]
) -> None:
    config = load_config(PAIRS)
    bt = backtest_config(config, tmp_path)
    ids = [sc.id for sc in config.strategies]
    node = BacktestNode(bt, clock=SimulatedClock())
    try:
        storage = node.storage
        with storage.transaction():
            storage.kv_set(RECORD_STATE_KEY.format(ids[1]), {"record_id": 3, "x": "rec"})
            storage.kv_set(RECORD_NOTE_KEY.format(ids[2]), {"why": "note"})
            state = node._run_states[ids[0]]
            state.state = {"record_id": 1, "y": "saved"}
            storage.save_run_state(state)
    finally:
        node.close()
    restored.clear()
    # The same database built again (a disposable one is not made afresh by a build).
    again = BacktestNode(bt, clock=SimulatedClock())
    again.close()
    assert restored[ids[0]] == {"record_id": 1, "y": "saved"}
    assert restored[ids[1]] == {"record_id": 3, "x": "rec"}
    assert restored[ids[2]] == {"record_note": {"why": "note"}}
    assert set(restored) == {ids[0], ids[1], ids[2]}
