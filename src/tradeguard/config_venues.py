"""Checks of how venues name one another in a config: a paper venue's `data_venue`, a paper
venue that would otherwise fill on the prices of several venues of one exchange kind, and one
data file fed twice into one venue's symbol."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tradeguard.model.money import STABLECOINS

if TYPE_CHECKING:
    from tradeguard.config import VenueConfig

DATA_KINDS = ("ccxt", "kalshi", "polymarket")
MARK_KINDS = ("ccxt", "uniswap_v2")  # the venues whose public quote is a mark
OUTCOME_EXCHANGES = ("kalshi", "polymarket")


def check_data_venue(v: VenueConfig, kinds: Mapping[str, str], data_only: set[str]) -> None:
    """A paper venue's data_venue: a market data venue of a kind matching its exchange; on a
    prediction market a `data_only` one (its public listing is what the paper venue lists)."""
    kind = kinds.get(v.data_venue or "")
    if v.kind != "paper" or kind not in DATA_KINDS:
        raise ValueError(
            f"venue {v.name!r}: data_venue={v.data_venue!r} must name a venue of kind ccxt, "
            "kalshi or polymarket and be set on a paper venue only; such venues: "
            f"{sorted(n for n, k in kinds.items() if k in DATA_KINDS)}"
        )
    outcome = v.exchange in OUTCOME_EXCHANGES
    if (kind in OUTCOME_EXCHANGES or outcome) and kind != v.exchange:
        raise ValueError(
            f"venue {v.name!r}: exchange={v.exchange!r} but data_venue={v.data_venue!r} is of "
            f"kind {kind!r}; a paper venue fills on its own exchange's books (set exchange = "
            f"{kind!r} or name a {v.exchange} venue)"
        )
    if kind in OUTCOME_EXCHANGES and v.data_venue not in data_only:
        raise ValueError(
            f"venue {v.name!r}: data_venue={v.data_venue!r} is a {kind} trading venue; a paper "
            f"venue takes its markets and books from a data-only one: set data_only = true on "
            f"{v.data_venue!r} (and drop its credentials) or add a {kind} venue with "
            "data_only = true for it"
        )
    if kind in OUTCOME_EXCHANGES and v.instruments:
        raise ValueError(
            f"venue {v.name!r}: instruments are listed, but a paper venue on {kind} venue "
            f"{v.data_venue!r} takes that venue's markets; remove [[venues.instruments]]"
        )


def check_untied_paper(v: VenueConfig, venues: list[VenueConfig]) -> None:
    """A paper venue without data_venue fills on whichever venue's data of its exchange's kind
    arrives (replays, or the one such venue streaming): two such venues are two prices of one
    symbol, and the venue must be told which to fill on."""
    kinds = (v.exchange,) if v.exchange in OUTCOME_EXCHANGES else ("ccxt",)
    feeds = sorted(o.name for o in venues if o.kind in kinds)
    if len(feeds) < 2:
        return
    raise ValueError(
        f"venue {v.name!r}: data_venue is not set and venues {feeds} all stream market data it "
        "would fill on, so one symbol would fill at whichever venue's price arrived last; set "
        f"data_venue to the one it trades on (one of {feeds})"
    )


def check_dex_references(v: VenueConfig, venues: list[VenueConfig]) -> None:
    """A DEX venue's `reference_marks`: each pool one of its symbols, each venue another
    configured one that gives marks (its public quote), of a market in the pool's quote
    currency (one dollar stablecoin standing for another)."""
    if v.dex is None:
        return
    by_name = {o.name: o for o in venues}
    for pool, (venue, symbol) in v.dex.reference_of().items():
        if pool not in v.symbols:
            raise ValueError(
                f"venue {v.name!r}: venues.dex.reference_marks names pool {pool!r}, which it "
                f"does not trade; its symbols: {list(v.symbols)}"
            )
        other = by_name.get(venue)
        if other is None or venue == v.name:
            others = [n for n in by_name if n != v.name]
            raise ValueError(
                f"venue {v.name!r}: venues.dex.reference_marks holds {pool!r} to {symbol!r} "
                f"of venue {venue!r}, which is not another configured venue; venues: {others}"
            )
        if other.kind not in MARK_KINDS:
            feed = f"; name the venue whose data it fills on, {other.data_venue!r}"
            raise ValueError(
                f"venue {v.name!r}: venues.dex.reference_marks holds {pool!r} to venue "
                f"{venue!r}, but venue {venue!r} is a {other.kind} venue, which gives no mark"
                f"{feed if other.data_venue else ''} (a venue of kind {' or '.join(MARK_KINDS)})"
            )
        _same_quote(v.name, pool, symbol)


def _same_quote(venue: str, pool: str, symbol: str) -> None:
    """The pool and the market holding it are quoted in one currency (or two dollar coins)."""
    mine, theirs = pool.partition("/")[2], symbol.partition("/")[2]
    if mine == theirs or {mine, theirs} <= STABLECOINS:
        return
    raise ValueError(
        f"venue {venue!r}: venues.dex.reference_marks holds {pool!r} to {symbol!r}, but "
        f"{symbol!r} is quoted in {theirs}, the pool {pool!r} in {mine}: a mark in another "
        "currency is no price of the pool; name a market quoted in the pool's currency"
    )


def check_data_twice(data: Sequence[Any]) -> None:
    """One file replayed into one venue's symbol twice fed every candle to its strategies
    twice (other indicators, other orders than the file once): refuse the second entry."""
    seen: dict[tuple[str, str, str], int] = {}
    for i, d in enumerate(data):
        key = (os.path.normpath(d.path), d.symbol, d.venue)
        if key in seen:
            first = data[seen[key]].timeframes
            both = [*first, *(tf for tf in d.timeframes if tf not in first)]
            fix = f"keep one entry with timeframes = {both}" if both else "remove one of them"
            raise ValueError(
                f"data[{i}] ({d.path}, {d.symbol} on {d.venue}) repeats data[{seen[key]}]: "
                f"every candle would replay twice; {fix}"
            )
        seen[key] = i
