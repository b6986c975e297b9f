"""Triangular executor on the paper venue with the real order manager, risk engine and SQLite."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from test_triangular_exec_support import CYCLE, VENUE, Stack
from tradeguard.model import Balance, Event, OrderIntent, Side, quantize_down
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.strategies.gateway import ExecutionGateway, SubmitOutcome
from tradeguard.strategies.triangular.executor import ARB_HELD, ArbExecution, TriangularExecutor
from tradeguard.strategies.triangular.opportunity import Opportunity

SIZE = Decimal(1000)  # USDT
ETH_ASK, ETH_BID, ETH_FEE = Decimal("3103.76"), Decimal("3095.61"), Decimal("0.0004")
A9_ETH_ASK, A9_ETH_FEE = Decimal("0.000917405"), Decimal("0.0004")
A9_USDT_BID, A9_USDT_FEE = Decimal("2.87604"), Decimal("0.00075")
ETH_STEP, A9_STEP = Decimal("0.00001"), Decimal("0.01")
ONE = Decimal(1)


def moved_book(s: Stack, symbol: str, factor: float) -> tuple[Any, Any]:
    """Return the universe book of `symbol` with every price multiplied by `factor`."""
    bids, asks = s.universe.book(symbol)
    return [[p * factor, q] for p, q in bids], [[p * factor, q] for p, q in asks]


def scanned_then_moved(s: Stack, state: bool = True) -> Opportunity:
    """The cycle as scanned, then A0009/ETH 3 % dearer on the venue (and in the executor's
    market state unless `state` is False)."""
    opp = s.opportunity()
    s.feed("A0009/ETH", *moved_book(s, "A0009/ETH", 1.03), state=state)
    return opp


def scanned_then_asks(s: Stack, symbol: str, asks: list[list[float]]) -> Opportunity:
    """The cycle as scanned, then `symbol` offering only `asks` (its bids kept)."""
    opp = s.opportunity()
    bids, _ = s.universe.book(symbol)
    s.feed(symbol, bids, asks)
    return opp


def rows(s: Stack) -> list[dict[str, Any]]:
    return load_arb_executions(s.storage, strategy_id=s.config.strategy_id)


async def test_profitable_cycle_completes_with_the_hand_computed_fills_and_fees(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path)
    opp = s.opportunity()
    rec = await s.executor.execute(opp, SIZE)

    assert rec.outcome == "completed", rec.reason
    # Leg 1 buys ETH at the ask; the paper venue charges the fee in the quote spent.
    q1 = quantize_down(SIZE / (ETH_ASK * (ONE + ETH_FEE)), ETH_STEP)
    spent1 = q1 * ETH_ASK * (ONE + ETH_FEE)
    # Leg 2 spends the ETH actually received, rounded down to A0009's step.
    q2 = quantize_down(q1 / (A9_ETH_ASK * (ONE + A9_ETH_FEE)), A9_STEP)
    eth_left = q1 - q2 * A9_ETH_ASK * (ONE + A9_ETH_FEE)
    # Leg 3 sells every A0009 bought at the bid, fee off the USDT received.
    back = q2 * A9_USDT_BID * (ONE - A9_USDT_FEE)
    legs = rec.legs
    assert [leg.symbol for leg in legs] == list(CYCLE)
    assert [leg.order_amount for leg in legs] == [q1, q2, q2]
    assert [leg.filled for leg in legs] == [q1, q2, q2]
    assert legs[0].spent == spent1 and legs[0].received == q1
    assert legs[2].received == back
    assert rec.spent == spent1 and rec.returned == back
    assert rec.dust == {"ETH": eth_left}
    # The ETH rounding dust counts at its cost, so actual profit is what the USDT says plus it.
    assert rec.actual_profit == back + eth_left * spent1 / q1 - spent1
    assert await s.venue_balance("USDT") == Decimal(100_000) - spent1 + back
    # Actual is close to the scanned figure: within 0.05 percentage points at this size.
    assert abs(rec.actual_profit_pct - rec.expected_profit_pct) < Decimal("0.05")
    assert rec.actual_profit > 0
    fees = (
        q1 * ETH_ASK * ETH_FEE
        + q2 * A9_ETH_ASK * A9_ETH_FEE * spent1 / q1
        + q2 * A9_USDT_BID * A9_USDT_FEE
    )
    assert abs(rec.fees - fees) < Decimal("1e-12")
    assert all(leg.latency_ms >= 0 and leg.client_order_id for leg in legs)


async def test_every_leg_is_an_ioc_limit_through_the_order_manager(tmp_path: Path) -> None:
    s = Stack(tmp_path)
    await s.executor.execute(s.opportunity(), SIZE)

    orders = list(s.orders.orders.values())
    assert len(orders) == 3
    assert {o.time_in_force.value for o in orders} == {"IOC"}
    assert {o.type.value for o in orders} == {"limit"}
    journaled = s.storage.load_orders()
    assert {o.client_order_id for o in journaled} == {o.client_order_id for o in orders}


async def test_thin_first_leg_fills_partially_and_the_next_legs_chain_what_it_filled(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path)
    opp = scanned_then_asks(s, "ETH/USDT", [[float(ETH_ASK), 0.1]])

    rec = await s.executor.execute(opp, SIZE)

    assert rec.outcome == "completed", rec.reason
    first, second, third = rec.legs
    assert first.partial and first.filled == Decimal("0.1")
    assert second.order_amount == quantize_down(
        Decimal("0.1") / (A9_ETH_ASK * (ONE + A9_ETH_FEE)), A9_STEP
    )
    assert third.order_amount == second.received
    assert rec.spent == Decimal("0.1") * ETH_ASK * (ONE + ETH_FEE)
    assert "filled 0.1" in rec.reason


async def test_thin_middle_leg_chains_its_fill_and_unwinds_the_stranded_rest(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path)
    opp = scanned_then_asks(s, "A0009/ETH", [[float(A9_ETH_ASK), 100.0]])

    rec = await s.executor.execute(opp, SIZE)

    assert rec.outcome == "unwound", rec.reason
    first, second, third = rec.legs
    assert second.partial and second.filled == Decimal(100)
    assert third.order_amount == Decimal(100) and third.filled == Decimal(100)
    stranded = first.received - second.spent
    (unwind,) = rec.unwinds
    assert (unwind.symbol, unwind.side) == ("ETH/USDT", Side.SELL)
    assert unwind.filled == quantize_down(stranded, ETH_STEP)
    assert unwind.avg_price == ETH_BID
    assert await s.venue_balance("ETH") < ETH_STEP
    # The unwind lost the spread and its fee, far inside the 1% bound.
    cost = stranded * first.spent / first.received
    assert 0 < rec.unwind_loss <= cost * Decimal("0.011")


async def test_price_moved_beyond_slippage_leg_is_not_sent_and_the_cycle_unwinds(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path)
    opp = scanned_then_moved(s)

    rec = await s.executor.execute(opp, SIZE)

    assert rec.outcome == "unwound"
    second = rec.legs[1]
    assert second.status == "not_sent" and not second.client_order_id
    assert "slippage_pct=2" in second.reason
    assert len(rec.legs) == 2 and len(s.orders.orders) == 2  # leg 1 and the unwind
    (unwind,) = rec.unwinds
    assert unwind.filled == rec.legs[0].received
    assert await s.venue_balance("ETH") == 0
    # Bounded: the loss is the ETH round trip (spread + two fees), under 1% of the stake.
    assert -rec.spent * Decimal("0.01") < rec.actual_profit < 0


async def test_ioc_beyond_the_slippage_bound_expires_unfilled_and_the_cycle_unwinds(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path)
    # Only the venue sees the move: the executor sends, the IOC finds nothing within its limit.
    opp = scanned_then_moved(s, state=False)

    rec = await s.executor.execute(opp, SIZE)

    second = rec.legs[1]
    assert second.client_order_id and second.status == "expired" and second.filled == 0
    assert second.limit_price <= A9_ETH_ASK * Decimal("1.02")
    assert rec.outcome == "unwound"


async def test_hold_keeps_the_intermediate_asset_and_publishes_a_critical_alert(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path, exec_config={"on_leg_failure": "hold"})
    opp = scanned_then_moved(s)

    rec = await s.executor.execute(opp, SIZE)

    assert rec.outcome == "held"
    assert rec.held == {"ETH": rec.legs[0].received}
    assert rec.unwinds == []
    assert await s.venue_balance("ETH") == rec.legs[0].received
    alerts = [e for e in s.events if e.kind == ARB_HELD]
    assert len(alerts) == 1 and alerts[0].severity == "critical"
    assert alerts[0].data["held"] == {"ETH": str(rec.legs[0].received)}
    # Held ETH counts at its cost: nothing realised yet.
    assert rec.actual_profit == 0


async def test_unwind_that_cannot_fill_within_the_loss_bound_holds_and_alerts(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path)
    opp = scanned_then_moved(s)
    bids, asks = s.universe.book("ETH/USDT")
    # Only the venue sees the bids 1.5% below the cost: the unwind is sent and cannot fill.
    s.feed("ETH/USDT", [[p * 0.985, q] for p, q in bids], asks, state=False)

    rec = await s.executor.execute(opp, SIZE)

    assert rec.outcome == "held"
    # At the book's level, then once more at the bound: neither finds bids that high.
    first, again = rec.unwinds
    assert first.status == again.status == "expired" and first.filled == again.filled == 0
    bound = rec.legs[0].spent / rec.legs[0].received * Decimal("0.99")
    assert first.limit_price > again.limit_price >= bound
    assert rec.held == {"ETH": rec.legs[0].received}
    assert [e.severity for e in s.events if e.kind == ARB_HELD] == ["critical"]


async def test_profit_below_the_risk_minimum_is_rejected_before_any_order(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path, risk={"arb_min_profit_after_fees_pct": Decimal(5)})
    rec = await s.executor.execute(s.opportunity(), SIZE)

    assert rec.outcome == "rejected"
    assert "arb_min_profit_after_fees_pct=5" in rec.reason
    assert s.orders.orders == {} and rec.orders_sent == 0
    assert [r["outcome"] for r in rows(s)] == ["rejected"]


@pytest.mark.parametrize(
    ("limits", "named"),
    [
        pytest.param(
            {"risk": {"arb_max_cycle_length": 2}}, "arb_max_cycle_length=2",
            id="cycle_longer_than_the_risk_maximum",
        ),
        pytest.param(
            {"risk": {"arb_max_cycle_notional_usd": Decimal(500)}}, "arb_max_cycle_notional_usd",
            id="cycle_larger_than_the_risk_size_per_cycle",
        ),
        pytest.param(
            {"exec_config": {"min_profit_pct": Decimal(2)}}, "min_profit_pct=2",
            id="profit_below_the_executor_minimum",
        ),
    ],
)  # fmt: skip
async def test_a_cycle_beyond_a_limit_is_rejected_before_any_order_naming_it(
    tmp_path: Path, limits: dict[str, Any], named: str
) -> None:
    s = Stack(tmp_path, **limits)
    rec = await s.executor.execute(s.opportunity(), SIZE)

    assert rec.outcome == "rejected"
    assert named in rec.reason
    assert s.orders.orders == {}


async def test_first_leg_denied_by_the_order_path_is_rejected_with_nothing_traded(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path, risk={"max_order_notional_usd": Decimal(500)})
    rec = await s.executor.execute(s.opportunity(), SIZE)

    assert rec.outcome == "rejected"
    assert rec.legs[0].status == "denied"
    assert "max_order_notional_usd" in rec.reason
    assert s.orders.orders == {}


async def test_every_cycle_writes_exactly_one_arb_executions_row(tmp_path: Path) -> None:
    s = Stack(tmp_path, exec_config={"min_profit_pct": Decimal("0.5")})
    opp = s.opportunity()
    done = await s.executor.execute(opp, SIZE)
    s.advance(1_000)
    s.feed("A0009/ETH", *moved_book(s, "A0009/ETH", 1.03))
    unwound = await s.executor.execute(opp, SIZE)
    s.advance(1_000)
    rejected = await s.executor.execute(opp, Decimal(0))

    stored = rows(s)
    assert [r["outcome"] for r in stored] == ["completed", "unwound", "rejected"]
    assert [r["id"] for r in stored] == [done.record_id, unwound.record_id, rejected.record_id]
    first = stored[0]
    assert first["start_asset"] == "USDT"
    assert first["expected_profit_pct"] == done.expected_profit_pct
    assert first["actual_profit"] == done.actual_profit
    assert first["fees"] == done.fees
    assert first["cycle"]["path"] == "USDT -> ETH -> A0009 -> USDT"
    assert [leg["symbol"] for leg in first["legs"]["legs"]] == list(CYCLE)
    assert stored[1]["legs"]["unwinds"][0]["symbol"] == "ETH/USDT"


class GatedGateway:
    """The real gateway, but submits wait for `gate`: a cycle stays in flight until opened."""

    def __init__(self, inner: ExecutionGateway) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # everything but `submit` is the real gateway's

    async def submit(self, intent: OrderIntent) -> SubmitOutcome:
        self.waiting.set()
        await self.gate.wait()
        return await self.inner.submit(intent)


async def test_a_second_cycle_while_one_is_in_flight_is_rejected_not_overlapped(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path)
    gated = GatedGateway(s.gateway)
    executor = TriangularExecutor(gated, s.config)
    opp = s.opportunity()
    first = asyncio.create_task(executor.execute(opp, SIZE))
    await asyncio.wait_for(gated.waiting.wait(), 5)
    assert executor.busy

    second = await executor.execute(opp, SIZE)
    gated.gate.set()
    done = await asyncio.wait_for(first, 5)

    assert second.outcome == "rejected" and "another cycle" in second.reason
    assert done.outcome == "completed"
    assert len(s.orders.orders) == 3  # only the first cycle's legs
    assert sorted(r["outcome"] for r in rows(s)) == ["completed", "rejected"]


async def test_legs_book_balances_only_and_the_cycle_counts_as_one_trade(tmp_path: Path) -> None:
    s = Stack(tmp_path, risk={"max_consecutive_losses": 2, "cooldown_after_loss_s": 60})
    won = await s.executor.execute(s.opportunity(), SIZE)
    assert won.outcome == "completed" and won.actual_profit > 0
    # Three legs on three markets, yet no position: the ledger moved, the P&L is the cycle's.
    assert s.portfolio.open_positions() == []
    assert s.storage.load_position_rows() == []
    assert s.portfolio.book("paper").total("USDT") == Decimal(100_000) + won.returned - won.spent
    assert s.risk.consecutive_losses == 0

    # A losing cycle (leg 2 moved away, the ETH sold back) is one loss, not one per leg.
    s.feed("A0009/ETH", *moved_book(s, "A0009/ETH", 1.03))
    lost = await s.executor.execute(s.opportunity(), SIZE)
    assert lost.outcome == "unwound" and lost.actual_profit < 0
    assert s.risk.consecutive_losses == 1
    assert s.risk.state.value == "ACTIVE"
    # The after-loss cooldown covers every market of the cycle (and of its unwind).
    cooled = {symbol for (sid, symbol) in s.risk.cooldowns if sid == s.config.strategy_id}
    assert cooled == set(CYCLE)


async def test_unwind_passes_while_trading_is_reducing_and_new_cycles_do_not(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path)
    opp = scanned_then_moved(s)

    def reduce_on_first_fill(event: Event) -> None:
        # Another strategy's losing streak, say, lands while leg 1 is filling.
        if event.kind == "fill" and s.risk.state.value == "ACTIVE":
            s.risk.set_reducing("loss streak elsewhere", "test")

    s.bus.subscribe(reduce_on_first_fill)
    rec = await s.executor.execute(opp, SIZE)
    # The stranded ETH still went home: an unwind shrinks exposure.
    assert rec.outcome == "unwound", rec.reason
    assert await s.venue_balance("ETH") == 0
    again = await s.executor.execute(s.opportunity(), SIZE)
    assert again.outcome == "rejected" and "REDUCING" in again.reason


async def test_a_cycle_is_sized_to_the_free_start_asset_and_refused_without_any(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path, usdt=Decimal(2000))
    # 1,700 of the 2,000 USDT held by other orders: 300 free, the cycle is asked for 1,000
    s.portfolio.set_balances(VENUE, [Balance(VENUE, "USDT", Decimal(300), Decimal(1700))])
    rec = await s.executor.execute(s.opportunity(), SIZE)
    assert rec.outcome == "completed", rec.reason
    assert rec.size == Decimal(300) and rec.spent <= Decimal(300)
    assert rec.expected_profit == Decimal(300) * rec.expected_profit_pct / 100

    (tmp_path / "empty").mkdir()
    empty = Stack(tmp_path / "empty", usdt=Decimal(2000))
    empty.portfolio.set_balances(VENUE, [Balance(VENUE, "USDT", Decimal(0), Decimal(2000))])
    refused = await empty.executor.execute(empty.opportunity(), SIZE)
    assert refused.outcome == "rejected" and empty.orders.orders == {}
    assert refused.reason == (
        "cycle rejected: no free USDT on paper to start with (free 0, the cycle wants 1000)"
    )


async def test_unwind_after_a_last_leg_that_expired_reaches_for_its_loss_bound_not_the_stale_book(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path)
    opp = s.opportunity()
    bids, asks = s.universe.book("A0009/USDT")
    # Only the venue sees A0009/USDT's bids 0.5% lower: leg 3's IOC at the scanned price expires.
    # The node's book still shows the old bids, but 0.5% lower is well within the 1% bound.
    s.feed("A0009/USDT", [[p * 0.995, q] for p, q in bids], asks, state=False)

    rec = await s.executor.execute(opp, SIZE)

    third = rec.legs[2]
    assert third.status == "expired" and third.filled == 0
    # At the stale level that just failed, the unwind expires too; resent down to its bound it
    # fills at the venue's best bids instead of holding the A0009.
    stale, unwind = rec.unwinds
    assert stale.limit_price == third.limit_price and stale.status == "expired"
    assert third.limit_price > unwind.limit_price >= a9_cost(rec) * Decimal("0.99")
    assert unwind.status == "filled" and unwind.filled == rec.legs[1].received
    assert rec.outcome == "unwound" and rec.held == {}
    assert unwind.avg_price >= Decimal(str(bids[0][0])) * Decimal("0.995") * Decimal("0.999")
    assert await s.venue_balance("A0009") == 0


def a9_cost(rec: ArbExecution) -> Decimal:
    """Return the USDT cost of one A0009 that legs 1 and 2 bought."""
    first, second = rec.legs[0], rec.legs[1]
    return first.spent / first.received * second.spent / second.received


async def test_a_first_leg_filling_only_dust_is_unwound_with_the_dust_named_not_failed(
    tmp_path: Path,
) -> None:
    # The first leg fills one amount step of ETH: too small for leg 2 or any way back.
    s = Stack(tmp_path)
    opp = scanned_then_asks(s, "ETH/USDT", [[float(ETH_ASK), float(ETH_STEP)]])

    rec = await s.executor.execute(opp, SIZE)

    first = rec.legs[0]
    assert first.filled == ETH_STEP and rec.spent > 0
    assert rec.outcome == "unwound", rec.reason
    assert rec.dust == {"ETH": first.received} and rec.held == {} and rec.unwinds == []
    assert "below the market minimum" in rec.reason
    # The dust counts at its cost: the cycle lost only the first leg's fee, nothing vanished.
    assert -rec.spent * ETH_FEE * 2 < rec.actual_profit <= 0
    (row,) = rows(s)
    assert row["outcome"] == "unwound" and row["legs"]["dust"] == {"ETH": str(first.received)}
    assert [e.severity for e in s.events if e.kind == ARB_HELD] == []
