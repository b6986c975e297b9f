"""Trades the venue reports for markets whose YES and NO fell as a merge would.

Sales made on the venue outside the node (by hand, another program on the account) of n YES and
n NO whose proceeds sum to n change the balances exactly as a merge does, but the venue lists
them among the account's trades and a merge never is. Before a drop is booked as a merge, the
venue's trades of the market that the ledger lacks are booked as fills, the normal path of a
trade the node did not make (a position of no strategy on an outcome market); the balances are
then compared at the next pass, read after those trades. A listing longer than the venue's
page cap is read over several passes (Polymarket: from the cursor the last read stopped at,
once what it read is committed; a read whose booking failed is read again): what was read is
booked and the venue waits, never a pass refused for the listing's length.
A trade dated to the whole second the ledger opened in is booked (it may have come after the
opening), never left to a merge, unless the opening's own reconciliation listed it
(`ledger_opening`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from tradeguard.execution.ledger_audit import stored_start_ts
from tradeguard.execution.ledger_opening import before_opening, opening_trades
from tradeguard.model.fill import Fill
from tradeguard.model.outcome import Outcome, outcome_symbol

# a symbol's trades the venue lists, and whether to the listing's end (False: the listing is
# longer than the venue reads at once; the next call reads on from where this one stopped)
FetchFills = Callable[[str], Awaitable[tuple[list[Fill], bool]]]
# the symbols whose trades just read are booked: their next read goes on past them
Kept = Callable[[Iterable[str]], None]


async def venue_trades(venue: Any, symbol: str) -> tuple[list[Fill], bool]:
    """A symbol's trades `venue` lists, read on from where the last read stopped when the
    venue reads its listing in parts (`fetch_fills_part`), else all of them at once."""
    part = getattr(venue, "fetch_fills_part", None)
    if part is not None:
        fills, whole = await part(symbol)
        return list(fills), bool(whole)
    return await venue.fetch_fills(symbol, since_ts=0), True


def trades_kept(venue: Any, symbols: Iterable[str]) -> None:
    """Tell `venue` the trades of `symbols` it last listed are booked (committed): a venue
    reading its listing in parts goes on past them at the next read, never before (a read
    whose booking failed is read again, never skipped)."""
    kept = getattr(venue, "fills_part_kept", None)
    if kept is not None:
        for symbol in symbols:
            kept(symbol)


async def book_outside_trades(
    om: Any,
    fetch: FetchFills,
    name: str,
    markets: Iterable[str],
    quote: str,
    kept: Kept | None = None,
) -> tuple[list[str], bool]:
    """Book the trades of `markets`' YES and NO that venue `name` lists (`fetch`) and the
    ledger lacks; return their trade ids (empty: nothing the ledger lacks among those read)
    and whether every listing was read to its end (False: the rest at the next call). Once
    they are committed, `kept` is told the symbols read (the next read goes on past them)."""
    # every read first: a read failing half way books nothing, since the YES sale booked
    # without the NO one leaves a drop of NO alone, no merge's shape, read as an adjustment
    listed: list[tuple[str, list[Fill]]] = []
    whole = True
    for market in sorted(markets):
        for symbol in (outcome_symbol(market, outcome, quote) for outcome in Outcome):
            fills, ended = await fetch(symbol)
            listed.append((symbol, fills))
            whole = whole and ended
    opened = stored_start_ts(om.storage).get(name)
    held = opening_trades(om.storage).get(name, set())
    booked: list[str] = []
    told: list[tuple[Fill, Any]] = []
    # one commit; one that fails puts the ledger back as the database has it (each fill's
    # undo, `StorageCore.on_rollback`): the next pass books the sales once
    with om.storage.transaction():
        for symbol, fills in listed:
            known = om.storage.fill_keys(name, symbol)
            for fill in sorted(fills, key=lambda f: f.ts):
                if (fill.trade_id, fill.side.value) in known or _in_opening(om, fill, opened, held):
                    continue
                told.extend(om.book_fill(fill))
                known.add((fill.trade_id, fill.side.value))
                booked.append(fill.trade_id)
    if kept is not None:  # durable: the next read goes on past what this one read
        kept([symbol for symbol, _ in listed])
    # the listeners hear of the sales once they are durable: a failed commit tells no one
    for fill, order in told:
        om._after_fill(fill, order)
    return booked, whole


def _in_opening(om: Any, fill: Fill, opened: int | None, held: set[str]) -> bool:
    # a trade of no journal order before the venue's ledger opened: its opening balances hold
    # it; one dated to the whole second the ledger opened in is after it unless the opening's
    # reconciliation listed it (`ledger_opening`)
    if opened is None or not before_opening(fill, opened, held):
        return False
    coid = fill.client_order_id
    return not coid or (coid not in om.orders and om.storage.get_order(coid) is None)
