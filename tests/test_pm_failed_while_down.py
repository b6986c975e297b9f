"""A Polymarket trade booked while MATCHED that FAILED on chain while the node was stopped: the
start-up reconciliation flags it (`fills_failed`) and, that difference explained, the ledger
takes the venue's figures (an adjustment) instead of halting on a ledger difference; later
starts agree with the venue."""

from __future__ import annotations

from pm_merge_support import buy, demo_clob, pm_config, running
from test_pm_node_crash import POLY_YES
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import TradingState
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.node.cash_flows import CASH_FLOW_EVENT, apply_cash_flows
from tradeguard.venues.polymarket.venue import PolymarketVenue


async def test_a_fill_that_failed_while_the_node_was_down_is_flagged_and_adjusted(
    tmp_path, monkeypatch
) -> None:
    base = POLY_YES.split("/")[0]
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            cash = node.portfolio.book("polymarket").total("PUSD")
            await buy(node, POLY_YES)
            (fill,) = node.storage.load_fills(venue="polymarket")
        server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
        async with running(cfg) as node:
            report = node.storage.kv_get("reconcile.report")
            (flagged,) = report["fills_failed"]
            assert flagged["trade_id"] == fill.trade_id
            assert flagged["client_order_id"] == fill.client_order_id != ""  # the order booked
            assert report["ledger_differences"] == [] and report["ok"], report
            assert {r["asset"] for r in report["balance_adjustments"]} == {"PUSD", base}
            assert node.risk.state is not TradingState.HALTED
            book = node.portfolio.book("polymarket")
            assert book.total(base) == 0 and book.total("PUSD") == cash
        async with running(cfg) as node:  # the durable ledger holds the adjustment
            report = node.storage.kv_get("reconcile.report")
            assert report["ledger_differences"] == [] and report["ok"], report
            assert report["fills_failed"] == [] and report["balance_adjustments"] == []


async def test_a_fill_failed_between_starts_is_no_cash_flow(tmp_path, monkeypatch) -> None:
    """The periodic reconciliation's adjustment of a fill flagged FAILED puts back money that
    never moved: no deposit moving the loss baselines, no alert of contracts gone unexplained."""
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            await buy(node, POLY_YES)
            (fill,) = node.storage.load_fills(venue="polymarket")
            apply_cash_flows(node)
            day_start = node.risk.day_start_equity
            server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
            report = await reconcile_and_gate(node)
            assert [f["trade_id"] for f in report.fills_failed] == [fill.trade_id]
            assert len(report.balance_adjustments) == 2
            apply_cash_flows(node)
            assert node.risk.day_start_equity == day_start
            kinds = [e.kind for e in node.storage.load_events(limit=500)]
            assert CASH_FLOW_EVENT not in kinds


async def test_a_flagged_fill_whose_balances_went_unread_is_taken_at_the_next_start(
    tmp_path, monkeypatch
) -> None:
    """The start that flags the fill cannot read the venue's balances (the reconciliation
    fails after the flag): the next start, the fill told already, still books its difference
    as the FAILED trade's rather than halting on a ledger difference."""
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            await buy(node, POLY_YES)
            (fill,) = node.storage.load_fills(venue="polymarket")
        server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")

        async def unread(self):
            raise AmbiguousVenueError("polymarket", "balances not answered")

        with monkeypatch.context() as m:
            m.setattr(PolymarketVenue, "fetch_balances", unread)
            async with running(cfg) as node:
                report = node.storage.kv_get("reconcile.report")
                assert not report["ok"] and report["fills_failed"] != [], report
        async with running(cfg) as node:
            report = node.storage.kv_get("reconcile.report")
            assert report["ledger_differences"] == [] and report["ok"], report
            assert node.risk.state is not TradingState.HALTED
            assert {r["asset"] for r in report["balance_adjustments"]} == {
                "PUSD", POLY_YES.split("/")[0],
            }  # fmt: skip


async def test_a_trade_read_failed_during_the_balance_read_is_no_unexplained_adjustment(
    tmp_path, monkeypatch
) -> None:
    """The reconciliation's flag step found nothing FAILED; a listing during the balance read
    (the one that lists again when the figures are off the ledger) reads the trade FAILED.
    Before, the set of fills flagged and not yet taken by a balance read was built without
    it: the balance read booked its difference as an unexplained adjustment, a cash flow
    moving the loss baselines and alerting. Now it is flagged with the read: no cash flow."""
    from tradeguard.execution.reconcile import ReconcileReport
    from tradeguard.execution.reconcile_balances import apply_balances

    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            await buy(node, POLY_YES)
            (fill,) = node.storage.load_fills(venue="polymarket")
            apply_cash_flows(node)
            day_start = node.risk.day_start_equity
            server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
            venue = node.venues["polymarket"]
            await venue.fetch_fills(POLY_YES, fill.ts - 60_000)  # read late: FAILED
            assert fill.trade_id in venue.failed_fills
            report = ReconcileReport(trigger="periodic")
            apply_balances(node, "polymarket", await venue.fetch_balances(), report)
            reasons = {r["reason"] for r in node.storage.load_balance_adjustments()}
            assert reasons and all("FAILED on chain" in r for r in reasons), reasons
            apply_cash_flows(node)
            assert node.risk.day_start_equity == day_start
            kinds = [e.kind for e in node.storage.load_events(limit=500)]
            assert CASH_FLOW_EVENT not in kinds
            assert [f["trade_id"] for f in report.fills_failed] == [fill.trade_id]
