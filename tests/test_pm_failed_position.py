"""A fill booked of a Polymarket trade that later FAILED on chain made a strategy position of
contracts that never existed. Flagging it reverses that position once, durably, in the flag's
own commit: no reconciliation warns of a position the venue does not hold, nothing exits
contracts that are not there, and the history keeps the fill and its reversal. The ledger's
balances are the venue's adjustment's alone (not corrected twice)."""

from __future__ import annotations

from decimal import Decimal

from pm_merge_support import buy, demo_clob, pm_config, running
from test_pm_node_crash import POLY_YES
from tradeguard.execution.ledger_audit import audit_storage
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import TradingState

BASE = POLY_YES.split("/")[0]
FILL_REVERSED = "fill.reversed"  # execution/failed_positions.py


def _events(node, kind: str) -> list:
    return [e for e in node.storage.load_events(limit=500) if e.kind == kind]


def _audited(node) -> None:
    """The start's ledger audit passed (no halt) and the durable ledger audits clean: the
    fill's move is netted out of the position it no longer explains."""
    assert node.risk.state is not TradingState.HALTED
    assert audit_storage(node.storage, rounded={"polymarket"}).positions == []


async def test_a_failed_fill_s_position_is_reversed_once_and_stays_so_across_restarts(
    tmp_path, monkeypatch
) -> None:
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            cash = node.portfolio.book("polymarket").total("PUSD")
            before = (node.portfolio.realized_pnl, node.portfolio.fees_paid)
            await buy(node, POLY_YES)
            (fill,) = node.storage.load_fills(venue="polymarket")
            pos = node.portfolio.position("polymarket", POLY_YES, "s1")
            assert pos.quantity == 10 and fill.fee > 0
            server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
            report = await reconcile_and_gate(node)
            assert [f["trade_id"] for f in report.fills_failed] == [fill.trade_id]
            assert pos.quantity == 0 and node.portfolio.open_positions() == []
            assert report.position_mismatches == []
            assert node.storage.load_open_positions() == []  # durably, in the flag's commit
            book = node.portfolio.book("polymarket")
            assert book.total(BASE) == 0 and book.total("PUSD") == cash  # not corrected twice
            # the fee the cash got back is no cost either: P&L as before the fill, no trip closed
            assert (node.portfolio.realized_pnl, node.portfolio.fees_paid) == before
            assert (pos.realized_pnl, pos.fees) == (0, 0) and node.portfolio.closed_trades == []
            (reversed_,) = _events(node, FILL_REVERSED)
            assert reversed_.data["trade_id"] == fill.trade_id
            assert reversed_.data["quantity"] == "10" and reversed_.data["strategy_id"] == "s1"
            again = await reconcile_and_gate(node)
            assert again.position_mismatches == [] and again.fills_failed == []
            assert len(_events(node, FILL_REVERSED)) == 1
        for _ in range(2):  # restarts: the reversal holds, told once, the fill still listed
            async with running(cfg) as node:
                assert node.portfolio.position("polymarket", POLY_YES, "s1").quantity == 0
                assert node.portfolio.open_positions() == []
                assert node.portfolio.realized_pnl == before[0]
                _audited(node)
                report = node.storage.kv_get("reconcile.report")
                assert report["position_mismatches"] == [] and report["ok"], report
                assert report["ledger_differences"] == [], report
                assert node.storage.load_fills(venue="polymarket") == [fill]
                assert len(_events(node, FILL_REVERSED)) == 1
                book = node.portfolio.book("polymarket")
                assert book.total(BASE) == 0 and book.total("PUSD") == cash


async def test_a_fill_that_failed_while_down_is_reversed_at_start_up(tmp_path, monkeypatch) -> None:
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            await buy(node, POLY_YES)
            (fill,) = node.storage.load_fills(venue="polymarket")
        server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
        for _ in range(2):
            async with running(cfg) as node:
                assert node.portfolio.position("polymarket", POLY_YES, "s1").quantity == 0
                report = node.storage.kv_get("reconcile.report")
                assert report["position_mismatches"] == [] and report["ok"], report
                assert len(_events(node, FILL_REVERSED)) == 1
                assert node.portfolio.book("polymarket").total(BASE) == Decimal(0)
                _audited(node)


async def test_the_round_trip_a_failed_sale_closed_is_no_longer_counted(
    tmp_path, monkeypatch
) -> None:
    """Before, the round trip a sale closed stayed in the closed trades and the closed position
    rows after the sale's trade FAILED: the position reopened beside its own close, and the
    real close, when it came, was counted a second time."""
    from tradeguard.model.enums import OrderStatus, OrderType, Side
    from tradeguard.model.order import OrderIntent

    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            await buy(node, POLY_YES)
            quote = await node.venues["polymarket"].fetch_quote(POLY_YES)
            await node.on_quote(quote)
            placed = await node.submit(OrderIntent(
                "s1", "polymarket", POLY_YES, Side.SELL, Decimal(10), OrderType.LIMIT, quote.bid
            ))  # fmt: skip
            assert placed.order is not None and placed.order.status is OrderStatus.FILLED
            assert len(node.portfolio.closed_trades) == 1
            assert len(node.storage.load_position_rows(status="closed")) == 1
            assert node.figures().trades["s1"].trades == 1  # the run's totals count it
            sale = next(
                f for f in node.storage.load_fills(venue="polymarket") if f.side is Side.SELL
            )
            server.set_trade_status(sale.trade_id.rsplit("-", 1)[0], "FAILED")
            report = await reconcile_and_gate(node)
            assert [f["trade_id"] for f in report.fills_failed] == [sale.trade_id]
            assert node.portfolio.position("polymarket", POLY_YES, "s1").quantity == 10
            assert node.portfolio.closed_trades == []  # the close never happened
            assert node.storage.load_position_rows(status="closed") == []
            totals = node.figures().trades["s1"]
            assert (totals.trades, totals.wins, totals.pnl) == (0, 0, 0)
            [held] = node.storage.load_open_positions()
            assert held.quantity == 10
        async with running(cfg) as node:  # a restart reads the same
            assert node.storage.load_position_rows(status="closed") == []
            assert node.portfolio.position("polymarket", POLY_YES, "s1").quantity == 10
            assert node.figures().trades.get("s1") is None  # no closed row to count
