"""Paper trading of Kalshi and Polymarket outcome contracts: the paper venue's honest fills
against fed quotes, with the venue's own fee model instead of a fraction of notional.

A quote carrying depth (the prediction-market streams' books) is taken as the symbol's order
book, so a taker walks its levels; Kalshi's fee is rounded up to the cent once per order
(over all its fills), as Kalshi charges it, and Polymarket's per fill. A Kalshi buy is checked
and locked at that rounded-up fee, so its fills never take free USD below zero.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import ROUND_CEILING, Decimal

from tradeguard.clock import Clock
from tradeguard.model.enums import LiquiditySide, OrderStatus, OrderType, Side
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Quote
from tradeguard.model.money import ONE, ZERO
from tradeguard.model.order import Order
from tradeguard.model.outcome import (
    CENT,
    Outcome,
    Resolution,
    Settlement,
    kalshi_fee,
    outcome_instrument,
    outcome_symbol,
    parse_outcome_symbol,
    payout,
    polymarket_fee,
)
from tradeguard.venues.fill_model import FillConfig
from tradeguard.venues.paper import PaperVenue
from tradeguard.venues.paper_state import IMMEDIATE, PaperMarket, PaperOrder

QUOTES = {"kalshi": "USD", "polymarket": "PUSD"}


def paper_outcome_instruments(
    venue: str, dialect: str, markets: list[str], tick: Decimal = Decimal("0.01")
) -> dict[str, Instrument]:
    """YES and NO instruments of `markets` with the dialect's size rules."""
    step, minimum = (ONE, ONE) if dialect == "kalshi" else (Decimal("0.01"), Decimal(5))
    out = {}
    for market in markets:
        for outcome in Outcome:
            inst = outcome_instrument(
                venue, market, outcome, QUOTES[dialect], tick, step, minimum, Decimal("0.25")
            )
            out[inst.symbol] = inst
    return out


class OutcomePaperVenue(PaperVenue):
    """A paper venue charging Kalshi's or Polymarket's fees (rates per market where given)."""

    # settlements and nettings move balances without a push of their own: lists at once
    defers_balance_copies = False

    def __init__(
        self,
        name: str,
        instruments: dict[str, Instrument],
        balances: dict[str, Decimal],
        clock: Clock,
        fill_config: FillConfig | None = None,
        *,
        dialect: str,
        taker_rate: Decimal | None = None,
        maker_rate: Decimal = ZERO,
        exponent: Decimal = ONE,
    ) -> None:
        if dialect not in QUOTES:
            raise ValueError(f"dialect {dialect!r} is not kalshi or polymarket")
        super().__init__(name, instruments, balances, clock, fill_config)
        self.dialect = dialect
        self.nets_outcome_pairs = dialect == "kalshi"  # as Kalshi: YES + NO held pay 1
        default = Decimal("0.07") if dialect == "kalshi" else Decimal("0.02")
        self.taker_rate = default if taker_rate is None else taker_rate
        self.maker_rate = maker_rate
        self.exponent = exponent

        self.fee_rates: dict[str, tuple[Decimal, Decimal]] = {}  # per symbol, over the default
        # which markets have resolved, by market id (a data venue's public listing), or None
        self.resolutions: Callable[[], Awaitable[dict[str, Resolution]]] | None = None
        self._order: PaperOrder | None = None  # the order a fill being priced belongs to
        self._raw_fee: dict[str, Decimal] = {}  # Kalshi: unrounded fee so far, per order
        # a restart's open orders and net positions on markets a data venue lists only at start
        self._unlisted_orders: list[Order] = []
        self._unlisted_positions: dict[str, tuple[Decimal, dict[str, Decimal]]] = {}

    def add_instruments(
        self,
        instruments: dict[str, Instrument],
        fee_rates: dict[str, tuple[Decimal, Decimal]] | None = None,
    ) -> None:
        """List more markets (a data venue's, taken at start); known markets are kept.

        `fee_rates` is the data venue's table of each market's taker fee (rate, exponent),
        shared, not copied: a venue that learns a market's fee when it first streams its book
        (Polymarket) fills it in before the first book of that market arrives."""
        for symbol, inst in instruments.items():
            if symbol not in self.instruments:
                self.instruments[symbol] = inst
                self._markets[symbol] = PaperMarket(inst)
        if fee_rates is not None:
            self.fee_rates = fee_rates
        for symbol in [s for s in self._unlisted_positions if s in self._markets]:
            super().restore_position(symbol, *self._unlisted_positions.pop(symbol))
        orders, self._unlisted_orders = self._unlisted_orders, []
        for order in orders:
            self.restore_order(order)

    def restore_order(self, order: Order) -> None:
        """Adopt a journaled open order; one on a market not listed yet (a data venue's,
        taken at start) waits for `add_instruments`."""
        if order.symbol not in self._markets:
            self._unlisted_orders.append(order)
            return
        super().restore_order(order)
        po = self._orders.get(order.client_order_id)
        if po is not None and po.status.is_open and _immediate(po):
            # the real venue ended it the moment it could not fill; reconciliation reads this
            self._close(
                po, OrderStatus.EXPIRED, self.clock.now_ms(),
                f"{_kind(po)} order restored after a restart: the venue ended it long ago; "
                f"filled {po.filled} of {po.amount}, the rest expired",
            )  # fmt: skip

    def restore_position(
        self, symbol: str, net: Decimal, by_strategy: Mapping[str, Decimal] | None = None
    ) -> None:
        if symbol not in self._markets:
            self._unlisted_positions[symbol] = (net, dict(by_strategy or {}))
            return
        super().restore_position(symbol, net, by_strategy)

    async def fetch_fills(self, symbol: str, since_ts: int = 0) -> list[Fill]:
        """Fills on `symbol`; none on a market this venue does not list (as the real venues
        answer: a cross_venue strategy's unused `symbol` is asked for at reconciliation)."""
        if symbol not in self._markets:
            return []
        return await super().fetch_fills(symbol, since_ts)

    async def fetch_settlements(self) -> list[Settlement]:
        """Pay out the outcome tokens held of every market `resolutions` says has resolved
        (the data venue's public listing): each contract at 1, 0 or 0.50, no fee. A market is
        paid once: its tokens are gone afterwards."""
        if self.resolutions is None:
            return []
        resolved = await self.resolutions()
        quote = QUOTES[self.dialect]
        out = []
        for asset in self._balances.assets():
            market, _, side = asset.rpartition(":")
            if not market or market not in resolved or side not in ("YES", "NO"):
                continue
            held = self._balances.free(asset)
            if held <= 0:
                continue
            resolution = resolved[market]
            cash = held * payout(resolution, Outcome(side.lower()))
            self._balances.get(asset).free = ZERO
            self._balances.get(quote).free += cash
            yes, no = (held, ZERO) if side == "YES" else (ZERO, held)
            out.append(Settlement(
                self.name, market, resolution, yes, no, cash, quote, self.clock.now_ms()
            ))  # fmt: skip
        return out

    def on_quote(self, quote: Quote) -> None:
        """A quote with depth is the symbol's book (takers walk it); a bare one a quote. Once a
        symbol is fed books, one without levels is its book emptied, not a quote beside the last
        book (whose liquidity is gone)."""
        m = self._markets.get(quote.symbol)
        if m is None or not (quote.bids or quote.asks or isinstance(m.book, QuoteBook)):
            super().on_quote(quote)
            return
        m.quote = quote
        self.on_book(QuoteBook(quote))

    def _on_arrival(self, po: PaperOrder, m: PaperMarket, now: int) -> list[Fill]:
        """Match on arrival; an order that may not rest and found no fresh, uncrossed book to
        take from expires at once (no candles ever come to fill it later)."""
        fills = super()._on_arrival(po, m, now)
        if po.status.is_open and _immediate(po):
            book = m.book if m.book is not None else m.quote
            age = "no book yet" if book is None else f"last book {now - book.ts} ms old"
            self._finish_immediate(
                po, now,
                f"{_kind(po)} order on {po.symbol}: no fresh, uncrossed book to take from "
                f"({age}, stale_after_ms={self.config.stale_after_ms}); the order expired",
            )  # fmt: skip
        return fills

    def _execute(
        self,
        po: PaperOrder,
        m: PaperMarket,
        price: Decimal,
        qty: Decimal,
        liquidity: LiquiditySide,
        ts: int,
    ) -> Fill:
        self._order = po
        try:
            fill = super()._execute(po, m, price, qty, liquidity, ts)
            if self.nets_outcome_pairs:  # after every fill of the market, as Kalshi
                self._net_pairs(m.inst.symbol)
            return fill
        finally:
            self._order = None
            if po.status is OrderStatus.FILLED:
                self._raw_fee.pop(po.client_order_id, None)

    def _net_pairs(self, symbol: str) -> None:
        # Kalshi keeps one signed position per market: each YES + NO pair held is paid 1
        market, _, quote = parse_outcome_symbol(symbol)
        assets = [f"{market}:{o.value.upper()}" for o in Outcome]
        pairs = min(self._balances.free(a) for a in assets)
        if pairs <= 0:
            return
        for asset in assets:
            self._balances.get(asset).free -= pairs
        self._balances.get(quote).free += pairs
        for outcome in Outcome:  # the net traded amounts reduce_only reads
            m = self._markets.get(outcome_symbol(market, outcome, quote))
            if m is not None:  # paid out of the account, not of a strategy known
                m.position -= pairs
                m.held[""] = m.held.get("", ZERO) - pairs

    def _close(self, po: PaperOrder, status: OrderStatus, ts: int, reason: str) -> None:
        self._raw_fee.pop(po.client_order_id, None)
        super()._close(po, status, ts, reason)
        if self.nets_outcome_pairs and po.side is Side.SELL:
            self._net_pairs(po.symbol)  # the contracts it held are free: pairs pay 1 at once

    def buy_cost_bound(
        self, inst: Instrument, price: Decimal, amount: Decimal, *, limit: bool
    ) -> Decimal:
        """Kalshi: the cost and the fee exactly as charged, rounded up to the cent once per
        order (a fraction-of-notional bound fell short of the rounding)."""
        if self.dialect != "kalshi":
            return super().buy_cost_bound(inst, price, amount, limit=limit)
        taker, _ = self.fee_rates.get(inst.symbol, (self.taker_rate, self.exponent))
        rate = max(taker, self.maker_rate) if limit else taker
        return amount * price + kalshi_fee(amount, price, rate)

    def lock_release(
        self, po: PaperOrder, qty: Decimal, notional: Decimal, fee: Decimal
    ) -> Decimal:
        """Kalshi: a fill frees what it costs (its fee's rounding included) from the lock,
        which covers the whole order's cost at its limit; the rest goes when the order ends."""
        if self.dialect != "kalshi":
            return super().lock_release(po, qty, notional, fee)
        return min(po.locked, notional + fee)

    def fee_for(
        self, inst: Instrument, price: Decimal, qty: Decimal, liquidity: LiquiditySide
    ) -> Decimal:
        maker = liquidity is LiquiditySide.MAKER
        taker_rate, exponent = self.fee_rates.get(inst.symbol, (self.taker_rate, self.exponent))
        if self.dialect == "kalshi":
            rate = self.maker_rate if maker else taker_rate
            if not rate:
                return ZERO
            # once per order: what the order's fee rounds up to now, less what it paid so far
            key = self._order.client_order_id if self._order is not None else ""
            before = self._raw_fee.get(key, ZERO)
            after = before + rate * qty * price * (ONE - price)
            if key:
                self._raw_fee[key] = after
            return _cent_up(after) - _cent_up(before)
        return ZERO if maker else polymarket_fee(qty, price, taker_rate, exponent)


def _immediate(po: PaperOrder) -> bool:
    return po.type is OrderType.MARKET or po.tif in IMMEDIATE


def _kind(po: PaperOrder) -> str:
    return po.tif.value if po.type is OrderType.LIMIT else "market"


def _cent_up(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_CEILING)


class QuoteBook:
    """A depth quote read as an order book (the paper venue's `BookView`)."""

    __slots__ = ("_asks", "_bids", "symbol", "ts")

    def __init__(self, quote: Quote) -> None:
        self.symbol, self.ts = quote.symbol, quote.ts
        self._bids = list(quote.bids)
        self._asks = list(quote.asks)

    def bids(self, depth: int | None = None) -> list[tuple[Decimal, Decimal]]:
        return self._bids[:depth] if depth is not None else list(self._bids)

    def asks(self, depth: int | None = None) -> list[tuple[Decimal, Decimal]]:
        return self._asks[:depth] if depth is not None else list(self._asks)

    def mid(self) -> Decimal | None:
        if not self._bids or not self._asks:
            return None
        return (self._bids[0][0] + self._asks[0][0]) / 2
