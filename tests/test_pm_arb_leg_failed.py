"""A complete pair whose Polymarket leg's trade FAILED on chain (the reconciliation flagged the
fill) holds its Kalshi leg alone: the pair is cut to that lone leg, recorded held with a critical
alert, shrunk and retried like any lone leg, and offered for sale under the `unwind` policy."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from decimal import Decimal
from typing import Any

import pytest

from pm_arb_support import StubGateway
from pm_support import arb_servers, completed_arb_pair
from test_pm_arb_executor import K_YES, PM_NO, _setup
from test_pm_arb_held_retry import _rows
from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.fill import Fill
from tradeguard.strategies.cross_venue.executor import PairExecutor
from tradeguard.strategies.cross_venue.held_retry import held_legs, retry_unwind
from tradeguard.strategies.cross_venue.held_sync import shrink_held
from tradeguard.strategies.cross_venue.leg_failed import cut_failed_leg

D = Decimal
K_BASE, PM_BASE = K_YES.split("/")[0], PM_NO.split("/")[0]


async def _complete(**kw: object) -> tuple[PairExecutor, StubGateway, StubGateway, Fill]:
    executor, k, pm, opp = _setup([(D("0.40"), D(10))], [(D("0.55"), D(50))], **kw)
    rec = await executor.execute(opp)
    assert rec.outcome == "completed"
    [order] = pm.sent
    [leg] = [leg for leg in rec.legs if leg.venue == "pm"]
    cid = order.client_order_id
    fill = Fill("pm", PM_NO, cid, cid, f"{cid}-0", Side.BUY, leg.avg_price, leg.filled, leg.fee,
                "PUSD", LiquiditySide.TAKER, order.created_ts)  # fmt: skip
    return executor, k, pm, fill


def _holds(amounts: dict[str, Decimal]):
    return lambda asset: amounts.get(asset, D(0))


async def test_a_pair_whose_leg_failed_is_cut_to_a_lone_leg_held_with_a_critical_alert() -> None:
    executor, k, pm, fill = await _complete()
    [pair] = executor.book.open
    assert not pair.lone and pair.capital == D("9.7195")
    seen = len(pm.observed)
    leg = cut_failed_leg(executor, fill, "fed")
    assert leg is not None and (leg.venue, leg.symbol, leg.contracts) == ("k", K_YES, D(10))
    # what the Kalshi leg cost: 10 at 0.40 and its 0.17 fee (the failed leg's 5.5 + fee is back)
    assert leg.capital == D("4.17")
    [lone] = executor.book.open
    assert lone.lone and lone.legs == (K_YES,) and lone.venues == ("k",)
    assert (lone.contracts, lone.capital, lone.record_id) == (D(10), D("4.17"), leg.record_id)
    row = pm.rows[-1]
    assert row["outcome"] == "held" and row["legs"]["code"] == "LEG_FAILED"
    assert row["legs"]["held"] == {K_YES: "10"} and fill.trade_id in row["legs"]["reason"]
    [alert] = [e for e in (*k.events, *pm.events) if e.kind == "arb.held"]
    assert alert.severity == "critical" and alert.data["failed_trade_id"] == fill.trade_id
    assert "10 KXFED:YES/USD held unhedged on k" in alert.data["message"]
    assert pm.observed[seen:] == []  # nothing traded nor realised: no cycle for the risk engine
    # a held record like a failed second leg's: a retry reads it
    [read] = held_legs(_rows(pm))
    assert (read.record_id, read.venue, read.contracts, read.capital) == (
        leg.record_id, "k", D(10), D("4.17")
    )  # fmt: skip


async def test_the_lone_leg_a_failed_trade_left_is_shrunk_like_any_other() -> None:
    # Before, the pair stayed complete: the shrink rules never touch complete pairs, so the
    # Kalshi contracts sold by hand stayed claimed, and the Polymarket leg the venue no
    # longer holds went on counting.
    executor, _k, _pm, fill = await _complete()
    assert shrink_held(executor, "pm", _holds({})) == []  # complete: never shrunk
    cut_failed_leg(executor, fill, "fed")
    assert shrink_held(executor, "pm", _holds({})) == []  # nothing claimed there any more
    [rec] = shrink_held(executor, "k", _holds({K_BASE: D(4)}))
    assert rec.held == {K_YES: D(4)} and rec.retry_of == executor.book.open[0].record_id
    assert executor.book.open[0].contracts == D(4)


async def test_a_partly_failed_leg_leaves_the_rest_of_the_pair_complete() -> None:
    executor, _k, _pm, fill = await _complete()
    part = dataclasses.replace(fill, amount=D(4), fee=fill.fee * 4 / 10)
    leg = cut_failed_leg(executor, part, "fed")
    assert leg is not None and leg.contracts == D(4)
    pair, lone = executor.book.open
    assert (pair.contracts, pair.lone) == (D(6), False)
    assert pair.capital == D("9.7195") * 6 / 10
    assert (lone.contracts, lone.legs) == (D(4), (K_YES,))
    assert lone.capital == D("9.7195") * 4 / 10 - (D("0.55") * 4 + fill.fee * 4 / 10)


async def test_no_complete_pair_holding_the_leg_cuts_nothing() -> None:
    executor, _k, pm, fill = await _complete()
    cut_failed_leg(executor, fill, "fed")
    rows = len(pm.rows)
    assert cut_failed_leg(executor, fill, "fed") is None  # told twice: the pair is cut once
    assert len(pm.rows) == rows


async def test_under_the_unwind_policy_the_lone_leg_is_sold_within_the_cap() -> None:
    executor, k, pm, fill = await _complete(max_unwind_loss_usd=D(2))
    k.bids[K_YES] = [(D("0.30"), D(10))]
    leg = cut_failed_leg(executor, fill, "fed")
    assert leg is not None
    rec = await retry_unwind(executor, leg, executor.config.max_unwind_loss_usd)
    assert rec is not None and rec.outcome == "unwound" and rec.retry_of == leg.record_id
    assert executor.book.open == [] and held_legs(_rows(pm)) == []
    assert -rec.actual_profit <= D(2)


async def test_the_strategy_offers_the_lone_leg_at_once_under_unwind_and_not_under_hold(
    tmp_path,
) -> None:
    from test_pm_arb_crossed_book import MAP
    from tradeguard.strategies.cross_venue.strategy import CrossVenueStrategy

    (tmp_path / "map.toml").write_text(MAP)
    for policy, sold in (("unwind", True), ("hold", False)):
        params = {"map": str(tmp_path / "map.toml"), "kalshi_venue": "k",
                  "exec": {"on_interrupted": policy, "max_unwind_loss_usd": "2"}}  # fmt: skip
        strat = CrossVenueStrategy("pmarb", "pm", "", params)
        executor, k, _pm, fill = await _complete(on_interrupted=policy, max_unwind_loss_usd=D(2))
        strat.executor = executor
        strat._started = True  # running (on_start done): a cut at start waits for it
        k.bids[K_YES] = [(D("0.30"), D(10))]
        out = strat.leg_failed(fill, {"pair_id": "fed", "arb": "leg"})
        assert out is not None and out["contracts"] == "10"
        await asyncio.sleep(0)
        while strat._failed_unwinds:
            await asyncio.gather(*strat._failed_unwinds)
        sells = [o for o in k.sent if o.side.value == "sell"]
        assert bool(sells) is sold, policy
        assert (executor.book.open == []) is sold


async def test_a_leg_cut_by_the_start_s_reconciliation_is_not_offered_before_the_start(
    tmp_path,
) -> None:
    from test_pm_arb_crossed_book import MAP
    from tradeguard.strategies.cross_venue.strategy import CrossVenueStrategy

    (tmp_path / "map.toml").write_text(MAP)
    params = {"map": str(tmp_path / "map.toml"), "kalshi_venue": "k"}
    strat = CrossVenueStrategy("pmarb", "pm", "", params)
    executor, k, _pm, fill = await _complete()
    strat.executor = executor
    assert strat.leg_failed(fill, {"pair_id": "fed"}) is not None
    await asyncio.sleep(0)
    assert strat._failed_unwinds == set() and [o for o in k.sent if o.side.value == "sell"] == []
    assert [leg.contracts for leg in strat._failed_waiting] == [D(10)]  # offered at on_start


class _RefuseFlag:
    """A commit hook refusing, once, the commit that flags `trade_id` (as a locked database)."""

    def __init__(self, storage: Any, trade_id: str) -> None:
        self.storage, self.trade_id, self.armed = storage, trade_id, True
        storage.add_commit_hook(self)

    def __call__(self) -> None:
        from sqlalchemy.exc import OperationalError

        from tradeguard.execution.failed_fills import FLAGGED_KEY

        if self.armed and self.trade_id in str(self.storage.kv_get(FLAGGED_KEY)):
            self.armed = False  # read in the commit's own transaction
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))


@pytest.mark.parametrize(("policy", "refused"), [("hold", False), ("unwind", False),
                                                ("hold", True)])  # fmt: skip
async def test_a_node_whose_polymarket_leg_failed_holds_the_kalshi_leg_alone(
    tmp_path, monkeypatch, policy: str, refused: bool
) -> None:
    """Both local servers, a real node: a pair completes, then the CLOB reports its Polymarket
    trade FAILED. Before, the reconciliation flagged the fill and the pair stayed complete in
    the strategy's book, its Kalshi leg held unhedged with no record nor alert. A flag whose
    commit is refused leaves the pair as it was, cut by the next reconciliation."""
    from sqlalchemy.exc import OperationalError

    from tradeguard.execution.failed_fills import _record_naming, flag_failed_fills
    from tradeguard.execution.reconcile import reconcile_and_gate

    async with completed_arb_pair(tmp_path, monkeypatch, policy) as arb:
        pm, node, strat, done, fill = arb.pm, arb.node, arb.strat, arb.done, arb.fill
        # the pair cut is the one its order's record booked, found in the store (as after
        # a restart, when no attempt of this process names the order)
        assert _record_naming(node.storage, strat.id, fill.client_order_id) == done.record_id
        assert strat.book.open[0].record_id == done.record_id
        pm.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
        if refused:
            venue = node.venues["polymarket"]
            assert await venue.fetch_fills(fill.symbol) == []  # read FAILED
            refuse = _RefuseFlag(node.storage, fill.trade_id)
            with pytest.raises(OperationalError):
                flag_failed_fills(node, "polymarket", venue)
            assert [p.lone for p in strat.book.open] == [False]  # the pair as it was
            assert refuse.armed is False
        report = await reconcile_and_gate(node)
        assert [f["trade_id"] for f in report.fills_failed] == [fill.trade_id]
        # one cut, counted once (a refused commit's record was never written: the
        # strategy's attempts and the node's figures hold only the one committed)
        [cut] = [r for r in strat.attempts if r.code == "LEG_FAILED"]
        assert node.arb_cycles["pmarb"].outcomes["held"] == 1
        if policy == "hold":  # nothing sold: the pair's profit taken back, once
            assert node.arb_cycles["pmarb"].profit == {"USD": D(0)}
        [(symbol, contracts)] = cut.held.items()
        assert cut.outcome == "held" and cut.legs[0].venue == "kalshi" and contracts == 20
        held = [e for e in node.storage.load_events(limit=500) if e.kind == "arb.held"]
        assert [e.data["failed_trade_id"] for e in held] == [fill.trade_id]
        if policy == "hold":
            [lone] = strat.book.open
            assert (lone.venues, lone.legs, lone.contracts) == (("kalshi",), (symbol,), 20)
        else:  # offered at once within max_unwind_loss_usd, as a retry of the record
            while strat._failed_unwinds:
                await asyncio.gather(*strat._failed_unwinds)
            sale = strat.attempts[-1]
            assert sale.retry_of == cut.record_id and sale.outcome == "unwound", sale.reason
            assert -sale.actual_profit <= D(5) and strat.book.open == []
            assert node.portfolio.book("kalshi").total(symbol.split("/")[0]) == 0
        kept = list(strat.book.open)
        again = await reconcile_and_gate(node)  # told once: the pair is cut once
        assert again.fills_failed == [] and strat.book.open == kept


async def test_a_leg_cut_while_running_is_sold_through_the_cooldown_its_pair_s_profit_taken_back(
    tmp_path, monkeypatch
) -> None:
    """A periodic reconciliation cuts the pair while the Kalshi leg's market cools down after
    the pair's trade (risk.cooldown_after_trade_s): the sale offered at once gives back what
    the held record holds, an `arb-unwind` the cooldown lets through as any held leg's sale.
    Before, the completed pair's holdings were no longer counted, so the sale was judged as a
    new order and refused for the cooldown, the leg left held unhedged. The figures take back
    the profit the pair's completed record counted (never had: its leg FAILED)."""
    from tradeguard.execution.reconcile import reconcile_and_gate

    async with completed_arb_pair(
        tmp_path, monkeypatch, "unwind", cooldown_after_trade_s=3600
    ) as arb:
        pm, node, strat, done, fill = arb.pm, arb.node, arb.strat, arb.done, arb.fill
        pm.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
        report = await reconcile_and_gate(node)
        assert [f["trade_id"] for f in report.fills_failed] == [fill.trade_id]
        cut = next(r for r in strat.attempts if r.code == "LEG_FAILED")
        while strat._failed_unwinds:
            await asyncio.gather(*strat._failed_unwinds)
        sale = strat.attempts[-1]
        assert sale.retry_of == cut.record_id and sale.outcome == "unwound", sale.reason
        assert strat.book.open == []
        # the pair's profit its completed record counted is never had: the cut takes it
        # back, so the figures hold what the sale lost, as the money did (before: the
        # sale's loss plus the pair's profit, 0.7558, a loss of 1.10 read as one of 0.34)
        assert cut.actual_profit == -done.actual_profit < 0
        assert sum(node.arb_cycles["pmarb"].profit.values()) == sale.actual_profit
        assert node.figures().realized_pnl == sale.actual_profit


async def test_a_sale_queued_by_a_refused_cut_sends_nothing_beside_another_lone_leg(
    tmp_path,
) -> None:
    """The cut's commit is refused (the book put back, the pair complete) while an older lone
    leg of the same pair and symbol is held: the sale queued for the cut's leg sends nothing.
    Before, the queued sale found that other lone leg under the pair's id and sold the cut's
    20 contracts (the complete pair's hedge), booking the sale against the older leg."""
    from test_pm_arb_crossed_book import MAP
    from tradeguard.strategies.cross_venue.limits import OpenPair
    from tradeguard.strategies.cross_venue.strategy import CrossVenueStrategy

    (tmp_path / "map.toml").write_text(MAP)
    params = {"map": str(tmp_path / "map.toml"), "kalshi_venue": "k",
              "exec": {"on_interrupted": "unwind", "max_unwind_loss_usd": "2"}}  # fmt: skip
    strat = CrossVenueStrategy("pmarb", "pm", "", params)
    executor, k, _pm, fill = await _complete(on_interrupted="unwind", max_unwind_loss_usd=D(2))
    [pair] = executor.book.open
    older = OpenPair(pair.pair_id, pair.event, pair.direction, D(3), D("1.2"),
                     pair.settles_at_ms, ("k",), (K_YES,), record_id=1)  # fmt: skip
    executor.book.open.insert(0, older)
    strat.executor = executor
    strat._started = True
    k.bids[K_YES] = [(D("0.30"), D(50))]
    kept = list(executor.book.open)
    assert strat.leg_failed(fill, {"pair_id": "fed", "arb": "leg"}) is not None
    executor.book.open[:] = kept  # what the refused commit's rollback does (`_cut_pair`)
    while strat._failed_unwinds:
        await asyncio.gather(*strat._failed_unwinds)
    assert [o for o in k.sent if o.side.value == "sell"] == []
    assert executor.book.open == kept


async def test_of_two_pairs_of_one_mapped_pair_the_failed_order_s_own_is_cut() -> None:
    """Before, the pair cut was the newest complete pair of that mapped pair, whichever order
    the failed fill was of: the older pair's failed leg cut the newer pair."""
    executor, k, pm, fill = await _complete()
    [older] = executor.book.open
    k.asks[K_YES] = [(D("0.40"), D(10))]  # offered again
    rec = await executor.execute(_setup([(D("0.40"), D(10))], [(D("0.55"), D(50))])[3])
    assert rec.outcome == "completed" and len(pm.sent) == 2, rec.reason
    newer = executor.book.open[1]
    assert older.pair_id == newer.pair_id and older.record_id != newer.record_id
    leg = cut_failed_leg(executor, fill, "fed")  # the first attempt's order's fill
    assert leg is not None
    [kept, lone] = executor.book.open
    assert kept == newer and lone.lone and lone.record_id == leg.record_id


async def test_a_leg_failed_during_an_attempt_is_cut_once_the_executor_is_idle(
    tmp_path, monkeypatch
) -> None:
    """The reconciliation flags the failed leg while the executor runs an attempt (its lock
    held, as an attempt or a retry holds it): the cut waits. Before, it was applied at once,
    amid the attempt, its book save taking in the attempt's pending state; now the next
    reconciliation with the executor idle cuts it, once."""
    from tradeguard.execution.reconcile import reconcile_and_gate

    async with completed_arb_pair(tmp_path, monkeypatch, "hold") as arb:
        pm, node, strat, fill = arb.pm, arb.node, arb.strat, arb.fill
        pm.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
        async with strat.executor._lock:  # an attempt runs
            report = await reconcile_and_gate(node)
            assert [f["trade_id"] for f in report.fills_failed] == [fill.trade_id]
            assert [p.lone for p in strat.book.open] == [False]  # not cut amid it
            assert [r.code for r in strat.attempts if r.code == "LEG_FAILED"] == []
        await reconcile_and_gate(node)  # idle now: cut
        [cut] = [r for r in strat.attempts if r.code == "LEG_FAILED"]
        assert cut.outcome == "held" and [p.lone for p in strat.book.open] == [True]
        await reconcile_and_gate(node)
        assert [r.code for r in strat.attempts].count("LEG_FAILED") == 1  # once


async def test_a_lone_leg_whose_sale_failed_is_held_again_and_offered() -> None:
    """The retry selling a lone Polymarket leg fills, then its trade FAILS on chain: the
    venue holds the contracts again. Before, the failed sell was ignored: the book and the
    records said sold, its P&L counted, nothing held nor offered for a retry."""
    executor, k, pm, opp = _setup(
        [(D("0.40"), D(50))], [(D("0.55"), D(10))], max_unwind_loss_usd=D("0.50")
    )
    k.refuse.add(K_YES)  # the second leg fails: the Polymarket leg is held alone
    pm.bids[PM_NO] = [(D("0.30"), D(10))]  # selling there would lose more than 0.50
    assert (await executor.execute(opp)).outcome == "held"
    [leg] = held_legs(_rows(pm))
    assert (leg.venue, leg.symbol, leg.contracts) == ("pm", PM_NO, D(10))
    pm.bids[PM_NO] = [(D("0.52"), D(10))]
    sale = await retry_unwind(executor, leg, D(2))
    assert sale.outcome == "unwound" and executor.book.open == [], sale.reason
    order = [o for o in pm.sent if o.side is Side.SELL][-1]  # the retry's (the unwind's before)
    [sold] = [x for x in sale.legs if x.role == "unwind"]
    cid = order.client_order_id
    fill = Fill("pm", PM_NO, cid, cid, f"{cid}-0", Side.SELL, sold.avg_price, sold.filled,
                sold.fee, "PUSD", LiquiditySide.TAKER, order.created_ts)  # fmt: skip
    back = cut_failed_leg(executor, fill, "fed", order=order)
    assert back is not None and (back.venue, back.symbol, back.contracts) == ("pm", PM_NO, 10)
    assert back.record_id == leg.record_id and back.capital == leg.capital
    [lone] = executor.book.open
    assert lone.lone and (lone.contracts, lone.capital) == (D(10), leg.capital)
    row = pm.rows[-1]
    assert row["outcome"] == "held" and row["legs"]["code"] == "SALE_FAILED"
    assert row["legs"]["retry_of"] == leg.record_id and row["legs"]["held"] == {PM_NO: "10"}
    assert sale.actual_profit + executor.attempts[-1].actual_profit == 0  # the sale's P&L back
    [alert] = [e for e in pm.events if e.kind == "arb.held" and "failed_trade_id" in e.data]
    assert alert.severity == "critical" and alert.data["failed_trade_id"] == fill.trade_id
    [again] = held_legs(_rows(pm))  # offered to a retry, from what it held
    assert (again.record_id, again.contracts, again.capital) == (leg.record_id, 10, leg.capital)


@pytest.mark.parametrize("bare", [False, True])
async def test_a_cut_waiting_at_a_restart_is_applied_once_by_the_start(
    tmp_path, monkeypatch, bare: bool
) -> None:
    """The flag is committed while an attempt runs (its cut waiting), then the node stops
    before any reconciliation finds the executor idle. The restarted node's start cuts the
    pair, once: a second start and a periodic reconciliation cut nothing more. A start
    without the strategy (`bare`) leaves the cut waiting: before, its reconciliation took
    the cut off the list and cut nothing (no strategy to cut in), the pair left whole."""
    from tradeguard.execution.failed_fills import CUTS_WAITING_KEY
    from tradeguard.execution.reconcile import reconcile_and_gate
    from tradeguard.node import TradingNode
    from tradeguard.storage.arb_repository import load_arb_executions

    async with completed_arb_pair(tmp_path, monkeypatch, "hold") as arb:
        pm, cfg, node, strat, fill = arb.pm, arb.cfg, arb.node, arb.strat, arb.fill
        pm.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
        async with strat.executor._lock:  # an attempt runs
            report = await reconcile_and_gate(node)
            assert [f["trade_id"] for f in report.fills_failed] == [fill.trade_id]
            assert node.storage.kv_get(CUTS_WAITING_KEY) == {
                "polymarket": [[fill.trade_id, "buy", fill.symbol, strat.id]]
            }
            node.request_stop()  # stopped with the cut waiting
            await arb.run
        await arb.stop(close=True)

        def codes(n: TradingNode) -> list[str]:
            return [r["legs"]["code"] for r in load_arb_executions(n.storage, strategy_id="pmarb")
                    if r["legs"].get("code")]  # fmt: skip

        if bare:  # first started without the strategy: its cut keeps waiting
            node = TradingNode(cfg.model_copy(update={"strategies": []}))
            await node.start()
            await reconcile_and_gate(node)
            await node.stop()
            node.close()
        node = TradingNode(cfg)  # built, not started: nothing cut before the start
        try:
            assert codes(node) == [] and node.storage.kv_get(CUTS_WAITING_KEY)
            assert [p.lone for p in node.strategies[0].book.open] == [False]
        finally:
            node.close()
        for start in range(2):  # restarted, then restarted again
            node = TradingNode(cfg)
            await node.start()
            try:
                strat = node.strategies[0]
                assert codes(node) == ["LEG_FAILED"], start
                assert node.storage.kv_get(CUTS_WAITING_KEY) in (None, {})
                [lone] = strat.book.open
                assert lone.lone and lone.venues == ("kalshi",) and lone.contracts == 20
                again = await reconcile_and_gate(node)
                assert again.fills_failed == [] and codes(node) == ["LEG_FAILED"]
            finally:
                await node.stop()
                node.close()


async def test_a_sale_failed_flag_refused_then_committed_realises_the_sale_back_once(
    tmp_path, monkeypatch
) -> None:
    """A lone leg's `arb-unwind` sale (retry of record 1) whose trade FAILED, flagged in a
    commit refused, then flagged again: one SALE_FAILED record, and the day's realised P&L takes
    the sale back once. Before, the refused commit left the first take-back in the book's day
    figures (only its held pairs were put back): the second counted it again."""
    from sqlalchemy.exc import OperationalError

    from test_pm_arb_node import arb_config
    from tradeguard.execution.failed_fills import flag_failed_fills
    from tradeguard.model.enums import OrderStatus, OrderType
    from tradeguard.model.order import Order
    from tradeguard.node import TradingNode
    from tradeguard.storage.arb_repository import load_arb_executions

    async with arb_servers(tmp_path, monkeypatch) as (kalshi, pm):
        node = TradingNode(arb_config(tmp_path, kalshi, pm, {"on_interrupted": "hold"}, {}))
        try:
            strat = node.strategies[0]
            symbol, now = "fed-above-4pct-dec:YES/PUSD", node.clock.now_ms()
            sig = {"arb": "unwind", "retry_of": 1, "pair_id": "fed", "retry_cost": "4.00"}
            order = Order("c-sale", strat.id, "polymarket", symbol, Side.SELL, OrderType.LIMIT,
                          D(10), D("0.52"), status=OrderStatus.FILLED, filled=D(10),
                          avg_price=D("0.52"), signal=sig)  # fmt: skip
            node.storage.upsert_order(order)
            fill = Fill("polymarket", symbol, "c-sale", "v-sale", "t9-0", Side.SELL, D("0.52"),
                        D(10), D(0), "PUSD", LiquiditySide.TAKER, now)  # fmt: skip
            assert node.storage.insert_fill(fill, strat.id)
            before = strat.book.realised_today
            venue = node.venues["polymarket"]
            venue.failed_fills[fill.trade_id] = fill  # read FAILED
            refuse = _RefuseFlag(node.storage, fill.trade_id)
            with pytest.raises(OperationalError):
                flag_failed_fills(node, "polymarket", venue)
            assert refuse.armed is False and strat.book.realised_today == before
            assert strat.book.open == []
            venue.failed_fills[fill.trade_id] = fill  # read FAILED again by the next listing
            assert [f["trade_id"] for f in flag_failed_fills(node, "polymarket", venue)] == ["t9-0"]
            rows = load_arb_executions(node.storage, strategy_id=strat.id)
            assert [r["legs"]["code"] for r in rows] == ["SALE_FAILED"]
            # the sale's proceeds (5.20) taken back, its cost (4.00) held again: -1.20, once
            assert strat.book.realised_today == before - D("1.20")
            [lone] = strat.book.open
            assert (lone.legs, lone.contracts, lone.capital) == ((symbol,), 10, D("4.00"))
        finally:
            node.close()


async def test_a_failed_sale_holds_again_its_own_lone_leg_not_another_of_the_pair() -> None:
    """Two attempts of one mapped pair each left 10 Polymarket contracts held alone; the
    first's leg is sold by a retry whose trade FAILS. Before, the contracts were added to the
    other lone leg of that pair (found by pair and symbol): one leg of 20 under the second's
    record, both records offering them for sale."""
    executor, k, pm, opp = _setup(
        [(D("0.40"), D(50))], [(D("0.55"), D(10))], max_unwind_loss_usd=D("0.50")
    )
    k.refuse.add(K_YES)
    pm.bids[PM_NO] = [(D("0.30"), D(10))]
    assert (await executor.execute(opp)).outcome == "held"
    pm.asks[PM_NO] = [(D("0.55"), D(10))]
    k.asks[K_YES] = [(D("0.40"), D(50))]
    pm.bids[PM_NO] = [(D("0.30"), D(10))]
    assert (await executor.execute(opp)).outcome == "held"
    first, second = sorted(held_legs(_rows(pm)), key=lambda leg: leg.record_id)
    pm.bids[PM_NO] = [(D("0.52"), D(10))]
    sale = await retry_unwind(executor, first, D(2))
    assert sale is not None and sale.outcome == "unwound", sale.reason
    [kept] = executor.book.open
    assert kept.record_id == second.record_id and kept.contracts == 10
    order = [o for o in pm.sent if o.side is Side.SELL][-1]
    [sold] = [x for x in sale.legs if x.role == "unwind"]
    cid = order.client_order_id
    fill = Fill("pm", PM_NO, cid, cid, f"{cid}-0", Side.SELL, sold.avg_price, sold.filled,
                sold.fee, "PUSD", LiquiditySide.TAKER, order.created_ts)  # fmt: skip
    back = cut_failed_leg(executor, fill, "fed", order=order)
    assert back is not None and back.contracts == 10
    assert sorted((p.record_id, p.contracts) for p in executor.book.open) == [
        (first.record_id, 10),
        (second.record_id, 10),
    ]
    offered = sorted((leg.record_id, leg.contracts) for leg in held_legs(_rows(pm)))
    assert offered == [(first.record_id, 10), (second.record_id, 10)]
