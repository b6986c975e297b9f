"""A crossed outcome book (best bid at or above best ask) is a feed gone wrong, never an edge.

No venue matches a bid against a lower ask and leaves both resting: a book that shows it has
missed a message. Its asks are stale, and a second leg sent at a stale ask fails and leaves the
first leg to be sold back at a loss, so the scanner sees no asks there until the book uncrosses.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tradeguard.model.market import Quote
from tradeguard.strategies.cross_venue.fees import FeeModel
from tradeguard.strategies.cross_venue.scanner import PairScanner, scan_pair
from tradeguard.strategies.cross_venue.strategy import CrossVenueStrategy

D = Decimal
NOW = 1_780_000_000_000
MAP = """
[[pairs]]
id = "fed"
event = "fed-dec"
reviewed_by = "ana"
reviewed_at = 2026-01-01
review_expires_at = 2027-01-01
[pairs.polymarket]
market = "fed-above-4"
yes_token = "1"
no_token = "2"
resolution_source = "FOMC statement"
resolves_at = 2026-12-17
void_rule = "50-50"
[pairs.kalshi]
ticker = "KXFED"
resolution_source = "FOMC statement"
resolves_at = 2026-12-17
void_rule = "50-50"
"""


def _strategy(tmp: Path) -> CrossVenueStrategy:
    (tmp / "map.toml").write_text(MAP)
    strat = CrossVenueStrategy("s", "pm", "", {"map": str(tmp / "map.toml"), "kalshi_venue": "k"})
    pair = strat.market_map.pairs["fed"]
    sp = scan_pair(pair, "pm", "k", FeeModel.default("polymarket"), FeeModel.default("kalshi"))
    strat.scanner = PairScanner([sp])
    strat._venue_of = {s: v for v in ("pm", "k") for s in strat.scanner.symbols(v)}
    strat.muted = True  # score only: no executor here
    return strat


def _quote(symbol: str, bid: str, ask: str) -> Quote:
    b, a = (D(bid), D(100)), (D(ask), D(100))
    return Quote(symbol, NOW, b[0], b[1], a[0], a[1], (b,), (a,))


def test_a_crossed_book_offers_no_asks_until_it_uncrosses(tmp_path) -> None:
    strat = _strategy(tmp_path)
    scanner = strat.scanner
    assert scanner is not None
    strat.on_ticker(_quote("KXFED:NO/USD", "0.50", "0.52"))
    # YES on Polymarket at 0.40 + NO on Kalshi at 0.52: a real edge on a sound book ...
    strat.on_ticker(_quote("fed-above-4:YES/PUSD", "0.38", "0.40"))
    assert scanner.best(NOW, D(1)) is not None
    # ... but with its best bid at 0.60 above that 0.40 ask the Polymarket book has crossed
    strat.on_ticker(_quote("fed-above-4:YES/PUSD", "0.60", "0.40"))
    assert scanner.best(NOW, D(1)) is None
    # a bid equal to the ask is crossed too (it would have matched)
    strat.on_ticker(_quote("fed-above-4:YES/PUSD", "0.40", "0.40"))
    assert scanner.best(NOW, D(1)) is None
    strat.on_ticker(_quote("fed-above-4:YES/PUSD", "0.39", "0.40"))
    assert scanner.best(NOW, D(1)) is not None
    # the Kalshi book crossing takes the pair out as well
    strat.on_ticker(_quote("KXFED:NO/USD", "0.53", "0.52"))
    assert scanner.best(NOW, D(1)) is None


def test_a_book_with_no_bids_is_not_crossed(tmp_path) -> None:
    strat = _strategy(tmp_path)
    scanner = strat.scanner
    assert scanner is not None
    strat.on_ticker(_quote("KXFED:NO/USD", "0.50", "0.52"))
    empty_bid = Quote("fed-above-4:YES/PUSD", NOW, D(0), D(0), D("0.40"), D(100), (),
                      ((D("0.40"), D(100)),))  # fmt: skip
    strat.on_ticker(empty_bid)
    assert scanner.best(NOW, D(1)) is not None
