"""Unwinding longer cycles on the paper venue: routes back over the venue's markets, or hold."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from test_triangular_exec_support import Stack, small_universe
from tradeguard.model import Side
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.strategies.triangular.executor import ARB_HELD, ArbExecution

SIZE = Decimal(1000)  # USDT
ONE = Decimal(1)
BOUND = Decimal("0.99")  # 1 - max_unwind_loss_pct (1%) / 100
# USDT -> USDC -> A0023 -> BTC -> USDT (buy, buy, sell, sell), about +0.94% after fees. Without
# A0023/USDT listed, A0023 is two hops from USDT: through FDUSD, ETH or USDC.
CYCLE_4 = ("USDC/USDT", "A0023/USDC", "A0023/BTC", "BTC/USDT")
NO_DIRECT = ("A0023/USDT",)


def moved_book(s: Stack, symbol: str, factor: float) -> tuple[Any, Any]:
    """Return the universe book of `symbol` with every price multiplied by `factor`."""
    bids, asks = s.universe.book(symbol)
    return [[p * factor, q] for p, q in bids], [[p * factor, q] for p, q in asks]


def fail_leg_3(s: Stack) -> None:
    """Move A0023/BTC's bids 3% down: beyond slippage_pct=2, so leg 3 is not sent."""
    s.feed("A0023/BTC", *moved_book(s, "A0023/BTC", 0.97))


def stranded_cost(rec: ArbExecution) -> Decimal:
    """Return the USDT cost of the A0023 that legs 1 and 2 bought."""
    first, second = rec.legs[0], rec.legs[1]
    return first.spent / first.received * second.spent


def gross_rate(rec: ArbExecution) -> Decimal:
    """Return the unwind's start asset per unit of the stranded asset, before fees."""
    rate = ONE
    for hop in rec.unwinds:
        rate *= ONE / hop.avg_price if hop.side is Side.BUY else hop.avg_price
    return rate


async def test_leg_3_failure_unwinds_an_asset_without_a_direct_market_in_two_hops(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path, universe=small_universe(delist=NO_DIRECT))
    opp = s.opportunity(CYCLE_4)
    fail_leg_3(s)

    rec = await s.executor.execute(opp, SIZE)

    assert rec.outcome == "unwound", rec.reason
    assert [leg.status for leg in rec.legs] == ["filled", "filled", "not_sent"]
    assert "leg 3 not sent" in rec.reason and "slippage_pct=2" in rec.reason
    stranded, cost = rec.legs[1].received, stranded_cost(rec)
    # The best two-hop way at these books is through FDUSD (ETH and USDC return less).
    first, second = rec.unwinds
    assert [(u.symbol, u.side) for u in rec.unwinds] == [
        ("A0023/FDUSD", Side.SELL),
        ("FDUSD/USDT", Side.SELL),
    ]
    assert (first.from_asset, first.to_asset, second.to_asset) == ("A0023", "FDUSD", "USDT")
    assert first.status == second.status == "filled"
    assert first.filled == stranded and second.order_amount == second.filled
    # Prices within max_unwind_loss_pct of the A0023's cost, fees on top.
    assert gross_rate(rec) >= cost / stranded * BOUND
    # What came back, what stayed as FDUSD rounding dust (at its cost) and the loss add up.
    fdusd_dust = first.received - second.spent
    assert rec.dust["FDUSD"] == fdusd_dust and fdusd_dust < Decimal("0.1")
    assert rec.returned == second.received
    assert rec.unwind_loss == cost - rec.returned - cost * fdusd_dust / first.received
    assert rec.held == {}
    assert await s.venue_balance("A0023") == 0
    assert await s.venue_balance("FDUSD") == fdusd_dust
    assert await s.venue_balance("USDT") == Decimal(100_000) - rec.spent + rec.returned
    (row,) = load_arb_executions(s.storage, strategy_id=s.config.strategy_id)
    assert row["outcome"] == "unwound"
    assert [u["symbol"] for u in row["legs"]["unwinds"]] == ["A0023/FDUSD", "FDUSD/USDT"]
    assert not [e for e in s.events if e.kind == ARB_HELD]


async def test_an_expired_hop_whose_bound_is_beyond_the_price_band_is_resent_at_its_edge(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path, universe=small_universe(delist=NO_DIRECT))
    opp = s.opportunity(CYCLE_4)
    fail_leg_3(s)
    # Only the venue sees FDUSD/USDT 1.5% lower: the route is planned, its second IOC expires.
    bids, asks = s.universe.book("FDUSD/USDT")
    s.feed("FDUSD/USDT", [[p * 0.985, q] for p, q in bids], asks, state=False)

    rec = await s.executor.execute(opp, SIZE)

    # Resent at its bound, beyond risk.price_band_pct=2 of the node's mid, the hop was refused
    # and the FDUSD held; at the band's edge the risk engine passes it and it fills.
    assert rec.outcome == "unwound", rec.reason
    first, second, again = rec.unwinds
    assert second.client_order_id and second.status == "expired" and second.filled == 0
    assert (again.symbol, again.status) == ("FDUSD/USDT", "filled")
    mid = s.market.mid("FDUSD/USDT")
    assert mid is not None and again.limit_price >= mid * Decimal("0.98")
    assert again.limit_price - Decimal("0.0001") < mid * Decimal("0.98")  # the edge, to the tick
    stranded, cost = rec.legs[1].received, stranded_cost(rec)
    assert first.avg_price * again.limit_price >= cost / stranded * BOUND
    assert rec.held == {} and not [e for e in s.events if e.kind == ARB_HELD]


async def test_second_hop_that_cannot_fill_within_the_bound_holds_the_asset_in_hand(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path, universe=small_universe(delist=NO_DIRECT))
    opp = s.opportunity(CYCLE_4)
    fail_leg_3(s)
    # Only the venue sees FDUSD/USDT 3% lower, beyond both the bound and the price band.
    bids, asks = s.universe.book("FDUSD/USDT")
    s.feed("FDUSD/USDT", [[p * 0.97, q] for p, q in bids], asks, state=False)

    rec = await s.executor.execute(opp, SIZE)

    assert rec.outcome == "held"
    # The second hop expired; resent at the band's edge (its bound lies beyond) it expires too.
    first, second, again = rec.unwinds
    assert first.status == "filled" and first.to_asset == "FDUSD"
    assert second.client_order_id and second.status == "expired" and second.filled == 0
    assert (again.symbol, again.status, again.filled) == ("FDUSD/USDT", "expired", 0)
    assert again.client_order_id and "denied" not in rec.reason
    # Its limits kept the whole way back within the bound.
    stranded, cost = rec.legs[1].received, stranded_cost(rec)
    assert first.avg_price * again.limit_price >= cost / stranded * BOUND
    assert second.limit_price >= again.limit_price
    assert rec.held == {"FDUSD": first.received}
    assert "unwind 2 (FDUSD/USDT) expired" in rec.reason
    alerts = [e for e in s.events if e.kind == ARB_HELD]
    assert len(alerts) == 1 and alerts[0].severity == "critical"
    assert alerts[0].data["held"] == {"FDUSD": str(first.received)}
    assert await s.venue_balance("FDUSD") == first.received
    assert rec.actual_profit == 0  # the FDUSD counts at what the A0023 cost


async def test_hold_at_leg_3_keeps_the_second_asset_and_alerts(tmp_path: Path) -> None:
    s = Stack(
        tmp_path,
        universe=small_universe(delist=NO_DIRECT),
        exec_config={"on_leg_failure": "hold"},
    )
    opp = s.opportunity(CYCLE_4)
    fail_leg_3(s)

    rec = await s.executor.execute(opp, SIZE)

    assert rec.outcome == "held"
    assert rec.held == {"A0023": rec.legs[1].received}
    assert rec.unwinds == [] and len(s.orders.orders) == 2
    assert await s.venue_balance("A0023") == rec.legs[1].received
    alerts = [e for e in s.events if e.kind == ARB_HELD]
    assert len(alerts) == 1 and alerts[0].severity == "critical"
    assert alerts[0].data["held"] == {"A0023": str(rec.legs[1].received)}
    assert "on_leg_failure=hold" in alerts[0].data["message"]
    assert rec.actual_profit == 0


async def test_poor_direct_market_is_bypassed_by_a_route_within_the_bound(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path)
    opp = s.opportunity()  # USDT -> ETH -> A0009 -> USDT
    s.feed("A0009/ETH", *moved_book(s, "A0009/ETH", 1.03))  # leg 2 not sent: ETH stranded
    bids, asks = s.universe.book("ETH/USDT")
    s.feed("ETH/USDT", [[p * 0.985, q] for p, q in bids], asks)  # 1.5% below the ETH's cost

    rec = await s.executor.execute(opp, SIZE)

    assert rec.outcome == "unwound", rec.reason
    symbols = [u.symbol for u in rec.unwinds]
    assert len(symbols) == 2 and "ETH/USDT" not in symbols
    assert rec.unwinds[0].from_asset == "ETH" and rec.unwinds[-1].to_asset == "USDT"
    assert all(u.status == "filled" for u in rec.unwinds)
    cost = rec.legs[0].spent
    assert gross_rate(rec) >= cost / rec.legs[0].received * BOUND
    assert await s.venue_balance("ETH") == rec.dust.get("ETH", 0)


async def test_no_route_within_max_unwind_hops_holds_and_says_so(tmp_path: Path) -> None:
    s = Stack(
        tmp_path,
        universe=small_universe(delist=NO_DIRECT),
        exec_config={"max_unwind_hops": 1},
    )
    opp = s.opportunity(CYCLE_4)
    fail_leg_3(s)

    rec = await s.executor.execute(opp, SIZE)

    assert rec.outcome == "held"
    assert rec.unwinds == []
    assert rec.held == {"A0023": rec.legs[1].received}
    assert "no quoted route from A0023 back to USDT within max_unwind_hops=1" in rec.reason
    assert [e.severity for e in s.events if e.kind == ARB_HELD] == ["critical"]
