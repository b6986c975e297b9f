"""The internal ledger: balances moved by fills, positions, marks and equity."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from decimal import Decimal

from tradeguard.model.balance import Balance, BalanceBook, spend
from tradeguard.model.enums import Side
from tradeguard.model.fill import Fill
from tradeguard.model.market import Fresh
from tradeguard.model.money import STABLECOINS, ZERO, quantize_down
from tradeguard.model.pending import settled
from tradeguard.model.position import ClosedTrade, Position
from tradeguard.portfolio.combined import aliases
from tradeguard.portfolio.rates import Leg, first_own_rate, first_rate

PositionKey = tuple[str, str, str]  # venue, symbol, strategy_id
_Paths = tuple[Leg, tuple[tuple[Leg, Leg | None], ...]]  # direct; (first, second) hops
_ONE = Decimal(1)
# how long (by the node's clock) the latest mark holds off a price stamped older than it: venues'
# clocks differ, so an older stamp may be a venue running behind, which this keeps from freezing
MARK_HOLD_MS = 5_000


class Portfolio:
    """Positions per (venue, symbol, strategy), ledger balances per venue, and equity.

    Equity is valued in `valuation_asset` (USDT by default, where every stablecoin counts 1:1)
    from the latest marks. An asset no market prices is valued at its peg when it has one
    (`pegged`: USD per unit, `node.pegged_assets`), converted at `valuation_usd` (USD per unit
    of the valuation asset, `risk.valuation_asset_usd`) when the valuation asset is not a
    stablecoin; a market price always wins. Anything else counts 0 and is listed by
    `unpriced_assets`.
    """

    marks: dict[str, Decimal] = settled("_marks", "symbol -> latest price from any venue")

    def __init__(
        self,
        valuation_asset: str = "USDT",
        pegged: Mapping[str, Decimal] | None = None,
        valuation_usd: Decimal | None = None,
    ) -> None:
        self.valuation_asset = valuation_asset
        self.pegged = dict(pegged or {})
        self.valuation_usd = valuation_usd
        self.books: dict[str, BalanceBook] = {}
        self.positions: dict[PositionKey, Position] = {}
        self._marks: dict[str, Decimal] = {}  # `marks`, after `pending` (model/pending.py)
        self.pending: object | None = None  # marks a replay has not written yet
        self._ticker_marks: dict[str, Decimal] = {}  # symbol -> the latest set by `mark_own`
        self._mark_ts: dict[str, int] = {}  # symbol -> its latest mark's venue time (0: unknown)
        self._mark_at: dict[str, int] = {}  # symbol -> when (node's clock) its latest was set
        self.now_ms: Callable[[], int] | None = None  # the node's clock (the builder's)
        # venue -> symbol -> its own latest price (from market data tagged with the venue)
        self.venue_marks: dict[str, dict[str, Decimal]] = {}
        # a venue trading on another's market data (a paper venue's data_venue) -> that venue
        self.data_venue: dict[str, str] = {}
        # venues following no venue's data (a paper venue without data_venue): any is their own
        self.untied: set[str] = set()
        self.closed_trades: list[ClosedTrade] = []
        self.fees_paid = ZERO
        self.realized_pnl = ZERO
        # (venue, symbol) -> lot step: a position left with less than this (a fee taken in
        # base) holds nothing any order can sell, and counts as flat
        self.lot_steps: dict[tuple[str, str], Decimal] = {}
        # third assets fees were paid in while no mark priced them (execution/reference_prices.py)
        self.unvalued_fee_assets: set[str] = set()
        # pegged assets whose listed markets bid nothing (execution/reference_prices.py): the
        # market says they cannot be sold, so they do not count at their peg
        self.unbid: set[str] = set()
        # (venue, symbol) -> (minimum amount, minimum notional) of one order there
        self.order_minimums: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        # asset -> (symbol, inverted) routes to the valuation asset, rebuilt when marks gain symbols
        self._routes: dict[str, tuple[tuple[str, bool], ...] | None] = {}
        self._routes_for = 0
        # (asset, target) -> the marks price_of reads, rebuilt when marks gain symbols
        self._paths: dict[tuple[str, str], _Paths] = {}
        self._paths_for = 0
        self.marks_dropped = 0  # symbols taken out of the marks so far (`marks_version`)

    # balances -------------------------------------------------------------------------------
    def book(self, venue: str) -> BalanceBook:
        book = self.books.get(venue)
        if book is None:
            book = self.books[venue] = BalanceBook(venue)
        return book

    def set_balances(self, venue: str, balances: Iterable[Balance]) -> None:
        book = self.book(venue)
        for b in balances:
            book.set(b.asset, b.free, b.locked)

    def all_balances(self) -> list[Balance]:
        return [b for book in self.books.values() for b in book.all()]

    # positions ------------------------------------------------------------------------------
    def position(self, venue: str, symbol: str, strategy_id: str = "") -> Position:
        key = (venue, symbol, strategy_id)
        pos = self.positions.get(key)
        if pos is None:
            pos = self.positions[key] = Position(venue, symbol, strategy_id)
        return pos

    def sellable(self, pos: Position) -> Decimal:
        """The signed part of `pos` an order can close: its quantity rounded toward zero to
        the lot step (a fee taken in base leaves a remainder no order can sell)."""
        step = self.lot_steps.get((pos.venue, pos.symbol), ZERO)
        return quantize_down(pos.quantity, step) if step else pos.quantity

    def closable(self, pos: Position) -> Decimal:
        """The signed part of `pos` one order can close: `sellable`, or zero for a remainder no
        order can sell. That is less than the venue's minimum amount, or what a partly filled
        exit left below the minimum notional at that exit's price. It does not depend on the
        price afterwards: a position never reduced is never dust because the price fell. The
        position keeps the remainder; this only tells what an exit or a bot's gate can do."""
        amount = self.sellable(pos)
        minimums = self.order_minimums.get((pos.venue, pos.symbol))
        if minimums is None or amount == ZERO:
            return amount
        min_amount, min_notional = minimums
        size = abs(amount)
        if size < min_amount:
            return ZERO
        exit_price = pos.last_exit_price
        reduced = abs(pos.quantity) < pos.trip_max_qty and exit_price > ZERO
        if reduced and size * exit_price < min_notional:
            return ZERO
        return amount

    def open_positions(self) -> list[Position]:
        return [p for p in self.positions.values() if p.quantity != ZERO]

    def net_quantity(self, venue: str, symbol: str) -> Decimal:
        # a loop, not sum() over a generator: the risk check asks once an order
        total = ZERO
        for (v, s, _), p in self.positions.items():
            if v == venue and s == symbol:
                total += p.quantity
        return total

    def apply_fill(
        self, fill: Fill, strategy_id: str = "", position: bool = True
    ) -> ClosedTrade | None:
        """Move ledger balances and (unless `position` is False) the position for one fill.

        Multi-leg strategies (triangular arbitrage) book balances only: a leg is not a position
        of its own, the cycle's result is accounted as a whole.
        """
        book = self.book(fill.venue)
        base, quote = fill.base, fill.quote
        notional = fill.price * fill.amount
        if fill.side is Side.BUY:
            book.get(base).free += fill.amount
            spend(book.get(quote), notional)
        else:
            # A sell's base is what the venue locked for it, as far as the ledger knows of locks.
            spend(book.get(base), fill.amount, locked_first=True)
            book.get(quote).free += notional
        if fill.fee:
            spend(book.get(fill.fee_asset), fill.fee)
        fee_q = fill.fee_in_quote
        self.fees_paid += fee_q
        (self._marks if self.pending is None else self.marks).setdefault(fill.symbol, fill.price)
        if not position:
            return None
        pos = self.position(fill.venue, fill.symbol, strategy_id)
        before = pos.realized_pnl
        # The position moves by the base the account gained or gave up (net of a fee taken in
        # base); the fee's cost stays in fee_q, so entry cost = price * amount as paid.
        dust = self.lot_steps.get((fill.venue, fill.symbol), ZERO)
        closed = pos.apply(
            fill.side, fill.price, fill.base_moved, fee_q, fill.ts, dust, fill.trade_id
        )
        self.realized_pnl += pos.realized_pnl - before
        if closed is not None:
            self.closed_trades.append(closed)
        return closed

    def valued_fee(self, fill: Fill) -> Fill:
        """Return `fill` with its fee valued in the quote asset when paid in a third asset
        (BNB, gas in ETH), from the marks now; unchanged when there is no such price."""
        if not fill.fee_in_third_asset or fill.fee_quote is not None:
            return fill
        asset, quote = fill.fee_asset, fill.quote
        price = self.price_of(asset, quote)  # ETH through a WETH market too
        if price is None:
            self.unvalued_fee_assets.add(asset)
            return fill
        return replace(fill, fee_quote=fill.fee * price)

    # valuation ------------------------------------------------------------------------------
    def mark(self, symbol: str, price: Decimal, venue: str = "", ts: int = 0) -> None:
        """`price` as `venue`'s own mark; the latest too unless the latest is newer by venue
        time (`ts`, no later than the node's clock) and was set within `MARK_HOLD_MS`."""
        if venue:
            self.venue_marks.setdefault(venue, {})[symbol] = price
        now = self.now_ms() if self.now_ms is not None else 0
        if ts and now and ts > now:
            ts = now  # a venue whose clock runs ahead would hold off every other until then
        if ts and ts < self._mark_ts.get(symbol, 0) and self._fresh(symbol, now) is not False:
            return
        self.marks[symbol] = price
        self._mark_ts[symbol], self._mark_at[symbol] = ts, now

    def _fresh(self, symbol: str, now: int) -> bool | None:
        """Whether `symbol`'s latest was set within `MARK_HOLD_MS` by the node's clock `now`
        (None without a clock: stamps alone are compared)."""
        return now - self._mark_at.get(symbol, 0) < MARK_HOLD_MS if now else None

    def mark_own(
        self, venue: str, symbol: str, price: Decimal, latest: bool = True, ts: int = 0
    ) -> None:
        """Take `price` as `venue`'s own price of `symbol`; with `latest`, as the latest of any
        venue too unless a stream set that one not before `ts` (venue ms; unknown: it stands)
        or within `MARK_HOLD_MS`.
        A price kept from the last run is its venue's only (`latest` False), or the latest of
        a market none marks (`_stand_in`: equity reads own marks along the latest's markets)."""
        self.venue_marks.setdefault(venue, {})[symbol] = price
        if not latest:
            if symbol not in self.marks:
                self._stand_in(symbol, price)
            return
        # newer than a stream's mark set more than the hold ago (a live stream's stands: its
        # venue's clock may run behind the stamp, the node's clock for a ticker without one)
        now = self.now_ms() if self.now_ms is not None else 0
        newer = ts and ts > self._mark_ts.get(symbol, 0) > 0 and not self._fresh(symbol, now)
        if symbol not in self.marks or self.read_latest(symbol) or newer:
            self.marks[symbol] = self._ticker_marks[symbol] = price
            self._mark_ts[symbol], self._mark_at[symbol] = min(ts, now) if now else ts, now

    def unmark(self, venue: str, symbol: str, price: Decimal) -> None:
        """Forget `venue`'s own mark of `symbol` if it is still `price` (read once, no one
        renews it), the latest too if its ticker set that: the mark, not its value, goes (another
        venue's own mark of `symbol` stands in: a venue's equity reads them along the latest's)."""
        own = self.venue_marks.get(venue)
        if own is not None and own.get(symbol) is price:
            del own[symbol]
        if self.marks.get(symbol) is price and self.read_latest(symbol):
            if others := [m[symbol] for _, m in sorted(self.venue_marks.items()) if symbol in m]:
                self._stand_in(symbol, others[0])
            else:
                del self.marks[symbol], self._ticker_marks[symbol]
                self.forget_price_paths()

    def _stand_in(self, symbol: str, price: Decimal) -> None:  # the weakest latest: anything
        self.marks[symbol] = self._ticker_marks[symbol] = price  # newer replaces it
        self._mark_ts[symbol] = 0

    def read_latest(self, symbol: str) -> bool:  # whether a reading (`mark_own`) set the latest
        return self.marks.get(symbol) is self._ticker_marks.get(symbol, self)

    def marks_of(self, venue: str) -> dict[str, Decimal] | None:
        """`venue`'s own marks (those of the venue whose data it trades on), if it has any."""
        return self.venue_marks.get(self.data_venue.get(venue, venue))

    def mark_or(self, venue: str, symbol: str, default: Decimal) -> Decimal:
        """`mark_of`'s price, or `default` when no venue has marked `symbol`."""
        price = self.mark_of(venue, symbol)[0]
        return default if price is None else price

    def mark_of(self, venue: str, symbol: str) -> tuple[Decimal | None, bool]:
        """`symbol`'s mark on `venue`, else the latest from any venue; the flag tells that the
        mark is another venue's (valuation falls back to it when `venue` has none; never for a
        venue in `untied`, whose price is any venue's)."""
        own = self.marks_of(venue)
        if own is not None and symbol in own:
            return own[symbol], False
        price = (self._marks if self.pending is None else self.marks).get(symbol)
        borrowed = price is not None and bool(self.venue_marks) and venue not in self.untied
        return price, borrowed

    def values_of(self, balances: Iterable[Balance]) -> dict[str, Decimal]:
        """Value each balance's total in the valuation asset, where a price is known."""
        out: dict[str, Decimal] = {}
        for b in balances:
            px = self.price_of(b.asset)
            if px is not None:
                out[b.asset] = b.total * px
        return out

    def forget_price_paths(self) -> None:
        """Drop the cached routes and paths `equity` and `price_of` read: a mark was gone (a
        fill's failed commit, a dropped reading): the marks not only gained; `marks_version`."""
        self._routes_for = self._paths_for = -1
        self.marks_dropped += 1

    def marks_version(self) -> int:
        """A number that grows whenever a symbol is first marked (+1) or taken away (+2 with
        the count's -1): a cache keyed on it is stale when the marked symbols changed, where
        one keyed on their count is not (one dropped and another marked: as many as before)."""
        return len(self._marks) + 2 * self.marks_dropped  # settling adds no key: not needed

    def values_at(
        self, balances: Iterable[Balance], marks: dict[str, Decimal]
    ) -> dict[str, Decimal]:
        """`values_of` at `marks`, a copy of this portfolio's marks taken earlier (of other
        symbols maybe: a dropped reading's market goes, `unmark`; the cached paths are not its)."""
        current, self.marks, self._paths_for = self.marks, marks, -1
        try:
            return self.values_of(balances)
        finally:
            self.marks, self._paths_for = current, -1

    def values_on(
        self,
        venue: str,
        balances: Iterable[Balance],
        marks: dict[str, Decimal] | None = None,
        own: dict[str, Decimal] | None = None,
    ) -> tuple[dict[str, Decimal], set[str]]:
        """Value `venue`'s balances at its own prices, falling back to any venue's latest for
        an asset its own marks cannot price; return the values and the assets that fell back.

        `marks` and `own` are copies taken earlier (all venues', the venue's own); default now.
        """
        every = self.marks if marks is None else marks
        mine = (self.marks_of(venue) or {}) if own is None else own
        values: dict[str, Decimal] = {}
        elsewhere: set[str] = set()
        for b in balances:
            price = self.price_at(b.asset, mine)
            if price is None:
                price = self.price_at(b.asset, every)
                if price is not None and self.venue_marks:
                    elsewhere.add(b.asset)
            if price is not None:
                values[b.asset] = b.total * price
        return values, elsewhere

    def price_at(self, asset: str, marks: dict[str, Decimal]) -> Decimal | None:
        """`price_of(asset)` read from `marks` instead of the latest from every venue."""
        if marks is self.marks:
            return self.price_of(asset)
        current = self.marks
        self.marks, self._paths_for = marks, -1  # the cached paths are for other symbols
        try:
            return self.price_of(asset)
        finally:
            self.marks, self._paths_for = current, -1

    def price_on(
        self, venue: str, asset: str, in_asset: str | None = None, fresh: Fresh = None
    ) -> Decimal | None:
        """`price_of` at `venue`'s own marks (its `data_venue`'s); another venue's latest only
        where its own cannot price `asset` (or for a venue in `untied`, whose price is any's).
        With `fresh`, an own mark of a symbol it refuses (a silent stream's) is no price."""
        own = self.marks_of(venue) if venue not in self.untied else None
        if own:
            target = in_asset or self.valuation_asset
            price = self._market_price(asset, target, own, fresh)
            if price is not None:
                return price
        return self.price_of(asset, in_asset)

    def price_of(
        self, asset: str, in_asset: str | None = None, pegs: bool = True
    ) -> Decimal | None:
        """Value one unit of `asset` in `in_asset` from marks, directly or through one hop;
        else (unless `pegs` is False) at its peg."""
        target = in_asset or self.valuation_asset
        price = self._market_price(asset, target)
        if price is None and pegs:
            return self.peg_price(asset, target)
        return price

    def peg_price(self, asset: str, target: str) -> Decimal | None:
        """One unit of a pegged `asset` in `target` at the pegs: `target` a stablecoin or
        pegged itself, else at `target`'s USD price from the marks (BTC/USDT), else for the
        valuation asset at `valuation_usd`; None otherwise."""
        usd = self.pegged.get(asset)
        if usd is None or asset in self.unbid:
            return None
        if target in self.pegged:
            return usd / self.pegged[target]
        if target in STABLECOINS:
            return usd
        # the market's USD price of BTC values USD cash like the USDT beside it, not the
        # fixed rate (which stands in only while no market prices the valuation asset)
        market = self._market_price(target, "USD")
        if market:
            return usd / market
        if target == self.valuation_asset and self.valuation_usd:
            return usd / self.valuation_usd
        return None

    def _market_price(
        self,
        asset: str,
        target: str,
        own: dict[str, Decimal] | None = None,
        fresh: Fresh = None,
    ) -> Decimal | None:
        """Price `asset` in `target` from the marks, or from `own` alone (one venue's marks,
        a subset of the marks' symbols, those `fresh` accepts if given) when given."""
        if asset == target or (asset in STABLECOINS and target in STABLECOINS):
            return _ONE
        marks = self._marks if self.pending is None else self.marks
        if len(marks) != self._paths_for:
            self._paths.clear()
            self._paths_for = len(marks)
        paths = self._paths.get((asset, target))
        if paths is None:
            paths = self._paths[(asset, target)] = self._price_paths(asset, target)
        direct, hops = paths
        rate = first_rate if own is None else first_own_rate
        read = marks if own is None else own
        price = rate(read, direct, fresh)
        if price is not None:
            return price
        for first_leg, second_leg in hops:
            first = rate(read, first_leg, fresh)
            if first is None:
                continue
            second = _ONE if second_leg is None else rate(read, second_leg, fresh)
            if second is not None:
                return first * second
        return None

    def _price_paths(self, asset: str, target: str) -> _Paths:
        """The marks `price_of` may read for (asset, target), in the order it tries them.

        Which marks exist changes only when a symbol is first marked; their values (a zero
        mark is no price) are read on every call.
        """
        direct = self._rate_symbols(asset, target)
        hops: list[tuple[Leg, Leg | None]] = []
        for hop in ("BTC", "ETH", *sorted(STABLECOINS)):
            if hop in (asset, target):
                continue
            first = self._rate_symbols(asset, hop)
            if not first:
                continue
            if hop in STABLECOINS and target in STABLECOINS:
                hops.append((first, None))
                continue
            second = self._rate_symbols(hop, target)
            if second:
                hops.append((first, second))
        return direct, tuple(hops)

    def _rate_symbols(self, asset: str, target: str) -> Leg:
        """Marked symbols quoting `asset` in `target` (any stablecoin for a stablecoin), with
        whether each is inverted, in the order they are tried."""
        targets = STABLECOINS if target in STABLECOINS else aliases(target)
        marks = self.marks
        out: list[tuple[str, bool]] = []
        for t in targets:
            for a in aliases(asset):
                for symbol, inverted in ((f"{a}/{t}", False), (f"{t}/{a}", True)):
                    if symbol in marks:
                        out.append((symbol, inverted))
        return tuple(out)

    def _route(self, asset: str) -> tuple[tuple[str, bool], ...] | None:
        """How to value `asset`: a chain of (mark symbol, inverted) hops, () for 1:1."""
        if len(self.marks) != self._routes_for:
            self._routes.clear()
            self._routes_for = len(self.marks)
        if asset in self._routes:
            return self._routes[asset]
        route: tuple[tuple[str, bool], ...] | None = None
        target = self.valuation_asset
        if asset == target or (asset in STABLECOINS and target in STABLECOINS):
            route = ()
        else:
            route = self._hop(asset, target)
            if route is None:
                for hop in ("BTC", "ETH", *sorted(STABLECOINS)):
                    if hop in (asset, target):
                        continue
                    first = self._hop(asset, hop)
                    if first is None:
                        continue
                    second = (
                        ()
                        if hop in STABLECOINS and target in STABLECOINS
                        else self._hop(hop, target)
                    )
                    if second is not None:
                        route = first + second
                        break
        self._routes[asset] = route
        return route

    def route_symbols(self, assets: Iterable[str]) -> set[str]:
        """The mark symbols `equity` values `assets` through (a hop's symbol moves the equity
        though its base asset is not held: ETH through ETH/BTC and BTC/USDT, cash inverted).
        With venues' own marks, every symbol a venue's own price may read too: a venue without
        the route's market values through a hop of its own."""
        out: set[str] = set()
        for asset in assets:
            route = self._route(asset)
            if not route:  # 1:1 (cash in cash) or at its peg: no mark moves it
                continue
            out.update(sym for sym, _ in route)
            if self.venue_marks:
                direct, hops = self._price_paths(asset, self.valuation_asset)
                legs = [direct, *(leg for pair in hops for leg in pair if leg is not None)]
                out.update(sym for leg in legs for sym, _ in leg)
        return out

    def _hop(self, asset: str, target: str) -> tuple[tuple[str, bool], ...] | None:
        targets = STABLECOINS if target in STABLECOINS else aliases(target)
        for t in targets:
            for a in aliases(asset):
                if f"{a}/{t}" in self.marks:
                    return ((f"{a}/{t}", False),)
                if f"{t}/{a}" in self.marks:
                    return ((f"{t}/{a}", True),)
        return None

    def equity(self, venue: str | None = None) -> Decimal:
        """Value every balance (of `venue`'s book only, if given) in the valuation asset at the
        latest marks, each book's at its venue's own marks where it has them."""
        total = ZERO
        marks = self._marks if self.pending is None else self.marks
        if len(marks) != self._routes_for:
            self._routes.clear()
            self._routes_for = len(marks)
        routes = self._routes  # read directly: this runs on every mark of a held asset
        tagged, target = self.venue_marks, self.valuation_asset
        for name, book in self.books.items():
            if venue is not None and name != venue:
                continue
            # a venue's holdings at its own prices (as `price_on`, through a hop of its own
            # before another venue's direct market); another venue's stand in where it has none
            own = self.marks_of(name) if tagged and name not in self.untied else None
            for bal in book.values():
                free, locked = bal.free, bal.locked
                if not free and not locked:  # most of a book: no sum made to find it is zero
                    continue
                qty = free + locked
                if not qty:
                    continue
                asset = bal.asset
                route = routes[asset] if asset in routes else self._route(asset)
                if route is None:
                    peg = self.peg_price(asset, target)
                    total += qty * peg if peg is not None else ZERO
                    continue
                if own:
                    value = qty
                    for sym, inverted in route:
                        px = own.get(sym)
                        if not px:
                            break
                        value = value / px if inverted else value * px
                    else:
                        total += value
                        continue
                    px = self._market_price(asset, target, own)
                    if px is not None:
                        total += qty * px
                        continue
                for sym, inverted in route:
                    px = marks[sym] if own is None else own.get(sym) or marks[sym]
                    qty = qty / px if inverted else qty * px
                total += qty
        # positions on instruments that are not spot holdings (perpetuals, prediction markets)
        # carry their value as unrealized P&L; spot positions are already in the balances.
        return total

    def provisional(self) -> str | None:
        """Why equity is provisional, or None: a venue holding assets to price has no marks of
        its own yet (its quotes have not arrived since start), so another venue's stand in."""
        if not self.venue_marks:
            return None  # no venue's own marks at all: nothing is anyone else's price
        target, stable = self.valuation_asset, self.valuation_asset in STABLECOINS
        waiting: list[str] = []
        for name, book in self.books.items():
            if name in self.untied or self.marks_of(name):
                continue
            held = [b.asset for b in book.values() if (b.free or b.locked) and b.asset != target
                    and not (stable and b.asset in STABLECOINS)]  # fmt: skip
            if held:
                waiting.append(f"{name} ({', '.join(sorted(held))})")
        if not waiting:
            return None
        return (f"holdings on {'; '.join(waiting)} are valued at another venue's price until "
                "that venue's own quotes arrive")  # fmt: skip

    def unpriced_assets(self) -> list[str]:
        return sorted(
            {b.asset for b in self.all_balances() if b.total and self.price_of(b.asset) is None}
        )

    def stable_value(self) -> Decimal:
        return sum((b.total for b in self.all_balances() if b.asset in STABLECOINS), ZERO)

    def unrealized_pnl(self) -> Decimal:
        total = ZERO
        for pos in self.positions.values():
            if pos.quantity:
                mark = self.mark_of(pos.venue, pos.symbol)[0]
                if mark is not None:
                    total += pos.unrealized_pnl(mark)
        return total
