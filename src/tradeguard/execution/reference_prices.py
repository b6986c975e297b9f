"""Prices for what the account holds or pays fees in but no strategy trades.

BNB kept on Binance for the fee discount, a coin left from an old trade, gas in ETH: without a
price, such a holding counts nothing in the equity the loss and drawdown halts read, and a fee
paid in it counts 0 in P&L. `ReferencePrices` finds, for each such asset, a market some venue
lists against an asset that is already priced (the valuation asset, a stablecoin, BTC, ETH),
reads its quote (public data, one ticker request) and marks it in the portfolio; later passes
refresh the same markets. The marks are kept in storage: a restarted node values such holdings
from the last ones at once (no drop in equity, so no false drawdown halt) until it reads new ones.
A market a stream marks (a strategy trades it) is no longer read here: any streamed message
takes it over, one repeating the ticker's last price too (arrival, not a change of value).

A node reads them once before trading starts (`refresh_within`, bounded: a venue that does not
answer in time is logged and trading starts anyway), then at every balance-sync pass, or on its
own schedule (`run`) where no balance sync runs (paper venues on a data_only venue).
Given the node's mark guard (`take`), a reading more than `risk.max_mark_jump_pct` away from the
last accepted mark of its market is held as a streamed mark is: the last mark stands, and the
next pass's reading confirms or drops it.
A fee booked while its asset has no price counts 0 in fees and P&L and is logged as such: it is
never revalued later at a price of another moment.
Each mark keeps the time its quote was read (stored with it). A market whose reading cannot be
renewed (a closed market's book, a venue that no longer answers) keeps its last mark, flagged
stale once older than `node.reference_price_max_age_s`: `ages()` gives every mark's age and
flag, the one source the API's equity and `tradeguard status` show.

```python
refs = ReferencePrices(node.portfolio, exchange_venues, node.storage)
refs.load()                   # at start: the marks kept by the last run
await refs.refresh_within(10) # before trading: a fee paid in BNB must not count 0
await refs.refresh()          # marks e.g. BNB/USDT; nothing to do when every asset is priced
refs.status()                 # {"BNB": "binance BNB/USDT", ...}, "none" where no venue lists one
refs.ages()                   # {"BNB": {"market": ..., "price": ..., "age_s": 12.0, "stale": ...}}
```
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from tradeguard.model.errors import VenueError
from tradeguard.model.market import Quote
from tradeguard.model.money import STABLECOINS
from tradeguard.model.text import name_shown
from tradeguard.portfolio.portfolio import Portfolio, aliases
from tradeguard.venues.base import Venue

log = logging.getLogger(__name__)

_HUBS = ("BTC", "ETH")
MARKS_KEY = "reference.marks"  # asset -> [venue, symbol, last mark, ms it was read]
# a venue's own marks (its section below): [[venue, asset, symbol, last mark, ms it was read]]
OWN_MARKS_KEY = "reference.own_marks"
DEFAULT_MAX_AGE_S = 3600.0  # node.reference_price_max_age_s


class ReferencePrices:
    """Marks for held and fee assets that no traded market prices."""

    def __init__(
        self,
        portfolio: Portfolio,
        venues: Mapping[str, Venue],
        storage: Any = None,
        take: Callable[[str, str, Decimal, int], bool] | None = None,
        now_ms: Callable[[], int] | None = None,
        max_age_s: float = DEFAULT_MAX_AGE_S,
    ) -> None:
        self.portfolio = portfolio
        self.now_ms = now_ms
        self.max_age_s = max_age_s
        self.read_ms: dict[str, int] = {}  # asset -> when its mark's quote was read (0: unknown)
        self.stale: set[str] = set()  # assets whose mark is past max_age_s (warned once)
        # the mark guard (`MarkGuard.take`): a reading far from the last accepted mark is held
        # until the next pass confirms or drops it, as a streamed mark is
        self.take = take
        self.venues = venues
        self.storage = storage
        self.markets: dict[str, tuple[str, str]] = {}  # asset -> (venue, symbol) marked
        self._marked: dict[str, Decimal] = {}  # symbol -> the mark set here last
        self.unlisted: set[str] = set()  # assets no venue lists a priced market for
        # (venue, asset) -> symbol read on that venue for its own holding of the asset, which
        # another venue's market prices but none of its own marks does (its own section below)
        self.own: dict[tuple[str, str], str] = {}
        self._own_marked: dict[tuple[str, str], Decimal] = {}  # (venue, symbol) -> mark set
        self.own_read_ms: dict[tuple[str, str], int] = {}  # (venue, asset) -> when it was read

    @classmethod
    def of_node(cls, node: Any, venues: Mapping[str, Venue]) -> ReferencePrices:
        """The node's: its portfolio, storage, mark guard, clock and age limit."""
        max_age_s = node.config.node.reference_price_max_age_s
        return cls(node.portfolio, venues, node.storage, node._take_mark, node.clock.now_ms,
                   max_age_s)  # fmt: skip

    def wanted(self) -> list[str]:
        """Assets held (any venue) or paid as fees that no mark prices, and those marked here."""
        portfolio = self.portfolio
        for asset, (venue, symbol) in list(self.markets.items()):
            if self._streamed(symbol):
                # A stream marks it now (a strategy trades it): fresher than a ticker here. The
                # venue's own mark read here would stay as it is for good: it goes too.
                del self.markets[asset]
                self.read_ms.pop(asset, None)
                self.stale.discard(asset)
                last = self._marked.pop(symbol, None)
                if last is not None:
                    portfolio.unmark(venue, symbol, last)
        assets = {b.asset for b in portfolio.all_balances() if b.total}
        assets |= portfolio.unvalued_fee_assets
        unpriced = {a for a in assets if portfolio.price_of(a, pegs=False) is None}
        return sorted(unpriced | set(self.markets))

    def load(self) -> None:
        """Mark what the last run kept, where nothing marks it yet (called at start)."""
        kept = self.storage.kv_get(MARKS_KEY) if self.storage is not None else None
        if not isinstance(kept, dict):
            return
        for asset, row in kept.items():
            try:
                venue, symbol, price = str(row[0]), str(row[1]), Decimal(str(row[2]))
                # a row stored before read times were: its age is unknown, so it is stale
                read_ms = int(row[3]) if len(row) > 3 else 0
            except (IndexError, KeyError, TypeError, ValueError, ArithmeticError):
                continue  # a damaged row: read it again from the venue
            if venue in self.venues and symbol not in self.portfolio.marks and price > 0:
                self.portfolio.mark(symbol, price, venue)
                self.markets[asset] = (venue, symbol)
                self._marked[symbol] = price
                self.read_ms[asset] = read_ms
        self._load_own()
        self._warn_stale()

    async def refresh(self) -> dict[str, Decimal]:
        """Mark every wanted asset's market from its venue's quote; return the marks set. A
        venue that cannot answer leaves the last mark in place; nothing here raises."""
        marked: dict[str, Decimal] = {}
        for asset in self.wanted():
            try:
                mid = await self._read(asset)
            except Exception as exc:  # one asset's price must not stop the balance sync
                log.warning("reference price of %s not read: %s", name_shown(asset), exc)
                continue
            if mid is not None:
                marked[self.markets[asset][1]] = mid
        own_before = dict(self.own)
        marked.update(await self._refresh_own())
        if self.storage is not None and (marked or self.own != own_before):
            self.storage.kv_set(
                MARKS_KEY,
                {a: [v, s, str(self._marked[s]), self.read_ms.get(a, 0)]
                 for a, (v, s) in sorted(self.markets.items())},
            )  # fmt: skip
            self.storage.kv_set(
                OWN_MARKS_KEY,
                [[v, a, s, str(self._own_marked[(v, s)]), self.own_read_ms.get((v, a), 0)]
                 for (v, a), s in sorted(self.own.items())],
            )  # fmt: skip
        self._warn_stale()
        return marked

    def ages(self) -> dict[str, dict[str, Any]]:
        """Each mark set here: its market, price, read time, age (s; None when unknown) and
        whether it is stale (older than `max_age_s`, or of unknown age)."""
        now = self.now_ms() if self.now_ms is not None else None
        rows = [(asset, venue, symbol, self._marked.get(symbol), self.read_ms.get(asset, 0))
                for asset, (venue, symbol) in sorted(self.markets.items())]  # fmt: skip
        # a venue's own marks, keyed `venue:asset` as in `status`
        rows += [(f"{venue}:{asset}", venue, symbol, self._own_marked.get((venue, symbol)),
                  self.own_read_ms.get((venue, asset), 0))
                 for (venue, asset), symbol in sorted(self.own.items())]  # fmt: skip
        out: dict[str, dict[str, Any]] = {}
        for key, venue, symbol, price, read in rows:
            age = (now - read) / 1000 if now is not None and read else None
            out[key] = {
                "market": f"{venue} {symbol}",
                "price": "" if price is None else str(price),
                "read_ms": read or None,
                "age_s": None if age is None else round(max(age, 0.0), 3),
                "stale": age is None or age > self.max_age_s,
            }
        return out

    def _warn_stale(self) -> None:
        """Log each mark the moment it turns stale (once; again after a fresh reading)."""
        ages = self.ages()
        for asset, row in ages.items():
            if row["stale"] and asset not in self.stale:
                self.stale.add(asset)
                age = "unknown" if row["age_s"] is None else f"{row['age_s']:.0f} s"
                log.warning(
                    "reference price of %s (%s at %s) not read again for %s, over "
                    "node.reference_price_max_age_s=%s: shown as stale until a reading renews it",
                    name_shown(asset), name_shown(str(row["market"])), row["price"], age,
                    self.max_age_s,
                )  # fmt: skip
            elif not row["stale"]:
                self.stale.discard(asset)

    async def refresh_within(self, timeout_s: float) -> bool:
        """Refresh, waiting at most `timeout_s`; tell whether it finished. On time-out, log what
        stays unpriced and go on (marks read by then are kept)."""
        try:
            await asyncio.wait_for(self.refresh(), timeout_s)
            return True
        except TimeoutError:
            pending = [a for a in self.wanted() if self.portfolio.price_of(a, pegs=False) is None]
            log.warning(
                "reference prices not read within %s s (node.reference_prices_timeout_s); "
                "going on without them: %s count 0 until a later pass reads them",
                timeout_s,
                ", ".join(pending) or "nothing",
            )
            return False

    async def run(self, interval_s: float) -> None:
        """Refresh every `interval_s` seconds until cancelled (the first after one interval)."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.refresh()
            except Exception:  # storage trouble: the next pass tries again
                log.exception("reference prices pass failed")

    async def _read(self, asset: str) -> Decimal | None:
        # Always in order of preference (the valuation asset's pair first: the mark `price_of`
        # reads first), not the market read last: one that stood in while the preferred venue
        # could not answer must not keep that venue's last mark in use for the rest of the run.
        found = self._markets_for(asset)
        kept = self.markets.get(asset)
        if kept is not None and kept not in found:
            found.append(kept)
        if not found:
            if asset not in self.unlisted:
                peg = self.portfolio.peg_price(asset, self.portfolio.valuation_asset)
                log.warning(
                    "no venue lists a priced market for %s: it counts %s",
                    name_shown(asset),
                    "nothing"
                    if peg is None
                    else (
                        f"at its peg (node.pegged_assets): 1 {name_shown(asset)} = "
                        f"{peg.quantize(Decimal('1E-12')).normalize():f} "
                        f"{self.portfolio.valuation_asset}"
                    ),
                )
                self.unlisted.add(asset)
            return None
        unbid = False
        for venue, symbol in found:  # a venue without a usable quote leaves it to the next
            before = self.portfolio.marks.get(symbol)
            quote, answered = await self._usable_quote(venue, symbol)
            if quote is None:
                unbid = unbid or answered  # e.g. a book with no bids: its ticker says bid 0
                continue
            if self.portfolio.marks.get(symbol) is not before:
                return None  # a stream marked it while the ticker was read: its mark is fresher
            mid = quote.mid
            if self.take is not None and not self.take(venue, symbol, mid, quote.ts):
                return None  # held: the last mark stands until the next pass settles it
            self.portfolio.mark(symbol, mid, venue, self._stamp(quote))
            self._marked[symbol] = mid
            self.markets[asset] = (venue, symbol)
            # read now, by the node's clock: the venue's stamp may be its last trade's time or
            # run on another clock (an age by it would flag a fresh reading, or hide a stale one)
            self.read_ms[asset] = self.now_ms() if self.now_ms is not None else quote.ts
            self.unlisted.discard(asset)
            self.portfolio.unbid.discard(asset)
            return mid
        if unbid and asset not in self.portfolio.unbid and asset in self.portfolio.pegged:
            log.warning(
                "%s: its listed markets bid nothing; it counts nothing, not its peg",
                name_shown(asset),
            )
            self.portfolio.unbid.add(asset)
        return None

    def _stamp(self, quote: Quote) -> int:
        """The venue time a reading is compared by with streamed marks (`Portfolio.mark_own`):
        its stamp, but never past the node's clock (a venue whose clock runs ahead would
        otherwise hold the latest against every message until its stamp)."""
        return quote.ts if self.now_ms is None else min(quote.ts, self.now_ms())

    def _streamed(self, symbol: str) -> bool:
        # Whether something else marked `symbol` since this did: by the mark itself, not its
        # value (a streamed message repeating the ticker's price is the stream alive all the
        # same). Every mark is a Decimal of its own message; only the one set here is this one.
        # A venue's own reading (its own section below) newer than this one is no stream.
        portfolio = self.portfolio
        return portfolio.marks.get(symbol) is not self._marked.get(symbol) and (
            not portfolio.read_latest(symbol)
        )

    def _markets_for(self, asset: str) -> list[tuple[str, str]]:
        """Every (venue, symbol) pairing `asset` with a priced asset, either way round, the
        valuation asset first, then stablecoins, then BTC and ETH."""
        portfolio = self.portfolio
        valuation = portfolio.valuation_asset
        others = [valuation, *sorted(STABLECOINS - {valuation}), *_HUBS]
        found: list[tuple[str, str]] = []
        for other in others:
            # A coin's wrapped twin's market prices it too (ETH's gas at a WETH pool's price).
            for held in aliases(asset):
                if other == held or (other != valuation and portfolio.price_of(other) is None):
                    continue
                for symbol in (f"{held}/{other}", f"{other}/{held}"):
                    found.extend((n, symbol) for n, v in self.venues.items() if v.lists(symbol))
        return found

    def status(self) -> dict[str, Any]:
        """What prices each asset: `venue symbol`, or "none" where no venue lists a market."""
        out: dict[str, Any] = {a: f"{v} {s}" for a, (v, s) in sorted(self.markets.items())}
        out.update({a: "none" for a in sorted(self.unlisted)})
        out.update({f"{v}:{a}": f"{v} {s}" for (v, a), s in sorted(self.own.items())})
        return out

    # A venue's own prices ----------------------------------------------------------------------
    # Kraken holding BTC that no strategy trades there, while a bot streams Binance's BTC/USDT:
    # BTC is priced, so the pass above reads nothing, and Kraken's BTC would stay valued at
    # Binance's price for the whole run (equity flagged provisional for good). Each exchange's
    # holdings are read at that exchange's own market instead, as its own stream would mark them.

    def own_wanted(self) -> list[tuple[str, str]]:
        """(venue, asset) pairs held on a venue whose own marks cannot price them while another
        venue's can, and those read here before (until the venue's own stream marks them)."""
        portfolio = self.portfolio
        for (venue, asset), symbol in list(self.own.items()):
            own = portfolio.venue_marks.get(venue, {})
            book = portfolio.books.get(venue)
            held = book is not None and bool(book.total(asset))
            mine = own.get(symbol) is self._own_marked.get((venue, symbol))
            if mine and held and not self._own_stale(venue, asset):
                continue
            # its own stream marks it now (fresher than a ticker here), it holds none, or the
            # venue has not answered for longer than max_age_s: a price read once that no one
            # refreshes goes, as the pass above does (the valuation says it is borrowed)
            del self.own[(venue, asset)]
            self.own_read_ms.pop((venue, asset), None)
            self.stale.discard(f"{venue}:{asset}")
            last = self._own_marked.pop((venue, symbol), None)
            if last is not None and own.get(symbol) is last:
                portfolio.unmark(venue, symbol, last)
        wanted = set(self.own)
        for name in self.venues:
            if name in portfolio.untied or portfolio.data_venue.get(name, name) != name:
                continue  # priced at another venue's data by design
            book = portfolio.books.get(name)
            if book is None:
                continue
            _, elsewhere = portfolio.values_on(name, book.nonzero())
            wanted |= {(name, asset) for asset in elsewhere}
        return sorted(wanted)

    def _own_stale(self, venue: str, asset: str) -> bool:
        """Whether `venue`'s own mark of `asset` is older than `max_age_s` (without a clock, or
        with no read time, its age is unknown: never stale here, as before read times were)."""
        read = self.own_read_ms.get((venue, asset), 0)
        if self.now_ms is None or not read:
            return False
        return (self.now_ms() - read) / 1000 > self.max_age_s

    def _load_own(self) -> None:
        """Take back the own marks the last run kept, each no older than `max_age_s` (a
        restarted node values a venue's holdings at that venue's price before its first
        reading, never at one too old to stand)."""
        kept = self.storage.kv_get(OWN_MARKS_KEY) if self.storage is not None else None
        if not isinstance(kept, list) or self.now_ms is None:
            return  # without a clock no age can be told: read them again instead
        now = self.now_ms()
        for row in kept:
            try:
                venue, asset, symbol = str(row[0]), str(row[1]), str(row[2])
                price, read_ms = Decimal(str(row[3])), int(row[4])
            except (IndexError, KeyError, TypeError, ValueError, ArithmeticError):
                continue  # a damaged row: read it again from the venue
            fresh = read_ms > 0 and (now - read_ms) / 1000 <= self.max_age_s
            own = self.portfolio.venue_marks.get(venue, {})
            if not fresh or venue not in self.venues or symbol in own or not price > 0:
                continue
            self.portfolio.mark_own(venue, symbol, price, latest=False)
            self._own_marked[(venue, symbol)] = price
            self.own[(venue, asset)] = symbol
            self.own_read_ms[(venue, asset)] = read_ms

    async def _refresh_own(self) -> dict[str, Decimal]:
        marked: dict[str, Decimal] = {}
        for venue, asset in self.own_wanted():
            try:
                read = await self._read_own(venue, asset)
            except Exception as exc:  # one asset's price must not stop the balance sync
                log.warning(
                    "reference price of %s on %s not read: %s", name_shown(asset), venue, exc
                )
                continue
            if read is not None:
                marked[read[0]] = read[1]
        return marked

    async def _read_own(self, venue: str, asset: str) -> tuple[str, Decimal] | None:
        portfolio = self.portfolio
        for symbol in self._own_markets(venue, asset):
            own = portfolio.venue_marks.get(venue, {})
            before = own.get(symbol)
            if before is not None and before is not self._own_marked.get((venue, symbol)):
                return None  # the venue's own stream marks it: nothing to read
            quote, _answered = await self._usable_quote(venue, symbol)
            if quote is None:
                continue
            if portfolio.venue_marks.get(venue, {}).get(symbol) is not before:
                return None  # its stream marked it while the ticker was read: fresher
            mid = quote.mid
            if self.take is not None and not self.take(venue, symbol, mid, quote.ts):
                return None  # held: the next pass settles it
            portfolio.mark_own(venue, symbol, mid, ts=self._stamp(quote))
            self._own_marked[(venue, symbol)] = mid
            self.own[(venue, asset)] = symbol
            self.own_read_ms[(venue, asset)] = self.now_ms() if self.now_ms is not None else 0
            return symbol, mid
        return None

    async def _usable_quote(self, venue: str, symbol: str) -> tuple[Quote | None, bool]:
        """Read `symbol`'s quote on `venue`: the quote where it bids and asks, and whether the
        venue answered (False after an error, logged)."""
        try:
            quote = await self.venues[venue].fetch_reference_quote(symbol)
        except VenueError as exc:
            log.warning("reference price %s on %s not read: %s", symbol, venue, exc)
            return None, False
        if quote is None or quote.bid <= 0 or quote.ask <= 0:
            return None, True
        return quote, True

    def _own_markets(self, venue: str, asset: str) -> list[str]:
        """`venue`'s markets pairing `asset` with the valuation asset, a stablecoin, BTC or
        ETH, in that order of preference."""
        valuation = self.portfolio.valuation_asset
        others = [valuation, *sorted(STABLECOINS - {valuation}), *_HUBS]
        listing = self.venues[venue]
        found: list[str] = []
        for other in others:
            for held in aliases(asset):
                for symbol in (f"{held}/{other}", f"{other}/{held}"):
                    if other != held and symbol not in found and listing.lists(symbol):
                        found.append(symbol)
        return found
