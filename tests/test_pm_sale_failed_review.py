"""A failed sale's loss taken back from the risk engine, driven through a real node on the
local servers: what the take-back publishes, and a sale only part of which FAILED."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from pm_support import arb_servers
from test_pm_arb_leg_failed import _RefuseFlag
from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.fill import Fill

D = Decimal
SYMBOL = "fed-above-4pct-dec:YES/PUSD"


def _losing_sale(
    node: Any,
    trades: list[tuple[str, Decimal]],
    pair: str = "fed",
    cid: str = "c-sale",
    pnl: Decimal = D("-1.20"),
    cost: str = "6.40",
) -> list[Fill]:
    """A retry's sale of 10 contracts at 0.52 of what cost `cost` (`pnl`, a loss by default;
    its record told to the risk engine), order `cid`, matched in `trades` (trade id, size);
    return their fills, booked."""
    from tradeguard.model.enums import OrderStatus, OrderType
    from tradeguard.model.order import Order
    from tradeguard.strategies.cross_venue.records import PairAttempt, PairLegResult

    strat, now = node.strategies[0], node.clock.now_ms()
    sig = {"arb": "unwind", "retry_of": 1, "pair_id": pair, "retry_cost": cost}
    node.storage.upsert_order(Order(
        cid, strat.id, "polymarket", SYMBOL, Side.SELL, OrderType.LIMIT, D(10), D("0.52"),
        status=OrderStatus.FILLED, filled=D(10), avg_price=D("0.52"), signal=sig,
    ))  # fmt: skip
    fills = []
    for trade_id, size in trades:
        fill = Fill("polymarket", SYMBOL, cid, "v-sale", trade_id, Side.SELL, D("0.52"),
                    size, D(0), "PUSD", LiquiditySide.TAKER, now)  # fmt: skip
        assert node.storage.insert_fill(fill, strat.id)
        fills.append(fill)
    sale = PairAttempt(strat.id, "fed", "fed-dec", 0, "PAPER", D(10), D(0), D(0), D(0),
                       outcome="unwound", retry_of=1, ts=now)  # fmt: skip
    sale.legs.append(PairLegResult("unwind", "polymarket", SYMBOL, Side.SELL, D(10), D("0.52"),
                                   D(10), D("0.52"), status="filled",
                                   client_order_id=cid))  # fmt: skip
    strat.executor.book_result(sale, pnl, trade=False)
    strat.executor._finish(sale)  # told to the risk engine: one trade
    return fills


async def test_a_refused_take_back_publishes_no_lifted_pause(tmp_path, monkeypatch) -> None:
    """The flag taking a failed sale's loss back lifts the losing streak's pause; its commit
    is refused, and the engine is put back REDUCING. Before, the lifted pause (a state change
    to ACTIVE and a breaker reset) had been published already, before the commit: subscribers
    were told trading resumed while it had not, and the next flag told them again."""
    from sqlalchemy.exc import OperationalError

    from test_pm_arb_node import arb_config
    from tradeguard.execution.failed_fills import flag_failed_fills
    from tradeguard.model.enums import TradingState
    from tradeguard.node import TradingNode

    async with arb_servers(tmp_path, monkeypatch) as (kalshi, pm):
        cfg = arb_config(tmp_path, kalshi, pm, {"on_interrupted": "hold"}, {})
        cfg.risk.max_consecutive_losses, cfg.risk.cooldown_after_loss_s = 1, 3600
        node = TradingNode(cfg)
        try:
            risk = node.risk
            [fill] = _losing_sale(node, [("t9-0", D(10))])
            assert risk.state is TradingState.REDUCING
            seen: list[tuple[str, str, bool]] = []  # (kind, to, published after a commit)

            def on_risk(event: Any) -> None:
                seen.append((event.kind, str(event.data.get("to", "")),
                             not node.storage.in_transaction))  # fmt: skip

            node.bus.subscribe(on_risk, "risk.")
            venue = node.venues["polymarket"]
            venue.failed_fills[fill.trade_id] = fill
            _RefuseFlag(node.storage, fill.trade_id)
            with pytest.raises(OperationalError):
                flag_failed_fills(node, "polymarket", venue)
            assert risk.state is TradingState.REDUCING
            assert seen == []  # nothing happened: nothing told
            venue.failed_fills[fill.trade_id] = fill  # read FAILED again
            assert [f["trade_id"] for f in flag_failed_fills(node, "polymarket", venue)] == ["t9-0"]
            assert risk.state is TradingState.ACTIVE
            assert sorted(seen) == [
                ("risk.breaker_reset", "", True),
                ("risk.state_changed", "ACTIVE", True),
            ], seen
        finally:
            node.close()


@pytest.mark.parametrize("restart", [False, True])
async def test_a_sale_part_of_which_failed_stays_a_loss_until_the_rest_fails(
    tmp_path, monkeypatch, restart: bool
) -> None:
    """A retry's sale of 10 at a loss of 1.20 (streak max 1: tripped) matched in two trades, of
    6 and 4; the trade of 6 FAILS: 0.72 of the loss is taken back, the 4 sold still lost 0.48.
    Before, the whole loss left the streak and the cooldown at once (the pause lifted, its
    market free) though the record still realised a loss; it leaves them when the trade of 4
    FAILS too (a restart between the sale and the flags too), and the loss is all taken back."""
    from test_pm_arb_node import arb_config
    from tradeguard.execution.failed_fills import flag_failed_fills
    from tradeguard.model.enums import TradingState
    from tradeguard.node import TradingNode

    async with arb_servers(tmp_path, monkeypatch) as (kalshi, pm):
        cfg = arb_config(tmp_path, kalshi, pm, {"on_interrupted": "hold"}, {})
        cfg.risk.max_consecutive_losses, cfg.risk.cooldown_after_loss_s = 1, 3600
        node = TradingNode(cfg)
        try:
            risk, sid = node.risk, node.strategies[0].id
            six, four = _losing_sale(node, [("t9-0", D(6)), ("t9-1", D(4))])
            assert risk.consecutive_losses == 1 and risk.state is TradingState.REDUCING
            if restart:  # what the loss lost is kept with the engine's state
                node.close()
                node = TradingNode(cfg)
                risk = node.risk
                assert risk.consecutive_losses == 1 and risk.state is TradingState.REDUCING
            venue = node.venues["polymarket"]
            venue.failed_fills[six.trade_id] = six
            assert [f["trade_id"] for f in flag_failed_fills(node, "polymarket", venue)] == ["t9-0"]
            assert risk.consecutive_losses == 1 and risk.state is TradingState.REDUCING
            assert (sid, SYMBOL) in risk.cooldowns
            venue.failed_fills[four.trade_id] = four
            assert [f["trade_id"] for f in flag_failed_fills(node, "polymarket", venue)] == ["t9-1"]
            assert risk.consecutive_losses == 0 and risk.state is TradingState.ACTIVE
            assert (sid, SYMBOL) not in risk.cooldowns
        finally:
            node.close()
        node = TradingNode(cfg)  # what is kept of the loss survives a restart
        try:
            assert node.risk.consecutive_losses == 0 and not node.risk.losses.losses
        finally:
            node.close()


@pytest.mark.parametrize("flag_first", [True, False])
async def test_a_node_killed_between_the_sale_s_record_and_the_risk_save(
    tmp_path, monkeypatch, flag_first: bool
) -> None:
    """SIGKILL right after the losing sale's record, before the engine's counters are saved
    (they ride on the next commit). The start's reconciliation reads the sale's trade FAILED
    before the newest record is told to the engine again (`flag_first`, the start's order), or
    after: either way the loss is not counted (streak 0, no cooldown)."""
    from pathlib import Path

    from rigs import killed_child
    from test_pm_arb_node import arb_config
    from tradeguard.execution.failed_fills import flag_failed_fills
    from tradeguard.node import TradingNode
    from tradeguard.node.startup import _replay_cycles

    child = Path(__file__).with_name("pm_sale_failed_crash_child.py")
    async with arb_servers(tmp_path, monkeypatch) as (kalshi, pm):
        cfg = arb_config(tmp_path, kalshi, pm, {"on_interrupted": "hold"}, {})
        cfg.risk.max_consecutive_losses, cfg.risk.cooldown_after_loss_s = 3, 3600
        [died] = await killed_child(child, tmp_path, cfg, "sale", timeout_s=150)
        assert died == {"streak": 1, "stored": 0}, died  # the counters were not saved
        node = TradingNode(cfg)
        try:
            risk, sid = node.risk, node.strategies[0].id
            [fill] = node.storage.load_fills(venue="polymarket")
            venue = node.venues["polymarket"]
            if not flag_first:
                _replay_cycles(node)
                assert risk.consecutive_losses == 1 and (sid, SYMBOL) in risk.cooldowns
            venue.failed_fills[fill.trade_id] = fill  # read FAILED
            assert [f["trade_id"] for f in flag_failed_fills(node, "polymarket", venue)] == [
                fill.trade_id
            ]
            _replay_cycles(node)
            assert risk.consecutive_losses == 0 and (sid, SYMBOL) not in risk.cooldowns
            [lone] = node.strategies[0].book.open
            assert lone.contracts == 10
        finally:
            node.close()


async def test_a_failed_sale_of_an_older_order_takes_its_settlement_from_the_map(
    tmp_path, monkeypatch
) -> None:
    """A retry's order written before retries named their pair's settlement time (its signal
    names the pair only) sold a lone leg; its trade FAILS. The leg held again settles when the
    map says its pair does, not at 0 (a pair due now for every limit counting days locked)."""
    from test_pm_arb_node import arb_config
    from tradeguard.execution.failed_fills import flag_failed_fills
    from tradeguard.node import TradingNode

    async with arb_servers(tmp_path, monkeypatch) as (kalshi, pm):
        node = TradingNode(arb_config(tmp_path, kalshi, pm, {"on_interrupted": "hold"}, {}))
        try:
            strat = node.strategies[0]
            [fill] = _losing_sale(node, [("t9-0", D(10))], pair="fed-dec-above-4")
            venue = node.venues["polymarket"]
            venue.failed_fills[fill.trade_id] = fill
            assert [f["trade_id"] for f in flag_failed_fills(node, "polymarket", venue)] == ["t9-0"]
            [lone] = strat.book.open
            due = strat.market_map.pairs["fed-dec-above-4"].settles_at_ms
            assert lone.lone and due > 0 and lone.settles_at_ms == due
        finally:
            node.close()


async def test_two_flags_in_one_outer_transaction_are_both_published_at_its_commit(
    tmp_path, monkeypatch
) -> None:
    """Two flags join one outer transaction, each leaving its `fill.failed` events for its
    commit: both are published then, once. Before, the first flag's event, published, had a
    subscriber commit (running the hooks again: the second flag's published and removed), and
    the outer commit's run, from its copy of the hooks, published the second flag's again."""
    from test_pm_arb_node import arb_config
    from tradeguard.execution.failed_fills import flag_failed_fills
    from tradeguard.model.enums import OrderStatus, OrderType
    from tradeguard.model.order import Order
    from tradeguard.node import TradingNode

    async with arb_servers(tmp_path, monkeypatch) as (kalshi, pm):
        node = TradingNode(arb_config(tmp_path, kalshi, pm, {"on_interrupted": "hold"}, {}))
        try:
            strat, venue = node.strategies[0], node.venues["polymarket"]
            fills = []
            for n in (7, 8):
                cid = f"c-buy{n}"
                node.storage.upsert_order(Order(
                    cid, strat.id, "polymarket", SYMBOL, Side.BUY, OrderType.LIMIT, D(10),
                    D("0.52"), status=OrderStatus.FILLED, filled=D(10), avg_price=D("0.52"),
                ))  # fmt: skip
                now = node.clock.now_ms()
                fill = Fill("polymarket", SYMBOL, cid, f"v{n}", f"t{n}-0", Side.BUY, D("0.52"),
                            D(10), D(0), "PUSD", LiquiditySide.TAKER, now)  # fmt: skip
                assert node.storage.insert_fill(fill, strat.id)
                fills.append(fill)
            seen: list[str] = []
            node.bus.subscribe(lambda e: seen.append(e.data["trade_id"]), "fill.failed")
            with node.storage.transaction():
                for fill in fills:
                    venue.failed_fills[fill.trade_id] = fill
                    assert flag_failed_fills(node, "polymarket", venue)
                assert seen == []
            assert sorted(seen) == ["t7-0", "t8-0"]  # each once
            with node.storage.transaction():
                pass  # a later commit publishes nothing again
            assert sorted(seen) == ["t7-0", "t8-0"]
        finally:
            node.close()


async def test_a_failed_winning_sale_gives_back_the_streak_it_ended(tmp_path, monkeypatch) -> None:
    """A retry's sale at a loss (streak 1 of 2), then one at a gain (the streak ended); the
    gain's trade is read FAILED. Before, the streak stayed at 0 as if the sale had filled; now
    it is 1 again, as had it never filled, across restarts before and after the flag."""
    from test_pm_arb_node import arb_config
    from tradeguard.execution.failed_fills import flag_failed_fills
    from tradeguard.node import TradingNode

    async with arb_servers(tmp_path, monkeypatch) as (kalshi, pm):
        cfg = arb_config(tmp_path, kalshi, pm, {"on_interrupted": "hold"}, {})
        cfg.risk.max_consecutive_losses, cfg.risk.cooldown_after_loss_s = 2, 0
        node = TradingNode(cfg)
        try:
            _losing_sale(node, [("t9-0", D(10))])
            assert node.risk.consecutive_losses == 1
            [win] = _losing_sale(node, [("t8-0", D(10))], cid="c-win", pnl=D("1.00"),
                                 cost="4.20")  # fmt: skip
            assert node.risk.consecutive_losses == 0
            node.close()
            node = TradingNode(cfg)  # the win kept with the engine's state
            venue = node.venues["polymarket"]
            venue.failed_fills[win.trade_id] = win  # read FAILED
            assert [f["trade_id"] for f in flag_failed_fills(node, "polymarket", venue)] == ["t8-0"]
            assert node.risk.consecutive_losses == 1
        finally:
            node.close()
        node = TradingNode(cfg)
        try:
            assert node.risk.consecutive_losses == 1
        finally:
            node.close()


async def test_a_sale_failed_after_a_downtime_longer_than_the_window_takes_its_loss_back(
    tmp_path, monkeypatch
) -> None:
    """A retry's sale at a loss; the node is stopped eight days, more than the take-back
    window; after its start another sale loses, then the first is read FAILED. Before, the
    second loss let the first go (older than the window) and the streak kept a loss that never
    happened; the window now counts the node's running time."""
    from test_pm_arb_node import arb_config
    from tradeguard.clock import SimulatedClock
    from tradeguard.execution.failed_fills import flag_failed_fills
    from tradeguard.model.enums import TradingState
    from tradeguard.node import TradingNode
    from tradeguard.risk.loss_history import TAKE_BACK_MS

    async with arb_servers(tmp_path, monkeypatch) as (kalshi, pm):
        cfg = arb_config(tmp_path, kalshi, pm, {"on_interrupted": "hold"}, {})
        cfg.risk.max_consecutive_losses, cfg.risk.cooldown_after_loss_s = 5, 0
        clock = SimulatedClock(1_790_000_000_000)
        node = TradingNode(cfg, clock=clock)
        try:
            [fill] = _losing_sale(node, [("t9-0", D(10))])
        finally:
            node.close()
        clock.advance_to(clock.now_ms() + TAKE_BACK_MS + 86_400_000)
        node = TradingNode(cfg, clock=clock)
        try:
            _losing_sale(node, [("t7-0", D(10))], cid="c-sale-2")
            assert node.risk.consecutive_losses == 2
            venue = node.venues["polymarket"]
            venue.failed_fills[fill.trade_id] = fill  # read FAILED
            assert [f["trade_id"] for f in flag_failed_fills(node, "polymarket", venue)] == ["t9-0"]
            assert node.risk.consecutive_losses == 1  # the second loss alone
            assert node.risk.state is TradingState.ACTIVE
        finally:
            node.close()
