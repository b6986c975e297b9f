"""Checks of how venues name one another in a config: a paper venue's `data_venue`, and a paper
venue that would otherwise fill on the prices of several venues of one exchange kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradeguard.config import VenueConfig

DATA_KINDS = ("ccxt", "kalshi", "polymarket")
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


def check_dex_references(v: VenueConfig, names: list[str]) -> None:
    """A DEX venue's `reference_marks`: each pool one of its symbols, each venue a configured
    one (not itself)."""
    if v.dex is None:
        return
    for pool, (venue, symbol) in v.dex.reference_of().items():
        if pool not in v.symbols:
            raise ValueError(
                f"venue {v.name!r}: venues.dex.reference_marks names pool {pool!r}, which it "
                f"does not trade; its symbols: {list(v.symbols)}"
            )
        if venue not in names or venue == v.name:
            others = [n for n in names if n != v.name]
            raise ValueError(
                f"venue {v.name!r}: venues.dex.reference_marks holds {pool!r} to {symbol!r} "
                f"of venue {venue!r}, which is not another configured venue; venues: {others}"
            )
