"""The live node's prompt stores of a strategy's state: coalesced in time, errors not lost.

The node is reduced to what the stores read (its strategies and a real SQLite storage)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from live_support import sandbox_config
from native_exits_support import native_config
from test_fill_commit_rollback import FailingCommit
from test_live_hub import Sink, StubSource
from test_risk_support import Rig
from tradeguard.marketdata.live.hub import LiveHub
from tradeguard.marketdata.live.subscriptions import Subscription
from tradeguard.model.enums import OrderType, Side, TradingState
from tradeguard.model.errors import ConfigError
from tradeguard.model.market import Quote
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.node.state_saves import StateSaves
from tradeguard.sandbox.testing import eventually, seeded_exchange
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.strategies.base import Strategy


class Counter(Strategy):
    value: Any = 0

    def state(self) -> dict[str, Any]:
        return {"value": self.value}


def _rig(tmp_path: Path) -> tuple[Storage, Counter, Any]:
    """A migrated database, one counting strategy and the node surface the stores read."""
    storage = Storage(Database(f"sqlite:///{tmp_path / 'tg.db'}"))
    storage.db.migrate()
    strat = Counter("c", "v", "BTC/USDT", {})
    risk = Rig()  # what a refused store halts
    node = SimpleNamespace(
        strategies=[strat],
        storage=storage,
        _run_states={},
        interrupts=SimpleNamespace(abandoned=set()),
        state_saves=None,
        risk=risk.engine,
        clock=risk.clock,
    )
    return storage, strat, node


def _stored(storage: Storage) -> Any:
    row = storage.load_run_state("c")
    return None if row is None else row.state.get("value")


async def test_asks_inside_the_interval_are_stored_once_at_its_end(tmp_path: Path) -> None:
    storage, strat, node = _rig(tmp_path)
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


async def test_a_timed_store_of_an_unstorable_state_is_held_for_the_live_loop(
    tmp_path: Path,
) -> None:
    storage, strat, node = _rig(tmp_path)
    saves = StateSaves(node, interval_s=0.1)  # type: ignore[arg-type]
    strat.save_soon()
    saves.step_done()
    strat.value = object()  # JSON cannot hold it
    strat.save_soon()
    saves.step_done()  # inside the interval: the timer writes it
    await asyncio.sleep(0.25)
    saves.step_done()  # never raises into a step: the live loop raises `failed`
    assert isinstance(saves.failed, ConfigError)
    assert "['value']" in str(saves.failed)
    assert _stored(storage) == 0  # the last good state stays
    storage.db.dispose()


async def test_a_strategy_a_ctrl_c_abandoned_keeps_its_last_stored_state(tmp_path: Path) -> None:
    storage, strat, node = _rig(tmp_path)
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


def test_a_store_whose_commit_fails_stays_due_halts_and_is_tried_again(tmp_path: Path) -> None:
    """A store's commit that fails (a locked database) keeps nothing: the strategy's ask stays
    due, new orders halt (the run goes on), and a write after the retry's wait stores it."""
    storage, strat, node = _rig(tmp_path)
    saves = StateSaves(node, interval_s=0)  # type: ignore[arg-type]
    failing = FailingCommit(storage)
    failing.armed = 1
    strat.value = 1
    strat.save_soon()
    assert saves.before_orders() is None  # the commit fails: the halt denies the orders
    assert saves.failed is None and "database is locked" in saves.refused
    assert node.risk.state is TradingState.HALTED
    assert (_stored(storage), saves.writes, strat.save_due) == (None, 0, True)
    saves.before_orders()  # inside the retry's wait: not tried again
    assert (_stored(storage), saves.writes, strat.save_due) == (None, 0, True)
    saves.next_ok = 0.0  # the wait is over
    saves.step_done()
    assert (_stored(storage), saves.writes, strat.save_due) == (1, 1, False)
    assert saves.refused == ""
    storage.db.dispose()


class _SavingSink(Sink):
    """A sink that ends each quote's step as the node does (`NodeFeed` / `node.on_quote`)."""

    def __init__(self, saves: StateSaves) -> None:
        super().__init__()
        self.saves = saves

    async def on_quote(self, quote: Quote) -> None:
        await super().on_quote(quote)
        self.saves.step_done()


async def test_a_store_error_in_a_quote_step_reaches_the_run_not_the_stream(
    tmp_path: Path,
) -> None:
    """The quote path runs in the hub's stream task, which takes any error for a broken stream
    (a reconnect, and on): a store that failed there must be held for the run loop to stop on."""
    storage, strat, node = _rig(tmp_path)
    saves = StateSaves(node, interval_s=0)  # type: ignore[arg-type]
    src = StubSource({"quotes"})
    sink = _SavingSink(saves)
    hub = LiveHub({"stub": src}, sink)
    hub.subscribe([Subscription("quotes", "stub", "BTC/USDT")])
    try:
        strat.value = object()  # JSON cannot hold it
        strat.save_soon()
        src.stream.put_nowait(
            Quote("BTC/USDT", 1, Decimal(99), Decimal(1), Decimal(101), Decimal(1))
        )
        await eventually(lambda: len(sink.quotes) == 1)
        await asyncio.sleep(0.1)
        assert not [k for k, _ in sink.events if k == "marketdata.reconnect"]
        assert isinstance(saves.failed, ConfigError)
    finally:
        await hub.stop()
        storage.db.dispose()


@pytest.mark.usefixtures("vault_env")
async def test_the_live_loop_stops_on_a_failed_store(tmp_path: Path) -> None:
    async with seeded_exchange() as ex:
        node = TradingNode(native_config(tmp_path, ex.rest_url, ex.ws_url))
        await node.start()
        try:
            saves = node.keep_states_saved()
            saves.failed = ConfigError("strategy 'x' state() cannot be stored")
            started = time.monotonic()
            with pytest.raises(ConfigError, match="cannot be stored"):
                await node.run_live(duration_s=30)
            assert time.monotonic() - started < 10  # at once, not at the run's end
        finally:
            await node.stop()
            node.close()


class EntryAsker(Strategy):
    """Sends one market buy on its first quote and asks its state (`sent`) stored with it."""

    sent = 0

    def on_ticker(self, quote: Quote) -> None:
        if self.sent:
            return
        self.sent = 1
        self.save_soon()
        self.emit(
            OrderIntent(
                self.id, self.venue, self.symbol, Side.BUY, Decimal("0.001"), OrderType.MARKET
            )
        )

    def state(self) -> dict[str, Any]:
        return {"sent": self.sent}


# A sandbox strategy that asks its state stored with the entry it sends.
ASKER = {
    "id": "ask", "kind": "test_state_saves:EntryAsker", "venue": "binance",
    "symbol": "BTC/USDT", "params": {},
}  # fmt: skip


@pytest.mark.usefixtures("vault_env")
async def test_a_state_asked_with_an_order_is_stored_before_the_order_goes_out(
    tmp_path: Path,
) -> None:
    """A SIGKILL while an order is with the venue must not leave an order the restarted
    strategy knows nothing of (its cooldown, the window it traded): the state it asked stored
    in the step that sent the order is stored before the order is sent."""
    async with seeded_exchange() as ex:
        cfg = sandbox_config(tmp_path, ex, [ASKER], checkpoint_interval_s=3600)
        node = TradingNode(cfg)
        await node.start()
        try:
            venue = node.venues["binance"]
            seen: list[Any] = []
            submit = venue.submit

            async def watched(order: Any) -> Any:
                row = node.storage.load_run_state("ask")
                seen.append(None if row is None else row.state)
                return await submit(order)

            venue.submit = watched  # type: ignore[method-assign]
            one, now = Decimal(1), node.clock.now_ms()
            await node.on_quote(Quote("BTC/USDT", now, Decimal(49999), one, Decimal(50001), one))
            assert seen == [{"sent": 1}]
        finally:
            await node.stop()
            node.close()


@pytest.mark.usefixtures("vault_env")
async def test_an_order_whose_state_store_failed_is_not_sent(tmp_path: Path) -> None:
    """The store before the step's orders fails (a locked database): the order is not sent, or
    a SIGKILL while it is with the venue brings back a strategy that never sent it; trading
    halts (the order is denied) and the run goes on (node.state_saves)."""
    async with seeded_exchange() as ex:
        cfg = sandbox_config(tmp_path, ex, [ASKER], checkpoint_interval_s=3600)
        node = TradingNode(cfg)
        await node.start()
        try:
            venue = node.venues["binance"]
            sent: list[Any] = []
            submit = venue.submit

            async def watched(order: Any) -> Any:
                sent.append(order.client_order_id)
                return await submit(order)

            venue.submit = watched  # type: ignore[method-assign]
            saves = node.keep_states_saved()
            failing = FailingCommit(node.storage)
            failing.armed = 1  # the state's store, the step's first commit
            one, now = Decimal(1), node.clock.now_ms()
            await node.on_quote(Quote("BTC/USDT", now, Decimal(49999), one, Decimal(50001), one))
            assert saves.failed is None and "database is locked" in saves.refused
            assert node.risk.state is TradingState.HALTED
            assert node.storage.load_run_state("ask") is None
            assert sent == [] and node.orders.open == {}
        finally:
            await node.stop()
            node.close()


def test_a_checkpoint_whose_commit_fails_leaves_the_asked_states_due(tmp_path: Path) -> None:
    """A checkpoint stores every strategy's state; its commit failing (a locked database)
    keeps none of them, so a strategy that asked for a store still has it due."""
    from test_fill_rollback_followers import _node
    from tradeguard.node.checkpoint import run_state

    node = _node(tmp_path)
    try:
        [strat] = node.strategies
        strat.save_soon()
        failing = FailingCommit(node.storage)
        failing.armed = 1
        with pytest.raises(OperationalError):
            node._checkpoint(123_456)
        assert node.storage.load_run_state(strat.id) is None
        assert strat.save_due
        assert run_state(node, strat.id).cursor_ts == 0  # the node's copy: as stored (none)
        node._checkpoint(node.clock.now_ms())
        assert node.storage.load_run_state(strat.id) is not None and not strat.save_due
    finally:
        node.close()


def test_a_store_whose_commit_failed_is_not_taken_for_the_last_stored_state(
    tmp_path: Path,
) -> None:
    """A strategy a Ctrl-C abandoned keeps its last stored state (node.checkpoint reads it from
    the node's copy of its run state): a store whose commit failed is not that state."""
    from tradeguard.node.checkpoint import state_to_store

    storage, strat, node = _rig(tmp_path)
    saves = StateSaves(node, interval_s=0)  # type: ignore[arg-type]
    strat.value = 1
    strat.save_soon()
    saves.step_done()
    failing = FailingCommit(storage)
    failing.armed = 1
    strat.value = 2
    strat.save_soon()
    saves.step_done()  # its commit fails
    assert saves.refused and _stored(storage) == 1
    node.interrupts.abandoned.add("c")  # its callback was then cut short mid-way
    assert state_to_store(node, strat) == {"value": 1}  # type: ignore[arg-type]
    storage.db.dispose()


def test_a_refused_store_is_tried_again_before_orders_once_its_halt_is_lifted(
    tmp_path: Path,
) -> None:
    """A store refused lately is not tried again before its wait while its halt denies the
    step's orders; once that halt is lifted (the checkpoint written, an operator's resume)
    the orders would go out with their state unstored, so the store is tried first."""
    from tradeguard.node.duties import CHECKPOINT_BY

    storage, strat, node = _rig(tmp_path)
    saves = StateSaves(node, interval_s=0)  # type: ignore[arg-type]
    failing = FailingCommit(storage)
    failing.armed = 1
    strat.value = 1
    strat.save_soon()
    saves.before_orders()  # refused: halted by the checkpoint
    assert node.risk.state is TradingState.HALTED and node.risk.state_by == CHECKPOINT_BY
    node.risk.lift_own_halt(CHECKPOINT_BY, "the checkpoint was written")
    assert node.risk.state is TradingState.ACTIVE
    strat.value = 2  # the next step asks again, with an order
    strat.save_soon()

    assert saves.before_orders() is None

    # before: not tried (inside the retry's wait), the order sent with its state unstored
    assert (_stored(storage), strat.save_due, saves.refused) == (2, False, "")
    storage.db.dispose()


class OnceUnstorable(EntryAsker):
    """An asker whose state JSON cannot hold once, when read with its order."""

    spoiled = False

    def state(self) -> dict[str, Any]:
        once = self.sent and not self.spoiled
        self.spoiled = self.spoiled or bool(self.sent)
        return {"sent": self.sent, **({"at": object()} if once else {})}


@pytest.mark.usefixtures("vault_env")
async def test_the_stops_checkpoint_after_a_failed_store_keeps_the_state_before_the_unsent_order(
    tmp_path: Path,
) -> None:
    """The step's order was dropped unsent (its state's store failed, not for the database: a
    state JSON could not hold) and the run stops: the stop's checkpoint must not store the state
    that says it went out (a restart would take an order never sent for one sent); the strategy
    keeps its last stored state, as one a Ctrl-C abandoned with its orders dropped does."""
    asker = {**ASKER, "kind": "test_state_saves:OnceUnstorable"}
    async with seeded_exchange() as ex:
        node = TradingNode(sandbox_config(tmp_path, ex, [asker], checkpoint_interval_s=3600))
        await node.start()
        try:
            saves = node.keep_states_saved()
            one, now = Decimal(1), node.clock.now_ms()
            await node.on_quote(Quote("BTC/USDT", now, Decimal(49999), one, Decimal(50001), one))
            assert isinstance(saves.failed, ConfigError) and node.orders.open == {}
            assert saves.unsent == {"ask"}
            saves.close()
            node._checkpoint(node.clock.now_ms())  # the live loop's last, on its way out
            stored = node.storage.load_run_state("ask")
            assert stored is not None and stored.state.get("sent", 0) == 0, stored
        finally:
            await node.stop()
            node.close()
