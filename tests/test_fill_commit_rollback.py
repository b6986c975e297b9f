"""A fill whose commit fails leaves the in-memory ledger as the database has it.

Every path that books a fill moves memory (balances, the position, fees, realised P&L, closed
trades, the order's filled quantity, the risk engine's streak) before its commit. When the
commit fails the journal keeps nothing, so memory must keep nothing either: the venue reports
the fill again (a stream's repeat, a reconciliation's catch-up, the next sync pass) and it is
then booked, once.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from execution_stubs import SYMBOL, Rig, limit_buy, make_rig
from tradeguard.execution.gateway import OrderPathGateway
from tradeguard.execution.ledger_audit import START_BALANCES_KEY
from tradeguard.execution.outcome_merge import book_merges
from tradeguard.execution.reconcile import reconcile_all
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide, OrderStatus, OrderType, Side
from tradeguard.model.fill import Fill
from tradeguard.model.holdings import HOLDINGS
from tradeguard.model.order import OrderIntent
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.engine import RiskEngine
from tradeguard.risk.store import MemoryStateStore
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

D = Decimal
YES, NO = "M:YES/USD", "M:NO/USD"


class FailingCommit:
    """A commit hook that makes the next `armed` commits fail as a locked database does."""

    def __init__(self, storage: Storage, fills_only: bool = False) -> None:
        self.armed = 0
        self.storage = storage
        self.fills = 0
        self.fills_only = fills_only  # only a commit that holds a new fill fails
        storage.add_commit_hook(self)

    def __call__(self) -> None:
        if self.fills_only:
            held = len(self.storage.load_fills())  # read in the commit's own transaction
            if held == self.fills:
                return
            self.fills = held
        if self.armed:
            self.armed -= 1
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))


def _ledger(rig: Rig) -> dict[str, Any]:
    """What a fill moves in memory, in one comparable figure."""
    pf = rig.portfolio
    return {
        "balances": {b.asset: (b.free, b.locked) for b in pf.all_balances() if b.free or b.locked},
        "positions": {k: (p.quantity, p.avg_entry, p.realized_pnl, p.fees)
                      for k, p in pf.positions.items() if p.quantity or p.realized_pnl},
        "fees": pf.fees_paid,
        "realized": pf.realized_pnl,
        "closed": len(pf.closed_trades),
        "orders": {c: (o.status, o.filled, o.avg_price, frozenset(o.trade_ids))
                   for c, o in rig.orders.orders.items()},
    }  # fmt: skip


def _engine(rig: Rig) -> RiskEngine:
    config = RiskConfig(cooldown_after_loss_s=60, max_consecutive_losses=5)
    return RiskEngine(config, rig.clock, MemoryStateStore(), lambda e: None)


def _foreign(
    trade_id: str, symbol: str, side: Side, price: str, amount: str, fee: str = "0"
) -> Fill:
    quote = symbol.split("/")[1]
    return Fill(
        "stub", symbol, "", "", trade_id, side, D(price), D(amount), D(fee), quote,
        LiquiditySide.TAKER, 1_000_500,
    )  # fmt: skip


async def test_an_order_fill_whose_commit_fails_is_booked_once_when_the_venue_repeats_it(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage)
    buy = (await rig.orders.submit(limit_buy(amount="0.002", price="50000"))).order
    sell_intent = OrderIntent(
        "s1", "stub", SYMBOL, Side.SELL, D("0.002"), OrderType.LIMIT, D("49000")
    )
    sell = (await rig.orders.submit(sell_intent)).order
    assert buy is not None and sell is not None
    engine = rig.orders.risk = _engine(rig)  # type: ignore[assignment]
    rig.venue.execute(buy.client_order_id, D("0.002"), D("50000"))
    before = _ledger(rig)
    failing.armed = 1
    with pytest.raises(OperationalError, match="database is locked"):
        rig.venue.execute(sell.client_order_id, D("0.002"), D("49000"))  # a loss of 2 USDT
    assert _ledger(rig) == before
    assert engine.consecutive_losses == 0 and (("s1", SYMBOL) not in engine.cooldowns)
    assert [f.trade_id for f in rig.storage.load_fills()] == ["t1"]

    rig.orders.on_fill(rig.venue.fills[-1])  # the venue tells it again
    rig.orders.on_fill(rig.venue.fills[-1])  # and again: booked already

    assert sorted(f.trade_id for f in rig.storage.load_fills()) == ["t1", "t2"]
    book = rig.portfolio.book("stub")
    assert book.total("BTC") == 0 and book.total("USDT") == D(-2)
    pos = rig.portfolio.positions[("stub", SYMBOL, "s1")]
    assert pos.quantity == 0 and rig.portfolio.realized_pnl == D(-2)
    assert len(rig.portfolio.closed_trades) == 1
    assert sell.filled == D("0.002") and sell.status is OrderStatus.FILLED
    assert rig.storage.get_order(sell.client_order_id).status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert engine.consecutive_losses == 1 and ("s1", SYMBOL) in engine.cooldowns


async def test_a_foreign_fill_whose_commit_fails_moves_the_balances_once(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage)
    rig.portfolio.book("stub").set("USDT", D(1000))
    fill = _foreign("x1", SYMBOL, Side.BUY, "50000", "0.01", fee="0.5")
    before = _ledger(rig)
    failing.armed = 1
    with pytest.raises(OperationalError):
        rig.orders.on_fill(fill)
    assert _ledger(rig) == before and "BTC" not in rig.portfolio.book("stub").assets()

    rig.orders.on_fill(fill)
    rig.orders.on_fill(fill)

    book = rig.portfolio.book("stub")
    assert book.total("BTC") == D("0.01") and book.total("USDT") == D("499.5")
    assert rig.portfolio.fees_paid == D("0.5")
    assert [f.trade_id for f in rig.storage.load_fills()] == ["x1"]


async def test_an_order_query_whose_fill_commit_fails_books_the_fill_at_its_retry(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    await reconcile_all(rig)
    placed = (await rig.orders.submit(limit_buy(amount="0.002"))).order
    assert placed is not None
    cid = placed.client_order_id
    rig.venue.execute(cid, D("0.002"), D("49000"), push=False)  # made while the node was down
    restarted = rig.restart()
    failing = FailingCommit(restarted.storage, fills_only=True)
    failing.armed = 1

    report = await reconcile_all(restarted)  # the start's query of the order, asked again

    assert failing.armed == 0 and report.ok, report.reason
    assert [f.trade_id for f in restarted.storage.load_fills()] == ["t1"]
    order = restarted.orders.orders[cid]
    assert order.filled == D("0.002") and order.status is OrderStatus.FILLED
    assert restarted.portfolio.positions[("stub", SYMBOL, "s1")].quantity == D("0.002")


async def test_the_start_catch_up_whose_commit_fails_books_the_fill_at_the_next_pass(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    await reconcile_all(rig)
    # a trade made on the account by hand while the node was down
    rig.venue.fills.append(_foreign("x1", SYMBOL, Side.BUY, "50000", "0.01"))
    rig.venue.balances["BTC"] += D("0.01")
    rig.venue.balances["USDT"] -= 500
    restarted = rig.restart()
    book = restarted.portfolio.book("stub")
    held = (book.total("BTC"), book.total("USDT"))
    failing = FailingCommit(restarted.storage, fills_only=True)
    failing.armed = 1
    failed = await reconcile_all(restarted)  # the start's reconciliation fails: no trading
    assert not failed.ok and "database is locked" in failed.reason, failed.reason
    assert (book.total("BTC"), book.total("USDT")) == held
    assert restarted.storage.load_fills() == []

    report = await reconcile_all(restarted)
    again = await reconcile_all(restarted)

    assert report.fills_recovered == 1 and again.fills_recovered == 0
    assert [f.trade_id for f in restarted.storage.load_fills()] == ["x1"]
    assert (book.total("BTC"), book.total("USDT")) == (held[0] + D("0.01"), held[1] - 500)
    assert report.ok and report.ledger_differences == [], report.to_json()


def _netting_rig(tmp_path: Path, yes: str, no: str, usd: str) -> tuple[Rig, FailingCommit]:
    rig = make_rig(tmp_path)
    book = rig.portfolio.book("stub")
    for asset, held in (("M:YES", yes), ("M:NO", no), ("USD", usd)):
        book.set(asset, D(held))
    start = {"M:YES": yes, "M:NO": no, "USD": usd}
    rig.storage.kv_set(START_BALANCES_KEY, {"stub": start})
    return rig, FailingCommit(rig.storage)


def _nettings(rig: Rig) -> list[Fill]:
    return [f for f in rig.storage.load_fills() if f.trade_id.startswith("net-")]


async def test_a_fill_and_its_netting_whose_commit_fails_are_booked_once(tmp_path: Path) -> None:
    rig, failing = _netting_rig(tmp_path, "0", "10", "100")
    rig.venue.nets_outcome_pairs = True  # type: ignore[attr-defined]
    fill = _foreign("y1", YES, Side.BUY, "0.40", "10")  # 10 YES with 10 NO held: netted
    before = _ledger(rig)
    failing.armed = 1
    with pytest.raises(OperationalError):
        rig.orders.on_fill(fill)
    assert _ledger(rig) == before and rig.orders.orders == {}

    rig.orders.on_fill(fill)
    rig.orders.on_fill(fill)

    book = rig.portfolio.book("stub")
    assert (book.total("M:YES"), book.total("M:NO"), book.total("USD")) == (0, 0, D(106))
    assert len(_nettings(rig)) == 2 and len(rig.storage.load_fills()) == 3


async def test_a_ledger_netting_whose_commit_fails_is_booked_when_asked_again(
    tmp_path: Path,
) -> None:
    rig, failing = _netting_rig(tmp_path, "9", "10", "100")
    rig.orders.on_fill(_foreign("y1", YES, Side.BUY, "0.40", "1"))  # not netted then
    rig.venue.nets_outcome_pairs = True  # type: ignore[attr-defined]
    before = _ledger(rig)
    failing.armed = 1
    with pytest.raises(OperationalError):
        rig.orders.net_ledger("stub")
    assert _ledger(rig) == before and _nettings(rig) == []

    assert rig.orders.net_ledger("stub") == 2
    assert rig.orders.net_ledger("stub") == 0

    book = rig.portfolio.book("stub")
    assert (book.total("M:YES"), book.total("M:NO"), book.total("USD")) == (0, 0, D("109.6"))
    assert len(_nettings(rig)) == 2


async def test_a_merge_whose_commit_fails_is_booked_at_the_next_pass(tmp_path: Path) -> None:
    rig, failing = _netting_rig(tmp_path, "10", "10", "100")
    reported = [Balance("stub", "USD", D(110))]  # 10 YES + 10 NO merged into 10 USD

    async def no_trades(symbol: str) -> tuple[list[Fill], bool]:
        return [], True  # the whole listing read: nothing of these markets

    before = _ledger(rig)
    failing.armed = 1
    with pytest.raises(OperationalError):
        await book_merges(rig.orders, no_trades, "stub", reported, 1_000_600)
    assert _ledger(rig) == before and _nettings(rig) == []

    assert await book_merges(rig.orders, no_trades, "stub", reported, 1_000_700) == ""
    assert await book_merges(rig.orders, no_trades, "stub", reported, 1_000_800) == ""

    book = rig.portfolio.book("stub")
    assert (book.total("M:YES"), book.total("M:NO"), book.total("USD")) == (0, 0, D(110))
    assert len(_nettings(rig)) == 2
    assert {o.strategy_id for o in rig.orders.orders.values()} == {HOLDINGS}


async def test_a_late_fill_rewrite_whose_commit_fails_counts_its_result_once_retried(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage)
    engine = _engine(rig)
    gateway = OrderPathGateway(rig.orders, engine, "stub", "tri")  # type: ignore[arg-type]
    settlement = ("tri:late:1:c1", (SYMBOL,), D(-5), 1_000_500)
    failing.armed = 1
    with pytest.raises(OperationalError):
        gateway.amend_execution(None, {}, settlement, {"n": 1})
    assert engine.consecutive_losses == 0 and engine.settlements_seen.get("tri", []) == []
    assert ("tri", SYMBOL) not in engine.cooldowns

    assert gateway.amend_execution(None, {}, settlement, {"n": 1}) is True
    assert gateway.amend_execution(None, {}, settlement, {"n": 1}) is False
    assert engine.consecutive_losses == 1
    assert engine.settlements_seen["tri"] == ["tri:late:1:c1"]


def _storage(tmp_path: Path) -> Storage:
    db = Database(f"sqlite:///{tmp_path / 'undo.db'}")
    db.migrate()
    return Storage(db)


def test_what_memory_changed_goes_back_newest_first_only_when_the_transaction_rolls_back(
    tmp_path: Path,
) -> None:
    storage = _storage(tmp_path)
    done: list[str] = []
    with pytest.raises(RuntimeError), storage.transaction():
        storage.on_rollback(lambda: done.append("outer"))
        with storage.transaction():  # joins the open one: undone with it
            storage.on_rollback(lambda: done.append("inner"))
        raise RuntimeError("fails")
    assert done == ["inner", "outer"]
    with storage.transaction():
        storage.on_rollback(lambda: done.append("committed"))
    with pytest.raises(RuntimeError), storage.transaction():
        raise RuntimeError("a later transaction fails")
    storage.on_rollback(lambda: done.append("outside"))  # each write commits: nothing kept
    with pytest.raises(RuntimeError), storage.transaction():
        raise RuntimeError("and another")
    assert done == ["inner", "outer"]


def test_a_unit_of_work_undoes_what_its_failed_commit_held(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    failing = FailingCommit(storage)
    done: list[str] = []
    with pytest.raises(OperationalError), storage.holding_connection(), storage.unit_of_work():
        storage.kv_set("a", 1)
        storage.on_rollback(lambda: done.append("a"))
        storage.commit_unit()  # durable: its entry is dropped
        storage.kv_set("b", 2)
        storage.on_rollback(lambda: done.append("b"))
        failing.armed = 1  # the unit's last commit, at the block's end, fails
    assert done == ["b"]
    assert storage.kv_get("a") == 1 and storage.kv_get("b") is None


def test_a_backtest_unit_keeps_no_undo_its_failed_commit_ends_the_run(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    assert not storage.keeps_undo  # outside a transaction: each write commits at once
    with storage.holding_connection(), storage.unit_of_work(batch=True):
        assert not storage.keeps_undo
    with storage.transaction():
        assert storage.keeps_undo
