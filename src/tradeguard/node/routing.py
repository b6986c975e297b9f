"""Which strategies take a venue's market data: those trading the symbol on that venue, or on a
venue that trades on its data (a paper venue's `data_venue`), or on a venue following none."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tradeguard.marketdata.state import MarketState

SourceIndex = dict[tuple[str, str], set[int]]  # (data venue or "", symbol) -> strategy ids


def source_index(strategies: Iterable[Any], market: MarketState) -> SourceIndex:
    """Index each strategy under the venue whose data prices each of its symbols ("" for a
    venue following no venue's data: it takes every venue's)."""
    out: SourceIndex = {}
    for strat in strategies:
        for venue, symbols in strat.venue_symbols.items():
            source = "" if venue in market.untied else market.price_venue(venue)
            for symbol in symbols:
                out.setdefault((source, symbol), set()).add(id(strat))
    return out


def strategies_for(
    by_symbol: dict[str, list[Any]], index: SourceIndex, symbol: str, venue: str
) -> Sequence[Any]:
    """The strategies that take `symbol`'s data from `venue` ("" untagged: all of the symbol's),
    in their configured order."""
    every = by_symbol.get(symbol, ())
    if not venue or not every:
        return every
    own, untied = index.get((venue, symbol)), index.get(("", symbol))
    if own is None and untied is None:
        return ()
    return [s for s in every if (own and id(s) in own) or (untied and id(s) in untied)]
