"""Merges seen by the balance sync: n YES and n NO of one market gone, n of cash come.

A merge done outside the node (polymarket.com's "merge", the CTF contract's mergePositions)
reaches the sync as three differences. Booked as adjustments they would read as a deposit and
a loss while the strategy still held the pair; instead they are booked like a netting: the
pair's holders sell n YES and n NO at prices summing to 1.00 (the market's last fill's, as a
netting), no fee, so positions close with their P&L realised and the ledger equals the venue.
Ids derive from the market, the count of its fills booked before, the ledger's holding before
and the pair count: a merge seen again (a sync after a crash between seeing and booking) is
booked once, a later merge of the same size from the same holding is booked too.

pUSD counts in millionths on-chain and a venue's balance may come back a millionth off, so
the cash may differ from the pairs' sum by up to `CASH_ROUNDING` (two millionths); that
difference is booked as the merge's fee (negative when the venue paid more), so the ledger
equals the venue to the unit. The drops of YES and NO must still be exactly equal.

Sales by hand of n YES and n NO whose proceeds sum to n change the balances alike: the venue's
trades of the market the ledger lacks are booked first, as fills (`merge_trades.py`), and the
venue waits for the next pass; only a drop no trade explains is a merge. A fill booked while
those trades are read makes the venue wait too: the balances predate it.

Sales by hand that paid the venue's taker fee leave the cash short of the pairs' sum (or a
single outcome sold): no merge's shape, yet the venue lists them too. Whenever an outcome fell
while the cash rose, the venue's trades of those markets the ledger lacks are booked as fills,
their fees included (fees paid, the cash), and the venue waits for the next pass; never booked
as adjustments that would lose the fees. None lacking, the balances are applied as they are,
unless a fill was booked while the trades were read (the venue waits a pass then too).

Never by guess: a market whose YES and NO fell by different amounts, or a cash change
further from the pairs' sum than `CASH_ROUNDING`, is not a merge (the sync books what it
finds as before); an order of the market open on the venue could be part of the change, so
the venue waits until it ends.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from tradeguard.execution.merge_trades import FetchFills, Kept, book_outside_trades
from tradeguard.execution.outcome_netting import _book
from tradeguard.model.balance import Balance
from tradeguard.model.enums import Side
from tradeguard.model.money import ONE, ZERO, plain
from tradeguard.model.outcome import Outcome, outcome_symbol, parse_outcome_symbol

log = logging.getLogger(__name__)
_HALF = Decimal("0.5")
CASH_ROUNDING = Decimal("0.000002")  # pUSD: two on-chain millionths, never more
MOVED_WHILE_READ = "the ledger booked a fill while the venue's trades were read; waits a pass"


def merged_pairs(book: Any, reported: dict[str, Decimal]) -> tuple[dict[str, Decimal], str]:
    """Markets whose YES and NO both fell by one amount, and the cash asset; empty when the
    cash's rise is not their sum within `CASH_ROUNDING`."""
    drops: dict[str, Decimal] = {}
    for asset in book.assets():
        if not asset.endswith(":YES"):
            continue
        market = asset[: -len(":YES")]
        yes = book.total(asset) - reported.get(asset, ZERO)
        no = book.total(f"{market}:NO") - reported.get(f"{market}:NO", ZERO)
        if yes > 0 and yes == no:
            drops[market] = yes
    cash = [a for a in reported if ":" not in a and reported[a] != book.total(a)]
    if not drops or len(cash) != 1:
        return {}, ""
    rise = reported[cash[0]] - book.total(cash[0])
    if abs(rise - sum(drops.values(), ZERO)) > CASH_ROUNDING:
        return {}, ""
    return drops, cash[0]


def sold_outcomes(book: Any, reported: dict[str, Decimal]) -> tuple[dict[str, Decimal], str]:
    """Markets whose YES or NO fell while one cash asset rose, as sales on the venue outside
    the node leave the balances (a taker fee paid: the cash short of the contracts' proceeds,
    no merge's shape), each with its larger fall, and that cash asset; empty when none."""
    fell: dict[str, Decimal] = {}
    for asset in book.assets():
        market, _, side = asset.rpartition(":")
        if not market or side not in ("YES", "NO"):
            continue
        drop = book.total(asset) - reported.get(asset, ZERO)
        if drop > 0:
            fell[market] = max(fell.get(market, ZERO), drop)
    cash = [a for a in reported if ":" not in a and reported[a] > book.total(a)]
    if not fell or len(cash) != 1:
        return {}, ""
    return fell, cash[0]


async def book_merges(
    om: Any,
    fetch: FetchFills,
    venue: str,
    balances: list[Balance],
    ts: int,
    kept: Kept | None = None,
) -> str:
    """Book the merges `balances` show against the ledger, after the venue's trades (`fetch`)
    the ledger lacks; return why the venue waits ("")."""
    book = om.portfolio.book(venue)
    reported = {b.asset: b.total for b in balances}
    drops, quote = merged_pairs(book, reported)
    if not drops:  # no merge; sales on the venue that paid a fee, though, the venue lists
        return await _sold_outside(om, fetch, venue, book, reported, kept)
    for market in drops:
        busy = sorted(
            o.client_order_id for o in om.open.values()
            if o.venue == venue and o.symbol.startswith(f"{market}:")
        )  # fmt: skip
        if busy:
            return (
                f"YES and NO of {market} fell by {plain(drops[market])} as a merge would, "
                f"but order(s) {', '.join(busy)} are open there; waits until they end"
            )
    # sales on the venue outside the node look the same in the balances; the venue lists them
    before = {a: book.total(a) for a in book.assets()}
    trades, whole = await book_outside_trades(om, fetch, venue, drops, quote, kept)
    if not whole:
        return _in_part(trades, drops)
    if trades:
        return (
            f"trade(s) {', '.join(trades)} of {', '.join(sorted(drops))} made on the venue "
            "outside the node booked as fills, not a merge; the balances are compared at the "
            "next pass"
        )
    # a fill booked while the trades were read: the balances predate it, so a merge booked
    # from them would take the fill for its fee and applying them would undo the fill
    if {a: book.total(a) for a in book.assets()} != before:
        return MOVED_WHILE_READ
    # what the venue paid short of the pairs' sum (its millionths): the first merge's fee
    fee = sum(drops.values(), ZERO) - (reported[quote] - book.total(quote))
    for market, pairs in sorted(drops.items()):
        _book_merge(om, venue, market, quote, pairs, book.total(f"{market}:YES"), ts, fee)
        fee = ZERO
    return ""


async def _sold_outside(
    om: Any,
    fetch: FetchFills,
    venue: str,
    book: Any,
    reported: dict[str, Decimal],
    kept: Kept | None,
) -> str:
    """Book the venue's trades of the markets whose outcomes fell with the cash rising (hand
    sales, fees paid) that the ledger lacks, as fills with their fees; return why the venue
    waits ("": none lacking, the balances are applied as they are)."""
    sold, quote = sold_outcomes(book, reported)
    if not sold:
        return ""
    before = {a: book.total(a) for a in book.assets()}
    trades, whole = await book_outside_trades(om, fetch, venue, sold, quote, kept)
    if not whole:
        return _in_part(trades, sold)
    if not trades:
        # a fill booked while the trades were read: the balances predate it, and applied
        # they would undo it by an adjustment (booked back by the next pass)
        if {a: book.total(a) for a in book.assets()} != before:
            return MOVED_WHILE_READ
        return ""
    return (
        f"trade(s) {', '.join(trades)} of {', '.join(sorted(sold))} made on the venue outside "
        "the node booked as fills with their fees, not adjustments; the balances are compared "
        "at the next pass"
    )


def _in_part(trades: list[str], markets: dict[str, Decimal]) -> str:
    """Why the venue waits when its trades of `markets` were read only up to its page cap."""
    booked = f"; trade(s) {', '.join(trades)} booked as fills" if trades else ""
    return (
        f"the venue's trades of {', '.join(sorted(markets))} go on past its page cap: those "
        f"read are checked{booked}, the rest at the next pass"
    )


def _book_merge(
    om: Any, venue: str, market: str, quote: str, pairs: Decimal, yes_before: Decimal, ts: int,
    fee: Decimal,
) -> None:  # fmt: skip
    symbols = tuple(outcome_symbol(market, o, quote) for o in Outcome)
    traded = om.storage.load_fills(venue=venue, symbol=symbols)
    bought, price = Outcome.YES, _HALF
    if traded:
        last = traded[-1]
        _, outcome, _ = parse_outcome_symbol(last.symbol)
        other = Outcome.NO if outcome is Outcome.YES else Outcome.YES
        bought, price = (
            (outcome, last.price) if last.side is Side.BUY else (other, ONE - last.price)
        )
    # the fills of the market booked so far: a later merge of the same size from the same
    # holding (a buy between them) is another merge, one seen again after a crash is not
    seed = f"merge|{market}|{len(traded)}|{plain(yes_before)}|{plain(pairs)}"
    held = dict.fromkeys(Outcome, pairs)
    with om.storage.transaction():
        booked = _book(om, venue, market, quote, bought, price, held, seed, "", ts, fee)
    log.warning("balance sync: %s pairs of %s merged outside the node on %s; booked as %d fills",
                plain(pairs), market, venue, len(booked))  # fmt: skip
    for fill, order in booked:
        om._after_fill(fill, order)
