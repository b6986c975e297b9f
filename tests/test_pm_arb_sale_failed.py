"""A Polymarket sale of a pair's leg whose trade FAILED on chain: the contracts are held again
with the pair's event, direction and settlement time (an attempt's own unwind too, and after
a restart), and the loss the sale fed the risk engine's losing streak and after-loss cooldown
is taken back with its P&L."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from pm_support import arb_servers
from test_pm_arb_executor import K_YES, PM_NO, _setup
from test_pm_arb_held_retry import _rows
from test_pm_arb_leg_failed import _RefuseFlag
from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.fill import Fill
from tradeguard.strategies.cross_venue.executor import PairExecutor
from tradeguard.strategies.cross_venue.held_retry import held_legs, retry_unwind
from tradeguard.strategies.cross_venue.leg_failed import cut_failed_leg
from tradeguard.strategies.cross_venue.limits import LimitBook

D = Decimal


def _sale_fill(pm: Any, leg: Any) -> tuple[Any, Fill]:
    """The newest sell order sent to `pm` and the fill of its `leg` (the unwind's result)."""
    order = [o for o in pm.sent if o.side is Side.SELL][-1]
    cid = order.client_order_id
    fill = Fill("pm", PM_NO, cid, cid, f"{cid}-0", Side.SELL, leg.avg_price, leg.filled,
                leg.fee, "PUSD", LiquiditySide.TAKER, order.created_ts)  # fmt: skip
    return order, fill


async def test_an_attempt_s_own_unwind_whose_sale_failed_is_held_again() -> None:
    """The second leg fails, the first (Polymarket) is sold back by the attempt's own unwind,
    and that sale's trade FAILS. Before, the sale named no held record: nothing was held
    again, the book said flat while the venue held the 10 contracts."""
    executor, k, pm, opp = _setup([(D("0.40"), D(50))], [(D("0.55"), D(10))])
    k.refuse.add(K_YES)
    pm.bids[PM_NO] = [(D("0.54"), D(10))]
    rec = await executor.execute(opp)
    assert rec.outcome == "unwound" and executor.book.open == [], rec.reason
    [sold] = [x for x in rec.legs if x.role == "unwind"]
    order, fill = _sale_fill(pm, sold)
    back = cut_failed_leg(executor, fill, "fed", record_id=rec.record_id, order=order)
    assert back is not None and (back.venue, back.symbol, back.contracts) == ("pm", PM_NO, 10)
    [lone] = executor.book.open
    first = -next(x for x in rec.legs if x.role == "first").cash
    assert lone.lone and (lone.contracts, lone.capital) == (D(10), first)
    assert (lone.event, lone.direction, lone.settles_at_ms) == (
        opp.event,
        opp.direction,
        opp.settles_at_ms,
    ) and lone.settles_at_ms > 0
    row = pm.rows[-1]
    assert row["outcome"] == "held" and row["legs"]["code"] == "SALE_FAILED"
    assert executor.attempts[-1].actual_profit + rec.actual_profit == 0  # the sale's P&L back
    [offered] = held_legs(_rows(pm))  # offered to a retry
    assert (offered.record_id, offered.contracts) == (executor.attempts[-1].record_id, 10)
    assert (offered.event, offered.direction) == (opp.event, opp.direction)


async def test_a_retry_s_failed_sale_read_after_a_restart_keeps_its_pair_s_settlement() -> None:
    """A held leg is sold by a retry, then the process restarts (no attempts in memory, the
    book flat) and the sale's trade is read FAILED. Before, the leg was held again with no
    event, direction 0 and settlement time 0 (a pair due now for every limit counting the
    days locked)."""
    executor, k, pm, opp = _setup(
        [(D("0.40"), D(50))], [(D("0.55"), D(10))], max_unwind_loss_usd=D("0.50")
    )
    k.refuse.add(K_YES)
    pm.bids[PM_NO] = [(D("0.30"), D(10))]
    assert (await executor.execute(opp)).outcome == "held"
    [leg] = held_legs(_rows(pm))
    pm.bids[PM_NO] = [(D("0.52"), D(10))]
    sale = await retry_unwind(executor, leg, D(2))
    assert sale is not None and sale.outcome == "unwound", sale and sale.reason
    [sold] = [x for x in sale.legs if x.role == "unwind"]
    order, fill = _sale_fill(pm, sold)
    restarted = PairExecutor(executor.gateways, "pmarb", executor.config, book=LimitBook(),
                             fees=executor.fees)  # fmt: skip
    back = cut_failed_leg(restarted, fill, "fed", order=order)
    assert back is not None and back.record_id == leg.record_id
    [lone] = restarted.book.open
    assert (lone.event, lone.direction, lone.settles_at_ms) == (
        opp.event,
        opp.direction,
        opp.settles_at_ms,
    ) and lone.settles_at_ms > 0
    assert (back.event, back.direction) == (opp.event, opp.direction)


@pytest.mark.parametrize(("refused", "restart"), [(False, False), (True, False), (False, True)])
async def test_a_failed_sale_s_loss_is_taken_back_from_the_streak_and_the_cooldown(
    tmp_path, monkeypatch, refused: bool, restart: bool
) -> None:
    """A retry's sale at a loss (record 1) trips the losing streak (max 1) and cools its
    market down; then its trade is read FAILED. Before, the P&L was taken back but the
    streak's pause and the after-loss cooldown stayed: a loss that never happened kept new
    entries out. A flag whose commit is refused leaves both as they were, taken back by the
    next flag once; a restart reads them taken back, and a restart between the sale and the
    flag keeps the loss to take back."""
    from sqlalchemy.exc import OperationalError

    from test_pm_arb_node import arb_config
    from tradeguard.execution.failed_fills import flag_failed_fills
    from tradeguard.model.enums import OrderStatus, OrderType, TradingState
    from tradeguard.model.order import Order
    from tradeguard.node import TradingNode
    from tradeguard.strategies.cross_venue.records import PairAttempt, PairLegResult

    async with arb_servers(tmp_path, monkeypatch) as (kalshi, pm):
        cfg = arb_config(tmp_path, kalshi, pm, {"on_interrupted": "hold"}, {})
        cfg.risk.max_consecutive_losses, cfg.risk.cooldown_after_loss_s = 1, 3600
        node = TradingNode(cfg)
        symbol, now = "fed-above-4pct-dec:YES/PUSD", node.clock.now_ms()
        try:
            strat, risk = node.strategies[0], node.risk
            sig = {"arb": "unwind", "retry_of": 1, "pair_id": "fed", "retry_cost": "6.40"}
            order = Order("c-sale", strat.id, "polymarket", symbol, Side.SELL, OrderType.LIMIT,
                          D(10), D("0.52"), status=OrderStatus.FILLED, filled=D(10),
                          avg_price=D("0.52"), signal=sig)  # fmt: skip
            node.storage.upsert_order(order)
            fill = Fill("polymarket", symbol, "c-sale", "v-sale", "t9-0", Side.SELL, D("0.52"),
                        D(10), D(0), "PUSD", LiquiditySide.TAKER, now)  # fmt: skip
            assert node.storage.insert_fill(fill, strat.id)
            sale = PairAttempt(strat.id, "fed", "fed-dec", 0, "PAPER", D(10), D(0), D(0), D(0),
                               outcome="unwound", retry_of=1, ts=now)  # fmt: skip
            sale.legs.append(PairLegResult("unwind", "polymarket", symbol, Side.SELL, D(10),
                                           D("0.52"), D(10), D("0.52"), status="filled",
                                           client_order_id="c-sale"))  # fmt: skip
            strat.executor.book_result(sale, D("-1.20"), trade=False)
            strat.executor._finish(sale)  # told to the risk engine: one losing trade
            assert risk.consecutive_losses == 1 and risk.state is TradingState.REDUCING
            assert risk.cooldowns.get((strat.id, symbol), 0) > now
            if restart:  # the loss kept with the engine's state: taken back after a restart
                node.close()
                node = TradingNode(cfg)
                strat, risk = node.strategies[0], node.risk
                assert risk.consecutive_losses == 1 and risk.state is TradingState.REDUCING
            venue = node.venues["polymarket"]
            venue.failed_fills[fill.trade_id] = fill  # read FAILED
            if refused:
                _RefuseFlag(node.storage, fill.trade_id)
                with pytest.raises(OperationalError):
                    flag_failed_fills(node, "polymarket", venue)
                assert risk.consecutive_losses == 1 and risk.state is TradingState.REDUCING
                assert risk.cooldowns.get((strat.id, symbol), 0) > now
                venue.failed_fills[fill.trade_id] = fill  # read FAILED again
            assert [f["trade_id"] for f in flag_failed_fills(node, "polymarket", venue)] == ["t9-0"]
            assert risk.consecutive_losses == 0 and risk.state is TradingState.ACTIVE
            assert (strat.id, symbol) not in risk.cooldowns
        finally:
            node.close()
        node = TradingNode(cfg)  # restarted: the risk engine's state as the flag left it
        try:
            risk = node.risk
            assert risk.consecutive_losses == 0 and risk.state is TradingState.ACTIVE
            assert (node.strategies[0].id, symbol) not in risk.cooldowns
        finally:
            node.close()


async def test_fill_failed_is_published_after_its_flag_s_commit_and_not_for_a_refused_one(
    tmp_path, monkeypatch
) -> None:
    """Before, `fill.failed` was published as each trade was told, before the flag's commit:
    a refused commit had announced a flag that was never stored, and the next reconciliation,
    flagging it again, announced it twice; a subscriber reading the database on the event
    found no flag."""
    from sqlalchemy.exc import OperationalError

    from test_pm_arb_node import arb_config
    from tradeguard.execution.failed_fills import FLAGGED_KEY, flag_failed_fills
    from tradeguard.model.enums import OrderStatus, OrderType
    from tradeguard.model.order import Order
    from tradeguard.node import TradingNode

    async with arb_servers(tmp_path, monkeypatch) as (kalshi, pm):
        node = TradingNode(arb_config(tmp_path, kalshi, pm, {"on_interrupted": "hold"}, {}))
        try:
            strat, symbol = node.strategies[0], "fed-above-4pct-dec:YES/PUSD"
            order = Order("c-buy", strat.id, "polymarket", symbol, Side.BUY, OrderType.LIMIT,
                          D(10), D("0.52"), status=OrderStatus.FILLED, filled=D(10),
                          avg_price=D("0.52"))  # fmt: skip
            node.storage.upsert_order(order)
            fill = Fill("polymarket", symbol, "c-buy", "v-buy", "t7-0", Side.BUY, D("0.52"),
                        D(10), D(0), "PUSD", LiquiditySide.TAKER, node.clock.now_ms())  # fmt: skip
            assert node.storage.insert_fill(fill, strat.id)
            seen: list[Any] = []  # (event, whether its flag was stored when it was published)

            def on_failed(event: Any) -> None:
                seen.append((event, fill.trade_id in str(node.storage.kv_get(FLAGGED_KEY))))

            node.bus.subscribe(on_failed, "fill.failed")
            venue = node.venues["polymarket"]
            venue.failed_fills[fill.trade_id] = fill
            _RefuseFlag(node.storage, fill.trade_id)
            with pytest.raises(OperationalError):
                flag_failed_fills(node, "polymarket", venue)
            assert seen == []  # nothing stored, nothing announced
            venue.failed_fills[fill.trade_id] = fill  # read FAILED again, inside a transaction
            with node.storage.transaction():
                flagged = flag_failed_fills(node, "polymarket", venue)
                assert [f["trade_id"] for f in flagged] == ["t7-0"] and seen == []
            [(event, stored)] = seen  # published once the outer transaction committed
            assert stored and event.data["trade_id"] == "t7-0" and event.severity == "critical"
        finally:
            node.close()


async def test_a_node_killed_right_after_the_flag_keeps_the_loss_taken_back(
    tmp_path, monkeypatch
) -> None:
    """SIGKILL right after the flag's commit (no checkpoint, no stop): the restarted node's
    risk engine has the loss taken back (streak 0, ACTIVE, no cooldown), its book holds the
    leg again under one SALE_FAILED record, and the flag is not made again."""
    from pathlib import Path

    from rigs import killed_child
    from test_pm_arb_node import arb_config
    from tradeguard.execution.failed_fills import flag_failed_fills
    from tradeguard.model.enums import TradingState
    from tradeguard.node import TradingNode
    from tradeguard.storage.arb_repository import load_arb_executions

    child = Path(__file__).with_name("pm_sale_failed_crash_child.py")
    async with arb_servers(tmp_path, monkeypatch) as (kalshi, pm):
        cfg = arb_config(tmp_path, kalshi, pm, {"on_interrupted": "hold"}, {})
        cfg.risk.max_consecutive_losses, cfg.risk.cooldown_after_loss_s = 1, 3600
        [died] = await killed_child(child, tmp_path, cfg, timeout_s=150)
        assert died == {"flagged": ["t9-0"], "streak": 0, "state": "ACTIVE"}, died
        node = TradingNode(cfg)
        try:
            risk, strat = node.risk, node.strategies[0]
            assert risk.consecutive_losses == 0 and risk.state is TradingState.ACTIVE
            assert not [k for k in risk.cooldowns if k[0] == strat.id]
            rows = load_arb_executions(node.storage, strategy_id=strat.id)
            assert [r["legs"]["code"] for r in rows if r["legs"]["code"]] == ["SALE_FAILED"]
            [lone] = strat.book.open
            assert lone.lone and lone.contracts == 10
            [fill] = node.storage.load_fills(venue="polymarket")
            venue = node.venues["polymarket"]
            venue.failed_fills[fill.trade_id] = fill  # read FAILED again
            assert flag_failed_fills(node, "polymarket", venue) == []
            assert risk.consecutive_losses == 0 and len(strat.book.open) == 1
        finally:
            node.close()
