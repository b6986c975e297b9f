"""What a fill whose commit fails told the node's own listeners in memory goes back with it.

A fill's booking tells synchronous bus subscribers (the performance alerts' trade window) and
fills the portfolio's price caches before its commit. When the commit fails the venue reports
the fill again and it is booked then: nothing told or cached the first time may count twice
or point at a price the rollback took away.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from execution_stubs import SYMBOL, limit_buy, make_rig
from test_alerts_manager import RecordingChannel
from test_fill_commit_rollback import FailingCommit
from tradeguard.alerts.config import AlertsConfig, PerformanceConfig
from tradeguard.alerts.manager import AlertManager
from tradeguard.execution.settlement import apply_settlement
from tradeguard.model.enums import LiquiditySide, OrderStatus, OrderType, Side
from tradeguard.model.fill import Fill
from tradeguard.model.order import OrderIntent
from tradeguard.model.outcome import Resolution, Settlement
from tradeguard.node.builder import wire_alerts
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.portfolio.undo import fill_undo

D = Decimal


def failed_paper_buy(node: Any, monkeypatch: pytest.MonkeyPatch) -> Fill:
    """Fund `node`'s paper venue and tell it a buy whose transaction fails (the disk full as
    its balances are written, after the fill was told on the bus); return the fill."""
    node.portfolio.book("paper").set("USDT", D(1000))
    fill = Fill(
        "paper", "BTC/USDT", "", "", "x1", Side.BUY, D(50000), D("0.01"), D(0), "USDT",
        LiquiditySide.TAKER, 1_000_500,
    )  # fmt: skip
    store = node.storage.upsert_balances

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(node.storage, "upsert_balances", disk_full)
    with pytest.raises(OSError, match="disk full"):
        node.orders.on_fill(fill)
    monkeypatch.setattr(node.storage, "upsert_balances", store)
    return fill


def _fill(trade_id: str, symbol: str, side: Side, price: str, amount: str) -> Fill:
    return Fill(
        "stub", symbol, "", "", trade_id, side, D(price), D(amount), D(0), "USDT",
        LiquiditySide.TAKER, 1_000_500,
    )  # fmt: skip


@pytest.mark.parametrize("read", ["price_of", "equity"])
def test_a_fill_undone_leaves_no_cached_price_path_through_the_mark_it_took_away(
    read: str,
) -> None:
    pf = Portfolio("USDT")
    pf.mark("BTC/USDT", D(50000))
    book = pf.book("stub")
    book.set("USDT", D(1000))
    book.set("ETH", D(1))  # held, not priced yet: no ETH market marked
    fill = _fill("x1", "ETH/USDT", Side.BUY, "2000", "0.1")
    undo = fill_undo(pf, fill, "", False)
    pf.apply_fill(fill, "", position=False)  # marks ETH/USDT at the fill's price
    assert pf.price_of("ETH") == D(2000) and pf.equity() == D(1000) - 200 + D("1.1") * 2000
    undo()  # the commit failed: the ETH/USDT mark goes with the fill
    pf.mark("SOL/USDT", D(150))  # another market's first price: as many marks as before

    if read == "price_of":
        assert pf.price_of("ETH") is None
    else:
        assert pf.equity() == D(1000)  # ETH still has no price


async def test_a_closed_trade_whose_commit_fails_counts_once_in_the_performance_window(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage)
    config = AlertsConfig(performance=PerformanceConfig(win_rate_trades=2, sharpe_min=-100))
    channel = RecordingChannel()
    alerts = AlertManager(config, [channel])
    wire_alerts(alerts, rig.storage)
    rig.bus.subscribe(alerts.on_event)
    buy = (await rig.orders.submit(limit_buy(amount="0.002", price="50000"))).order
    sell_intent = OrderIntent(
        "s1", "stub", SYMBOL, Side.SELL, D("0.002"), OrderType.LIMIT, D("49000")
    )
    sell = (await rig.orders.submit(sell_intent)).order
    assert buy is not None and sell is not None
    rig.venue.execute(buy.client_order_id, D("0.002"), D("50000"))
    failing.armed = 1
    with pytest.raises(OperationalError):
        rig.venue.execute(sell.client_order_id, D("0.002"), D("49000"))  # a loss, not booked

    rig.orders.on_fill(rig.venue.fills[-1])  # the venue tells it again: booked now

    assert len(rig.portfolio.closed_trades) == 1
    trades = alerts.performance.to_state()["trades"]
    assert len(trades) == 1, trades  # one losing trade: not yet the 2 the win rate reads
    queued = [a.rule for a in alerts._queues[0]._queue]  # type: ignore[attr-defined]
    assert queued == ["position_opened", "position_closed"]  # no win rate over a repeat


async def test_a_cancel_whose_commit_fails_is_journaled_when_the_venue_repeats_it(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage)
    placed = (await rig.orders.submit(limit_buy(amount="0.002", price="49000"))).order
    assert placed is not None
    cid = placed.client_order_id
    rig.venue.orders[cid].status = OrderStatus.CANCELLED  # cancelled on the venue's side
    report = rig.venue.report(cid)
    failing.armed = 1
    with pytest.raises(OperationalError):
        rig.orders.on_order_report(report)
    assert placed.status is not OrderStatus.CANCELLED  # as the journal has it
    assert cid in rig.orders.open

    rig.orders.on_order_report(report)  # the venue tells it again

    stored = rig.storage.get_order(cid)
    assert stored is not None and stored.status is OrderStatus.CANCELLED
    assert placed.status is OrderStatus.CANCELLED and cid not in rig.orders.open


def test_a_settlement_whose_fill_commit_fails_is_booked_at_the_next_pass(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage, fills_only=True)
    pf = rig.portfolio
    book = pf.book("stub")
    book.set("M:YES", D(10))
    book.set("USD", D(96))
    pos = pf.position("stub", "M:YES/USD", "s1")
    pos.apply(Side.BUY, D("0.4"), D(10), D(0), 1_000_000, D(0))
    resolved = Settlement("stub", "M", Resolution.YES, D(10), D(0), D(10), "USD", 1_000_600)
    failing.armed = 1
    with pytest.raises(OperationalError):
        apply_settlement(rig.orders, resolved, 1_000_600)
    assert pos.quantity == D(10) and book.total("USD") == D(96)  # as the journal has it

    fills = apply_settlement(rig.orders, resolved, 1_000_700)  # the next pass sees it again

    assert [(f.side, f.price, f.amount) for f in fills] == [(Side.SELL, D(1), D(10))]
    assert pos.quantity == 0 and book.total("USD") == D(106)
    assert [f.trade_id for f in rig.storage.load_fills()] == [fills[0].trade_id]
    assert apply_settlement(rig.orders, resolved, 1_000_800) == []  # booked once


def test_a_fill_whose_writes_fail_leaves_no_audit_event_for_the_next_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tradeguard.config import Config, default_config
    from tradeguard.node import TradingNode

    doc = default_config()
    doc.setdefault("node", {}).update(
        database_url=f"sqlite:///{tmp_path / 'tg.db'}", kill_sentinel=str(tmp_path / "k")
    )
    node = TradingNode(Config.model_validate(doc))
    try:
        fill = failed_paper_buy(node, monkeypatch)

        node.orders.on_fill(fill)  # the venue tells it again: booked now
        node.flush_audit()

        assert [f.trade_id for f in node.storage.load_fills()] == ["x1"]
        told = node.storage.load_events(kind_prefix="fill")
        assert len(told) == 1, told  # one fill, one audit event
    finally:
        node.close()
