"""Trades the venue reports for markets whose YES and NO fell as a merge would.

Sales made on the venue outside the node (by hand, another program on the account) of n YES and
n NO whose proceeds sum to n change the balances exactly as a merge does, but the venue lists
them among the account's trades and a merge never is. Before a drop is booked as a merge, the
venue's trades of the market that the ledger lacks are booked as fills, the normal path of a
trade the node did not make (a position of no strategy on an outcome market); the balances are
then compared at the next pass, read after those trades. A trade dated to the whole second
the ledger opened in is booked (it may have come after the opening), never left to a merge,
unless the opening's own reconciliation listed it (`ledger_opening`).
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

from tradeguard.execution.ledger_audit import stored_start_ts
from tradeguard.execution.ledger_opening import before_opening, opening_trades
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
    held = opening_trades(om.storage).get(name, set())
    booked: list[str] = []
    told: list[tuple[Fill, Any]] = []
    with _undone_on_failure(om.portfolio, name), om.storage.transaction():  # one commit
        for symbol, fills in listed:
            known = om.storage.fill_keys(name, symbol)
            for fill in sorted(fills, key=lambda f: f.ts):
                if (fill.trade_id, fill.side.value) in known or _in_opening(om, fill, opened, held):
                    continue
                told.extend(om.book_fill(fill))
                known.add((fill.trade_id, fill.side.value))
                booked.append(fill.trade_id)
    # the listeners hear of the sales once they are durable: a failed commit tells no one
    for fill, order in told:
        om._after_fill(fill, order)
    return booked


def _in_opening(om: Any, fill: Fill, opened: int | None, held: set[str]) -> bool:
    # a trade of no journal order before the venue's ledger opened: its opening balances hold
    # it; one dated to the whole second the ledger opened in is after it unless the opening's
    # reconciliation listed it (`ledger_opening`)
    if opened is None or not before_opening(fill, opened, held):
        return False
    coid = fill.client_order_id
    return not coid or (coid not in om.orders and om.storage.get_order(coid) is None)


@contextmanager
def _undone_on_failure(portfolio: Any, venue: str) -> Iterator[None]:
    # The sales move the in-memory ledger as they are booked: a commit that fails after them
    # keeps none in the database, and a ledger still holding them would count them twice
    # when the next pass books them again. Put `venue`'s balances and positions back.
    book = portfolio.book(venue)
    balances = {b.asset: (b.free, b.locked) for b in book.all()}
    positions = {k: copy.copy(p) for k, p in portfolio.positions.items() if k[0] == venue}
    totals = (portfolio.fees_paid, portfolio.realized_pnl, len(portfolio.closed_trades))
    try:
        yield
    except BaseException:
        for asset in book.assets():
            if asset not in balances:
                book._by_asset.pop(asset)
        for asset, (free, locked) in balances.items():
            book.set(asset, free, locked)
        for key in [k for k in portfolio.positions if k[0] == venue]:
            saved = positions.get(key)
            if saved is None:
                del portfolio.positions[key]
            else:  # in place: holders of the position object see it put back too
                pos = portfolio.positions[key]
                for f in fields(saved):
                    setattr(pos, f.name, getattr(saved, f.name))
        portfolio.fees_paid, portfolio.realized_pnl = totals[0], totals[1]
        del portfolio.closed_trades[totals[2] :]
        raise
