"""Trades the venue reports for markets whose YES and NO fell as a merge would.

Sales made on the venue outside the node (by hand, another program on the account) of n YES and
n NO whose proceeds sum to n change the balances exactly as a merge does, but the venue lists
them among the account's trades and a merge never is. Before a drop is booked as a merge, the
venue's trades of the market that the ledger lacks are booked as fills, the normal path of a
trade the node did not make (a position of no strategy on an outcome market); the balances are
then compared at the next pass, read after those trades. A trade dated to the whole second
the ledger opened in is booked (it may have come after the opening), never left to a merge.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from tradeguard.execution.ledger_audit import stored_start_ts
from tradeguard.model.fill import Fill
from tradeguard.model.outcome import Outcome, outcome_symbol

FetchFills = Callable[[str], Awaitable[list[Fill]]]  # a symbol's trades the venue lists


async def book_outside_trades(
    om: Any, fetch: FetchFills, name: str, markets: Iterable[str], quote: str
) -> list[str]:
    """Book the trades of `markets`' YES and NO that venue `name` lists (`fetch`) and the
    ledger lacks; return their trade ids (empty: nothing the ledger lacks)."""
    # every read first: a read failing half way books nothing, since the YES sale booked
    # without the NO one leaves a drop of NO alone, no merge's shape, read as an adjustment
    listed = [
        (symbol, await fetch(symbol))
        for market in sorted(markets)
        for symbol in (outcome_symbol(market, outcome, quote) for outcome in Outcome)
    ]
    opened = stored_start_ts(om.storage).get(name)
    booked: list[str] = []
    told: list[tuple[Fill, Any]] = []
    # one commit; one that fails puts the ledger back as the database has it (each fill's
    # undo, `StorageCore.on_rollback`): the next pass books the sales once
    with om.storage.transaction():
        for symbol, fills in listed:
            known = om.storage.fill_keys(name, symbol)
            for fill in sorted(fills, key=lambda f: f.ts):
                if (fill.trade_id, fill.side.value) in known or _in_opening(om, fill, opened):
                    continue
                told.extend(om.book_fill(fill))
                known.add((fill.trade_id, fill.side.value))
                booked.append(fill.trade_id)
    # the listeners hear of the sales once they are durable: a failed commit tells no one
    for fill, order in told:
        om._after_fill(fill, order)
    return booked


def _in_opening(om: Any, fill: Fill, opened: int | None) -> bool:
    # a trade of no journal order before the venue's ledger opened: its opening balances hold it
    if opened is None or _latest_ts(fill) >= opened:
        return False
    coid = fill.client_order_id
    return not coid or (coid not in om.orders and om.storage.get_order(coid) is None)


def _latest_ts(fill: Fill) -> int:
    # a venue dating trades to the second (Polymarket) stamps one made at 12:00:00.700 as
    # 12:00:00.000: a whole second may stand for any ms of it, so it counts as its last one
    # and a trade in the second the ledger opened is booked, never taken for part of a merge
    return fill.ts + 999 if fill.ts % 1000 == 0 else fill.ts
