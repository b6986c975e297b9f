"""The live node's prompt stores of a strategy's state: coalesced in time, errors not lost.

The node is reduced to what the stores read (its strategies and a real SQLite storage)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tradeguard.model.errors import ConfigError
from tradeguard.node.state_saves import StateSaves
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.strategies.base import Strategy


class Counter(Strategy):
    value: Any = 0

    def state(self) -> dict[str, Any]:
        return {"value": self.value}


def _stored(storage: Storage) -> Any:
    row = storage.load_run_state("c")
    return None if row is None else row.state.get("value")


async def test_asks_inside_the_interval_are_stored_once_at_its_end(tmp_path: Path) -> None:
    storage = Storage(Database(f"sqlite:///{tmp_path / 'tg.db'}"))
    storage.db.migrate()
    strat = Counter("c", "v", "BTC/USDT", {})
    node = SimpleNamespace(
        strategies=[strat],
        storage=storage,
        _run_states={},
        interrupts=SimpleNamespace(abandoned=set()),
    )
    saves = StateSaves(node, interval_s=0.2)  # type: ignore[arg-type]
    saves.step_done()
    assert saves.writes == 0 and _stored(storage) is None  # nobody asked
    strat.value = 1
    strat.save_soon()
    saves.step_done()
    assert (saves.writes, _stored(storage), strat.save_due) == (1, 1, False)  # at once
    for v in (2, 3, 4):  # a burst inside the interval
        strat.value = v
        strat.save_soon()
        saves.step_done()
    assert (saves.writes, _stored(storage)) == (1, 1)
    await asyncio.sleep(0.35)
    assert (saves.writes, _stored(storage)) == (2, 4)  # one store, the last value
    storage.db.dispose()


async def test_a_timed_store_of_an_unstorable_state_stops_the_next_step(tmp_path: Path) -> None:
    storage = Storage(Database(f"sqlite:///{tmp_path / 'tg.db'}"))
    storage.db.migrate()
    strat = Counter("c", "v", "BTC/USDT", {})
    node = SimpleNamespace(
        strategies=[strat],
        storage=storage,
        _run_states={},
        interrupts=SimpleNamespace(abandoned=set()),
    )
    saves = StateSaves(node, interval_s=0.1)  # type: ignore[arg-type]
    strat.save_soon()
    saves.step_done()
    strat.value = object()  # JSON cannot hold it
    strat.save_soon()
    saves.step_done()  # inside the interval: the timer writes it
    await asyncio.sleep(0.25)
    with pytest.raises(ConfigError, match=r"\['value'\]"):
        saves.step_done()
    assert _stored(storage) == 0  # the last good state stays
    storage.db.dispose()


async def test_a_strategy_a_ctrl_c_abandoned_keeps_its_last_stored_state(tmp_path: Path) -> None:
    storage = Storage(Database(f"sqlite:///{tmp_path / 'tg.db'}"))
    storage.db.migrate()
    strat = Counter("c", "v", "BTC/USDT", {})
    node = SimpleNamespace(
        strategies=[strat],
        storage=storage,
        _run_states={},
        interrupts=SimpleNamespace(abandoned=set()),
    )
    saves = StateSaves(node, interval_s=0)  # type: ignore[arg-type]
    strat.value = 1
    strat.save_soon()
    saves.step_done()
    assert _stored(storage) == 1
    node.interrupts.abandoned.add("c")  # its callback was cut short mid-way
    strat.value = 2
    strat.save_soon()
    saves.step_done()
    assert (_stored(storage), saves.writes) == (1, 1)  # the half-made state is not stored
    storage.db.dispose()
