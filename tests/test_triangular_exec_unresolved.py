"""A leg the venue never answered (a timed-out send, queries and the cancel timing out too).

The order may still execute, so it is never taken as unfilled: no later leg goes out on it, no
unwind sells what it may spend, and the record is `held` with a critical `arb.held` naming it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from test_triangular_exec_support import CYCLE, Stack
from tradeguard.model import Order
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.strategies.triangular.executor import ARB_HELD

SIZE = Decimal(1000)  # USDT


def stall(s: Stack, symbol: str) -> list[Order]:
    """Make the paper venue time out on every request about `symbol`; return what was sent."""
    venue, sent = s.venue, []
    submit, fetch, cancel = venue.submit, venue.fetch_order, venue.cancel

    async def lost_submit(order: Order):  # type: ignore[no-untyped-def]
        if order.symbol != symbol:
            return await submit(order)
        sent.append(order)
        raise AmbiguousVenueError(venue.name, f"timeout sending {order.client_order_id}")

    async def lost_fetch(client_order_id: str, sym: str):  # type: ignore[no-untyped-def]
        if sym == symbol:
            raise AmbiguousVenueError(venue.name, f"timeout asking for {client_order_id}")
        return await fetch(client_order_id, sym)

    async def lost_cancel(order: Order):  # type: ignore[no-untyped-def]
        if order.symbol == symbol:
            raise AmbiguousVenueError(venue.name, f"timeout cancelling {order.client_order_id}")
        return await cancel(order)

    venue.submit, venue.fetch_order, venue.cancel = lost_submit, lost_fetch, lost_cancel  # type: ignore[method-assign]
    s.orders.resolve_attempts, s.orders.resolve_delay_s = 1, 0.0
    return sent


def held_events(s: Stack) -> list[str]:
    return [e.severity for e in s.events if e.kind == ARB_HELD]


async def test_an_unanswered_first_leg_is_held_not_failed(tmp_path: Path) -> None:
    s = Stack(tmp_path, exec_config={"leg_timeout_s": 0.05})
    sent = stall(s, CYCLE[0])
    rec = await s.executor.execute(s.opportunity(), SIZE)

    assert len(sent) == 1 and len(rec.legs) == 1
    assert rec.legs[0].status not in ("filled", "cancelled", "expired", "rejected")
    assert rec.outcome == "held", rec.reason
    assert "unresolved" in rec.reason and sent[0].client_order_id in rec.reason
    assert rec.held == {"USDT": rec.size} and rec.actual_profit == 0
    assert held_events(s) == ["critical"]
    (row,) = load_arb_executions(s.storage, strategy_id=s.config.strategy_id)
    assert row["outcome"] == "held"


async def test_an_unanswered_second_leg_is_not_unwound_under_it(tmp_path: Path) -> None:
    s = Stack(tmp_path, exec_config={"leg_timeout_s": 0.05, "on_leg_failure": "unwind"})
    sent = stall(s, CYCLE[1])
    rec = await s.executor.execute(s.opportunity(), SIZE)

    assert len(sent) == 1
    # Selling the ETH back would take what the unanswered A0009/ETH buy may have spent.
    assert rec.unwinds == [], [u.symbol for u in rec.unwinds]
    assert [leg.symbol for leg in rec.legs] == list(CYCLE[:2])
    assert rec.outcome == "held", rec.reason
    assert rec.held == {"ETH": rec.legs[0].received}
    assert "unresolved" in rec.reason and sent[0].client_order_id in rec.reason
    assert held_events(s) == ["critical"]
    assert await s.venue_balance("ETH") == rec.legs[0].received  # nothing sold under it


async def test_a_leg_answered_with_garbage_after_it_executed_is_found_by_query(
    tmp_path: Path,
) -> None:
    # The venue executed the first leg and answered something unreadable: the order is asked
    # for by client order id, found filled, and the cycle goes on as if the answer had come.
    s = Stack(tmp_path, exec_config={"leg_timeout_s": 0.05})
    venue, submit = s.venue, s.venue.submit

    async def garbage_answer(order: Order):  # type: ignore[no-untyped-def]
        await submit(order)
        if order.symbol == CYCLE[0]:
            raise ValueError("filled: 'n/a' is not a number")
        return await venue.fetch_order(order.client_order_id, order.symbol)

    venue.submit = garbage_answer  # type: ignore[method-assign]
    rec = await s.executor.execute(s.opportunity(), SIZE)

    assert rec.outcome == "completed", rec.reason
    assert [leg.status for leg in rec.legs] == ["filled"] * 3
    assert held_events(s) == []
    assert await s.venue_balance("ETH") == rec.dust.get("ETH", 0)


async def test_a_leg_whose_queries_and_cancel_answer_garbage_is_held(tmp_path: Path) -> None:
    # The send timed out; every query and the cancel come back unreadable. Nothing tells
    # whether the venue took it: the cycle is held on it, never aborted.
    s = Stack(tmp_path, exec_config={"leg_timeout_s": 0.05})
    venue = s.venue

    async def timeout(order: Order):  # type: ignore[no-untyped-def]
        raise AmbiguousVenueError(venue.name, f"timeout sending {order.client_order_id}")

    async def garbage(*_args: object):  # type: ignore[no-untyped-def]
        raise ValueError("filled: 'n/a' is not a number")

    venue.submit, venue.fetch_order, venue.cancel = timeout, garbage, garbage  # type: ignore[method-assign]
    s.orders.resolve_attempts, s.orders.resolve_delay_s = 1, 0.0
    rec = await s.executor.execute(s.opportunity(), SIZE)

    assert len(rec.legs) == 1 and rec.outcome == "held", rec.reason
    assert "unresolved" in rec.reason and rec.legs[0].client_order_id in rec.reason
    assert held_events(s) == ["critical"]
    assert rec.held == {"USDT": rec.size} and rec.unwinds == []


async def test_what_a_partial_leg_left_before_an_unanswered_leg_is_held_at_its_cost(
    tmp_path: Path,
) -> None:
    # The middle leg fills in part (the rest of the ETH it was given is stranded), the last
    # leg is never answered: the stranded ETH stays on the account, so the record holds it at
    # its cost, neither dropped from the record nor counted as lost.
    s = Stack(tmp_path, exec_config={"leg_timeout_s": 0.05})
    opp = s.opportunity()
    bids, asks = s.universe.book(CYCLE[1])
    s.feed(CYCLE[1], bids, [[asks[0][0], 100.0]])
    stall(s, CYCLE[2])
    rec = await s.executor.execute(opp, SIZE)

    first, second, third = rec.legs
    assert second.partial and second.filled == Decimal(100)
    stranded = first.received - second.spent
    assert rec.outcome == "held" and rec.unwinds == [], rec.reason
    assert "unresolved" in rec.reason and third.client_order_id in rec.reason
    assert rec.held == {"ETH": stranded, "A0009": second.received}, rec.held
    assert rec.held_on == {"ETH": CYCLE[1], "A0009": CYCLE[2]}
    assert await s.venue_balance("ETH") == stranded
    assert rec.actual_profit == 0, rec.actual_profit
    assert held_events(s) == ["critical"]
