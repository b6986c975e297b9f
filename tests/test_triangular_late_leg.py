"""A first leg the venue said it never received (its send timed out, then a query found no
such order past the not-found grace: `rejected`) and that the venue executes after all, once
the cycle gave up: the ETH it buys is booked into the cycle's record, held at its cost, with
one critical `arb.held` naming the record and the order (kept with the rewrite, published
after it), and reported to the risk engine once, however often the fill is told."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from test_triangular_exec_support import CYCLE, Stack
from test_triangular_held_resolved import rows
from tradeguard.model import Order
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.model.events import EventKind

SIZE = Decimal(1000)  # USDT


def queue_first_leg(s: Stack, symbol: str) -> list[Order]:
    """The send of `symbol` times out without reaching the venue; queries find no such order.
    Return what was held back (sent to the venue later by the test)."""
    venue, held_back = s.venue, []
    submit, fetch = venue.submit, venue.fetch_order

    async def queued(order: Order):  # type: ignore[no-untyped-def]
        if order.symbol != symbol:
            return await submit(order)
        held_back.append(order)
        raise AmbiguousVenueError(venue.name, f"timeout sending {order.client_order_id}")

    async def not_there(client_order_id: str, sym: str):  # type: ignore[no-untyped-def]
        if any(o.client_order_id == client_order_id for o in held_back):
            return None  # "no such order": still queued at the venue
        return await fetch(client_order_id, sym)

    venue.submit, venue.fetch_order = queued, not_there  # type: ignore[method-assign]
    s.orders.resolve_attempts, s.orders.resolve_delay_s = 1, 0.0
    s.orders.not_found_grace_ms = 0  # the venue's answer is taken at once: rejected
    s.venue_submit = submit  # type: ignore[attr-defined]
    return held_back


async def test_a_first_leg_executed_after_the_cycle_gave_up_is_booked_held(tmp_path: Path):
    s = Stack(tmp_path, exec_config={"leg_timeout_s": 0.05})
    held_back = queue_first_leg(s, CYCLE[0])
    rec = await s.executor.execute(s.opportunity(), SIZE)
    assert rec.legs[0].status == "rejected" and rec.outcome in ("rejected", "failed"), rec
    [(row_before)] = rows(s)
    [order] = held_back
    await s.venue_submit(order)  # type: ignore[attr-defined]  # the venue executes it late
    [row] = rows(s)
    got = Decimal(row["legs"]["legs"][0]["received"])
    assert got > 0, row["legs"]
    assert row["id"] == row_before["id"] and row["outcome"] == "held", row["outcome"]
    assert row["legs"]["held"] == {"ETH": str(got)}, row["legs"]
    assert Decimal(row["legs"]["spent"]) == Decimal(row["legs"]["legs"][0]["spent"]) > 0
    assert s.portfolio.book(s.venue.name).total("ETH") >= got  # on the account, as recorded
    held = [e for e in s.events if e.kind == EventKind.ARB_HELD]
    assert [e.data["record_id"] for e in held] == [row["id"]], held
    assert order.client_order_id in held[0].data["message"]
    sid = s.config.strategy_id
    key = f"{sid}:late:{row['id']}:{order.client_order_id}"
    assert s.risk.settlements_seen[sid] == [key]  # one trade of the strategy
    assert s.risk.cycle_holdings.held(sid, s.venue.name, "ETH") == got  # an unwind may sell it
    for fill in s.gateway.fills(order.client_order_id):  # the fill told again: nothing changes
        s.gateway._on_fill(fill, s.orders.orders.get(order.client_order_id))
    assert rows(s) == [row] and len([e for e in s.events if e.kind == EventKind.ARB_HELD]) == 1
    assert s.risk.settlements_seen[sid] == [key]


async def test_a_held_record_read_back_allows_no_more_than_the_account_can_sell(tmp_path: Path):
    # What a start reads back from the held record for an `arb-unwind`: the record's amount,
    # cut to what the account can sell of it now (part sold by hand while the node was down).
    from tradeguard.strategies.triangular.strategy import TriangularStrategy
    from triangular_node_support import ARB_PARAMS

    s = Stack(tmp_path, exec_config={"leg_timeout_s": 0.05})
    held_back = queue_first_leg(s, CYCLE[0])
    await s.executor.execute(s.opportunity(), SIZE)
    [order] = held_back
    await s.venue_submit(order)  # type: ignore[attr-defined]  # executed late: held
    [row] = rows(s)
    got = Decimal(row["legs"]["held"]["ETH"])
    strat = TriangularStrategy(s.config.strategy_id, s.venue.name, "", dict(ARB_PARAMS))
    strat.executor = s.executor
    assert strat.unwind_allowances([row]) == [(s.venue.name, "ETH", got)]
    book = s.portfolio.book(s.venue.name)
    book.read_from_venue = True  # as a start's reconciliation read it: a third is left
    book.set("ETH", got / 3)
    assert strat.unwind_allowances([row]) == [(s.venue.name, "ETH", got / 3)]
    book.set("ETH", Decimal(0))  # all of it sold by hand: nothing to allow
    assert strat.unwind_allowances([row]) == []
    assert strat.unwind_allowances([{**row, "outcome": "unwound"}]) == []
