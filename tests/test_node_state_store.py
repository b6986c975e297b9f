"""The risk engine's state in the kv table: a unit of work writes it as it stands at its commit,
built once however many times the engine saved in between."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from test_risk_support import T0, D
from tradeguard.clock import SimulatedClock
from tradeguard.model import Fill, LiquiditySide, Side
from tradeguard.node.state_store import RISK_STATE_KEY, StorageStateStore
from tradeguard.risk import RiskConfig, RiskEngine
from tradeguard.storage import Database, Storage


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    db.migrate()
    try:
        yield Storage(db)
    finally:
        db.dispose()


def _maker(built: list[int], n: int) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        built.append(n)
        return {"state": "ACTIVE", "trades_today": n}

    return make


def test_saves_in_a_unit_of_work_build_the_state_once_at_its_commit(storage: Storage) -> None:
    store = StorageStateStore(storage)
    built: list[int] = []
    with storage.holding_connection(), storage.unit_of_work(batch=True):
        for n in range(5):
            store.save_later(_maker(built, n), "ACTIVE")
        assert built == []  # nothing built before the commit
        storage.commit_unit()
        assert built == [4]
    assert storage.kv_get(RISK_STATE_KEY) == {"state": "ACTIVE", "trades_today": 4}


def test_a_save_outside_a_unit_of_work_is_written_at_once(storage: Storage) -> None:
    store = StorageStateStore(storage)
    built: list[int] = []
    store.save_later(_maker(built, 7), "ACTIVE")
    assert built == [7]
    assert storage.kv_get(RISK_STATE_KEY) == {"state": "ACTIVE", "trades_today": 7}


def _fill(ts: int) -> Fill:
    return Fill(
        venue="paper", symbol="BTC/USDT", client_order_id="c", venue_order_id="v",
        trade_id=f"t{ts}", side=Side.BUY, price=D(100), amount=D("0.1"), fee=Decimal(0),
        fee_asset="USDT", liquidity=LiquiditySide.TAKER, ts=ts,
    )  # fmt: skip


def test_the_engine_state_committed_by_a_unit_is_its_state_at_the_commit(
    storage: Storage,
) -> None:
    clock = SimulatedClock(T0)
    config = RiskConfig(cooldown_after_trade_s=600)
    engine = RiskEngine(config, clock, StorageStateStore(storage), lambda e: None)
    calls = 0
    to_state = engine.to_state

    def counted() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return to_state()

    engine.to_state = counted  # type: ignore[method-assign]
    with storage.holding_connection(), storage.unit_of_work(batch=True):
        for i in range(3):
            clock.advance_to(T0 + i * 1000)
            engine.observe_fill(_fill(T0 + i * 1000), None, f"s{i}")  # a cooldown each: saved
        assert calls == 0
        storage.commit_unit()
    assert calls == 1
    stored = storage.kv_get(RISK_STATE_KEY)
    assert stored == to_state()
    assert [c[0] for c in stored["cooldowns"]] == ["s0", "s1", "s2"]
