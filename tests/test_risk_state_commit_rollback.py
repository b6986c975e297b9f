"""A risk state written with a commit that fails is written again, not lost.

A change of trading state (a kill's HALTED, a resume) is committed at once; the counters ride
on the next journal commit. When the commit holding the state fails (a locked database), the
state stays in memory (a kill halts whatever the disk says) and is written by the next commit,
and the engine's next save of the same state commits at once again: a restart must never find
an older state than the one the node acted on since.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from execution_stubs import SettableClock
from test_fill_commit_rollback import FailingCommit, _storage
from tradeguard.model.enums import TradingState
from tradeguard.node.state_store import RISK_STATE_KEY, StorageStateStore
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.engine import RiskEngine


def _stored_state(storage: object) -> object:
    value = storage.kv_get(RISK_STATE_KEY)  # type: ignore[attr-defined]
    return value.get("state") if isinstance(value, dict) else None


def _halted_without_commit(tmp_path: Path) -> tuple[object, RiskEngine]:
    storage = _storage(tmp_path)
    engine = RiskEngine(RiskConfig(), SettableClock(), StorageStateStore(storage), lambda e: None)
    engine.flush()
    failing = FailingCommit(storage)
    failing.armed = 1
    with pytest.raises(OperationalError):
        engine.halt("kill switch: test", "ops")
    assert engine.state is TradingState.HALTED  # halted whatever the disk says
    assert _stored_state(storage) != TradingState.HALTED.value
    return storage, engine


def test_a_state_whose_commit_failed_is_written_by_the_next_commit(tmp_path: Path) -> None:
    storage, _ = _halted_without_commit(tmp_path)

    with storage.transaction():  # type: ignore[attr-defined]
        storage.kv_set("other", 1)  # type: ignore[attr-defined]

    assert _stored_state(storage) == TradingState.HALTED.value


def test_the_next_save_of_a_state_whose_commit_failed_commits_at_once(tmp_path: Path) -> None:
    storage, engine = _halted_without_commit(tmp_path)

    engine.flush()  # the engine saves again (its state was not marked saved)

    assert _stored_state(storage) == TradingState.HALTED.value
