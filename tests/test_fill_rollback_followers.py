"""What follows a fill whose commit fails: counters, waiters, rate limits and acknowledgements.

Bus subscribers hear of a fill before its commit. When the commit fails the venue reports the
fill again and it is booked then: what the first telling counted, woke or marked must not make
the second one count twice, return early or be suppressed, and acknowledgements of other
orders still waiting for a commit must reach the journal.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from execution_stubs import limit_buy, make_rig
from test_alerts_manager import RecordingChannel
from test_fill_commit_rollback import FailingCommit
from test_fill_rollback_listeners import failed_paper_buy
from tradeguard.alerts.config import AlertsConfig
from tradeguard.alerts.manager import AlertManager
from tradeguard.model.enums import OrderStatus, Side
from tradeguard.node.builder import wire_alerts

D = Decimal


def _node(tmp_path: Path) -> Any:
    from tradeguard.config import Config, default_config
    from tradeguard.node import TradingNode

    doc = default_config()
    doc.setdefault("node", {}).update(
        database_url=f"sqlite:///{tmp_path / 'tg.db'}", kill_sentinel=str(tmp_path / "k")
    )
    return TradingNode(Config.model_validate(doc))


def test_a_fill_whose_commit_fails_is_counted_once_in_the_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tradeguard.api.metrics import NodeMetrics

    node = _node(tmp_path)
    try:
        metrics = NodeMetrics(node)
        fill = failed_paper_buy(node, monkeypatch)  # told on the bus, then its commit fails
        labels = {"venue": "paper", "symbol": "BTC/USDT"}
        assert not metrics.registry.get_sample_value("tradeguard_fills_total", labels)

        node.orders.on_fill(fill)  # the venue tells it again: booked now

        assert metrics.registry.get_sample_value("tradeguard_fills_total", labels) == 1.0
        node.orders.on_fill(fill)  # a repeat of a booked fill: not counted
        assert metrics.registry.get_sample_value("tradeguard_fills_total", labels) == 1.0
    finally:
        node.close()


async def test_a_fill_whose_commit_fails_does_not_end_the_wait_for_its_order(
    tmp_path: Path,
) -> None:
    from tradeguard.execution.gateway import OrderPathGateway

    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage)
    gateway = OrderPathGateway(rig.orders, rig.risk, "stub", "s1")  # type: ignore[arg-type]
    placed = (await rig.orders.submit(limit_buy(amount="0.002", price="50000"))).order
    assert placed is not None
    cid = placed.client_order_id
    # a wait far longer than the steps below, which a busy machine may stretch past 0.5 s
    waiting = asyncio.ensure_future(gateway.wait_terminal(cid, 30))
    await asyncio.sleep(0)  # the wait has begun
    failing.armed = 1
    with pytest.raises(OperationalError):
        rig.venue.execute(cid, D("0.002"), D("50000"))  # filled, told, then not committed
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the order is open as the journal has it: still waited for

    rig.orders.on_fill(rig.venue.fills[-1])  # the venue tells it again: booked now

    got = await asyncio.wait_for(waiting, 10)
    assert got is not None and got.status is OrderStatus.FILLED


async def test_the_rate_limit_is_not_set_by_an_alert_a_rollback_discarded(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage)
    config = AlertsConfig(min_interval_s={"position_opened": 3600.0})
    alerts = AlertManager(config, [RecordingChannel()])
    wire_alerts(alerts, rig.storage)
    rig.bus.subscribe(alerts.on_event)
    buy = (await rig.orders.submit(limit_buy(amount="0.002", price="50000"))).order
    assert buy is not None
    failing.armed = 1
    with pytest.raises(OperationalError):
        rig.venue.execute(buy.client_order_id, D("0.002"), D("50000"))  # opens, not booked

    rig.orders.on_fill(rig.venue.fills[-1])  # the venue tells it again: booked now

    queued = [a.rule for a in alerts._queues[0]._queue]  # type: ignore[attr-defined]
    assert queued == ["position_opened"]  # the position opened once, and is told once
    assert alerts.counters["suppressed"] == 0


async def test_an_acknowledgement_waiting_for_a_commit_survives_another_fills_rollback(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage)
    b = (await rig.orders.submit(limit_buy(amount="0.002", price="50000"))).order
    a = (await rig.orders.submit(limit_buy(amount="0.002", price="49000"))).order
    assert a is not None and b is not None
    assert a.status is OrderStatus.ACCEPTED
    stored = rig.storage.get_order(a.client_order_id)
    assert stored is not None and stored.status is OrderStatus.SUBMITTED  # the ack waits
    failing.armed = 1
    with pytest.raises(OperationalError):
        rig.venue.execute(b.client_order_id, D("0.002"), D("50000"))

    rig.orders.on_fill(rig.venue.fills[-1])  # the next commit: B's fill told again

    stored = rig.storage.get_order(a.client_order_id)
    assert stored is not None and stored.status is OrderStatus.ACCEPTED
    steps = [t["to_status"] for t in rig.storage.load_transitions(a.client_order_id)]
    assert steps == ["submitted", "accepted"], steps
    # a restart reads the journal: A acknowledged, B filled, each change logged once
    again = make_rig(tmp_path)
    restored = again.storage.get_order(a.client_order_id)
    assert restored is not None and restored.status is OrderStatus.ACCEPTED
    b_row = again.storage.get_order(b.client_order_id)
    assert b_row is not None and b_row.status is OrderStatus.FILLED
    steps = [t["to_status"] for t in again.storage.load_transitions(b.client_order_id)]
    assert steps == ["submitted", "accepted", "filled"], steps


async def test_a_settlement_order_journaled_without_its_fill_is_settled_once_after_a_restart(
    tmp_path: Path,
) -> None:
    from tradeguard.execution.settlement import apply_settlement
    from tradeguard.model.outcome import Resolution, Settlement

    def holding(rig: Any) -> Any:  # what the journal's start and fills leave, set by hand
        book = rig.portfolio.book("stub")
        book.set("M:YES", D(10))
        book.set("USD", D(96))
        pos = rig.portfolio.position("stub", "M:YES/USD", "s1")
        pos.apply(Side.BUY, D("0.4"), D(10), D(0), 1_000_000, D(0))
        return book, pos

    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage, fills_only=True)
    holding(rig)
    resolved = Settlement("stub", "M", Resolution.YES, D(10), D(0), D(10), "USD", 1_000_600)
    failing.armed = 1
    with pytest.raises(OperationalError):
        apply_settlement(rig.orders, resolved, 1_000_600)

    again = make_rig(tmp_path)  # a restart: the settlement order is open in the journal
    book, pos = holding(again)
    again.orders.restore(again.storage.load_orders(open_only=True))
    [order] = list(again.orders.open.values())
    assert "settlement" in order.signal and order.status is OrderStatus.ACCEPTED
    assert await again.orders.resolve(order) is None  # the venue never heard of it
    assert order.status is OrderStatus.ACCEPTED and not again.orders.unknown  # left as it is

    fills = apply_settlement(again.orders, resolved, 1_000_700)  # the next pass books it

    assert [(f.side, f.price, f.amount) for f in fills] == [(Side.SELL, D(1), D(10))]
    assert pos.quantity == 0 and book.total("USD") == D(106)
    assert order.status is OrderStatus.FILLED and not again.orders.open
    assert apply_settlement(again.orders, resolved, 1_000_800) == []  # booked once
    assert [f.trade_id for f in again.storage.load_fills()] == [fills[0].trade_id]
