"""The paper venue: a local exchange that matches our orders against recorded market data.

```python
venue = PaperVenue("paper", {"BTC/USDT": inst}, {"USDT": Decimal(10_000)}, SimulatedClock())
venue.set_listener(order_manager)
venue.on_candle(candle)                    # the node feeds every market event
report = await venue.submit(order)         # fills arrive through listener.on_fill
```

Fill rules (the promise is honesty: never better than the data allows)
- Never more than the recorded liquidity, never at a price the data does not hold, never with
  look-ahead: an order only meets market data that arrives after it was submitted.
- Sources, best first: a fresh book (`FillConfig.stale_after_ms` against the clock; a crossed
  book or quote is never matched, and a fresh crossed book is not passed over for the quote: an
  IOC, FOK or market order meeting one expires at once), then a fresh quote, then candles.
- Market orders. Book: walk the opposite levels from the best, one fill per level at the level's
  price; what this venue took from a level is remembered until the next book update, so two
  orders never take the same liquidity. Quote: up to the quoted size at the quoted price.
  Whatever the book or quote cannot fill EXPIRES (the order reports EXPIRED with its partial
  fill, as Binance does). Candles only, `fill_at="next_open"`: the order waits for the NEXT candle
  (one opening at or after its creation) and fills at its open; `fill_at="in_candle"`: it fills
  at once at the close of the last candle while that close is fresh (`stale_after_ms`), stamped
  at the order's time. Either price is moved against us by `slippage_bps` (the symbol's own, else
  the venue's) `+ impact_bps_per_pct * participation_pct`, rounded to the tick against us and
  clamped inside that candle's [low, high], for at most `max_participation` of the candle's
  volume; the remainder expires. Taker fee.
- Limit orders rest (funds locked) and fill at their own price, maker fee, only when the market
  trades THROUGH them (touching is not enough): a later candle with low < price for a buy
  (high > price for a sell), at most `max_participation` of that candle's volume, shared by all
  of this venue's orders on the symbol and spread over as many candles as needed; a trade tick
  printing strictly through the price, limited to the tick's amount; a book or quote whose
  opposite best is strictly through the price, limited to the displayed amount beyond it.
- A limit order marketable on arrival takes liquidity as a taker at the book's or quote's prices
  up to its own price. With candles only it is marketable when it crosses the last close; it then
  takes like a market order in the fill_at mode (never beyond its price) and the rest rests.
- Time in force: GTC rests; IOC fills what it can at once and EXPIRES the rest; FOK fills
  everything at once or EXPIRES untouched. With candles only, "at once" means the next candle
  (with fill_at="in_candle": the last close).
- reduce_only is checked against the position of the order's strategy on this venue (buys
  minus sells of its fills on the symbol, plus what a restart restored with no strategy known),
  not the account's net position another strategy's holding makes up too; an order that would
  open or grow it is refused with REDUCE_ONLY_REJECTED. A reduce-only order
  fills no more than that position holds when it fills: a taker (a fired stop or take-profit
  among them) expires the rest ("reduce-only: ..."), a resting limit waits unfilled.
- Fees are exact Decimal fractions of the fill notional from the Instrument (maker or taker),
  always charged in the quote asset: a buy pays price * amount + fee, a sell receives
  price * amount - fee.
- Balances are spot balances: a limit buy locks price * amount * (1 + max(maker, taker)) of the
  quote, every sell locks its base amount; cancel and expiry release what is still locked. Market
  buys lock nothing: each fill is capped at what the free quote can pay, fees included.
  Every balance change is pushed with `on_balances`.
- Rejects raise DefinitiveVenueError with Binance-like codes: UNKNOWN_SYMBOL,
  DUPLICATE_CLIENT_ORDER_ID, PRICE_FILTER, LOT_SIZE, MIN_NOTIONAL (market orders are valued at the
  last known price), INSUFFICIENT_BALANCE, REDUCE_ONLY_REJECTED, UNKNOWN_ORDER (cancel), and the
  Instrument's INVALID_AMOUNT, INVALID_PRICE, MIN_AMOUNT, MAX_AMOUNT.
- Ids come from counters (`{name}-o{n}`, `{name}-t{n}`), so a replay reproduces them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NoReturn

from tradeguard.clock import Clock
from tradeguard.model.balance import Balance, BalanceBook
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Candle, Quote, TradeTick
from tradeguard.model.money import ZERO
from tradeguard.model.order import Order
from tradeguard.model.reports import OrderReport
from tradeguard.venues.fill_model import FillConfig
from tradeguard.venues.paper_state import (
    BUY,
    IMMEDIATE,
    BookView,
    PaperMarket,
    PaperOrder,
    counter_of,
    crosses_close,
    is_crossed,
    own_position,
    quote_crossed,
)
from tradeguard.venues.paper_stops import PaperStops

__all__ = ["BookView", "FillConfig", "PaperVenue"]


class PaperVenue(PaperStops):
    """A simulated spot exchange that fills honestly against the market data it is fed."""

    def __init__(
        self,
        name: str,
        instruments: dict[str, Instrument],
        balances: dict[str, Decimal],
        clock: Clock,
        fill_config: FillConfig | None = None,
    ) -> None:
        super().__init__(name)
        self.instruments = dict(instruments)
        self.clock = clock
        self.config = fill_config or FillConfig()
        self._balances = BalanceBook(name)
        for asset, amount in balances.items():
            self._balances.set(asset, amount)
        self._markets: dict[str, PaperMarket] = {s: PaperMarket(i) for s, i in instruments.items()}
        self._orders: dict[str, PaperOrder] = {}
        self._order_n = 0
        self._trade_n = 0
        self._oco: dict[str, list[PaperOrder]] = {}  # OCO group -> its legs, while open
        self._sibling_reports: list[PaperOrder] = []
        self._pushed: dict[str, Balance] = {}  # asset -> the copy last pushed to the listener

    # market data -------------------------------------------------------------------------------
    def on_candle(self, candle: Candle) -> None:
        """Take one closed candle: fill working orders it trades through."""
        m = self._markets.get(candle.symbol)
        if m is None:
            return
        m.candle = candle
        m.candle_used = ZERO
        if m.working:
            self._match_candle(m, candle)
        if m.stops:
            self._trigger(m, candle.low, candle.high, candle.close_ts, candle.ts)

    def on_quote(self, quote: Quote) -> None:
        """Take a best bid/ask update: fill resting orders it crosses."""
        m = self._markets.get(quote.symbol)
        if m is None:
            return
        m.quote = quote
        if m.quote_bid_taken:
            m.quote_bid_taken = {}
        if m.quote_ask_taken:
            m.quote_ask_taken = {}
        if m.working and not quote_crossed(quote):  # a crossed quote is never matched
            self._match_levels(
                m, [(quote.bid, quote.bid_size)], [(quote.ask, quote.ask_size)], quote.ts, True
            )
        if m.stops:
            self._trigger(m, quote.bid, quote.ask, quote.ts)

    def on_trade(self, trade: TradeTick) -> None:
        """Take a public trade: fill resting orders it prints through."""
        m = self._markets.get(trade.symbol)
        if m is None:
            return
        m.trade = trade
        if m.working:
            self._match_trade(m, trade)
        if m.stops:
            self._trigger(m, trade.price, trade.price, trade.ts)

    def on_book(self, book: BookView) -> None:
        """Take an order book update: forget liquidity taken from the old one, fill crossings."""
        m = self._markets.get(book.symbol)
        if m is None:
            return
        m.book = book
        if m.book_bids_taken:
            m.book_bids_taken = {}
        if m.book_asks_taken:
            m.book_asks_taken = {}
        if m.working and not is_crossed(book):
            self._match_levels(m, book.bids(), book.asks(), book.ts, False)
        if m.stops and not is_crossed(book):
            bid, ask = book.bids(1), book.asks(1)
            if bid and ask:
                self._trigger(m, bid[0][0], ask[0][0], book.ts)

    def withhold_book(self, book: BookView) -> None:
        """`book` now holds prices the mark guard withholds: if it is the very book this venue
        fills on (a live stream updates one book in place), forget it until an update the guard
        admits; meanwhile orders fill on the venue's other data (a quote, a bar), never on it."""
        m = self._markets.get(book.symbol)
        if m is not None and m.book is book:
            m.book = None

    # Venue -------------------------------------------------------------------------------------
    async def load_instruments(self) -> dict[str, Instrument]:
        """Return the configured markets."""
        return dict(self.instruments)

    async def submit(self, order: Order) -> OrderReport:
        """Accept, match and acknowledge one order, or raise DefinitiveVenueError with a code."""
        m = self._market(order.symbol)
        if order.client_order_id in self._orders:
            self._refuse(
                "DUPLICATE_CLIENT_ORDER_ID",
                f"client order id {order.client_order_id!r} was already used on this venue; "
                "send a new id",
            )
        self._validate(order, m)
        if order.type.is_trigger:
            po = self._hold(order, m)
            self._push([], [], True)
            return self._report(po)
        now = self.clock.now_ms()
        po = self._new_order(order, m, now)
        self._lock(po, m.inst)
        self._orders[po.client_order_id] = po
        fills = self._on_arrival(po, m, now)
        if po.status.is_open:
            m.working.append(po)
        self._push(fills, [], True)
        return self._report(po)

    def _new_order(self, order: Order, m: PaperMarket, now: int) -> PaperOrder:
        self._order_n += 1
        return _paper_order(
            order, m, f"{self.name}-o{self._order_n}", self._order_n, now, updated_ts=now
        )

    async def cancel(self, order: Order) -> OrderReport:
        """Cancel a working order; UNKNOWN_ORDER if it is unknown or already closed."""
        po = self._orders.get(order.client_order_id)
        if po is None or po.status.is_terminal:
            state = "unknown" if po is None else f"already {po.status.value}"
            self._refuse(
                "UNKNOWN_ORDER",
                f"cannot cancel {order.client_order_id!r} on {order.symbol}: the order is "
                f"{state}; fetch_order() shows its final state",
            )
        self._close(po, OrderStatus.CANCELLED, self.clock.now_ms(), "cancelled by request")
        self._push([], [], True)
        return self._report(po)

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport | None:
        """Look an order up by client order id; None if this venue never accepted it."""
        po = self._orders.get(client_order_id)
        return self._report(po) if po is not None else None

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """Every working order, oldest first (all symbols when `symbol` is None)."""
        markets = self._markets.values() if symbol is None else [self._market(symbol)]
        orders = sorted(
            (po for m in markets for po in (*m.working, *m.stops)), key=lambda po: po.seq
        )
        return [self._report(po) for po in orders]

    async def fetch_fills(self, symbol: str, since_ts: int = 0) -> list[Fill]:
        """Executions on `symbol` at or after `since_ts` (epoch ms), oldest first."""
        return [f for f in self._market(symbol).fills if f.ts >= since_ts]

    async def fetch_balances(self) -> list[Balance]:
        """Every non-zero balance (copies)."""
        return self._balance_copies()

    def balances(self) -> list[Balance]:
        """Every non-zero balance (copies), without a round trip."""
        return self._balance_copies()

    # restart -----------------------------------------------------------------------------------
    def restore_order(self, order: Order) -> None:
        """Adopt a still-open order from the journal after a restart, locking its funds again.

        It keeps its venue order id and its place in the queue, and meets only market data from
        its creation on: a bar that opened before the order was sent never fills it.
        """
        m = self._market(order.symbol)
        if order.client_order_id in self._orders or not order.is_open:
            return
        self._resume_counter_from(order.venue_order_id, "o")
        for trade_id in order.trade_ids:
            self._resume_counter_from(trade_id, "t")
        seq = counter_of(order.venue_order_id, f"{self.name}-o")
        if seq is None:
            self._order_n += 1
            seq = self._order_n
        po = _paper_order(
            order,
            m,
            order.venue_order_id or f"{self.name}-o{seq}",
            seq,
            order.created_ts,
            status=(OrderStatus.PARTIALLY_FILLED if order.filled > ZERO else OrderStatus.ACCEPTED),
            filled=order.filled,
            cost=order.avg_price * order.filled,
            fee=order.fee,
            taker_pending=order.type is OrderType.MARKET or order.time_in_force in IMMEDIATE,
            updated_ts=order.updated_ts,
        )
        if order.type.is_trigger:
            self._restore_stop(order, po, m)
            return
        if not po.taker_pending and m.candle is not None and po.filled == ZERO:
            po.taker_pending = crosses_close(po, m.candle.close)
        if order.oco_group:
            self._restore_oco_limit(order.oco_group, po)
        # Funds of a restored order are locked from what the journal says is free now.
        self._lock(po, m.inst, po.remaining)
        self._orders[po.client_order_id] = po
        m.working.append(po)
        m.working.sort(key=lambda w: w.seq)

    def prime(self, candle: Candle, used: Decimal = ZERO) -> None:
        """Take the last candle seen before a restart as the current one, without matching,
        `used` of its volume already taken by in-candle fills (`candle_used`).

        A limit order restored from that candle's commit is marketable as it was on arrival.
        """
        m = self._markets.get(candle.symbol)
        if m is None:
            return
        m.candle = candle
        m.candle_used = used
        for po in m.working:
            if po.created_ts >= candle.close_ts and po.filled == 0 and not po.taker_pending:
                po.after_candle_ts = max(po.after_candle_ts, candle.ts)
                po.taker_pending = crosses_close(po, candle.close)

    def candle_times(self) -> dict[str, int]:
        """The open time of each market's current candle (the last one taken), by symbol: what
        a resumed replay primes this venue with again."""
        return {s: m.candle.ts for s, m in self._markets.items() if m.candle is not None}

    def candle_used(self) -> dict[str, str]:
        """What in-candle fills took of each market's current candle's volume, by symbol (the
        markets that took any): what a resumed replay primes this venue with again."""
        return {s: str(m.candle_used) for s, m in self._markets.items() if m.candle_used}

    def restore_position(
        self, symbol: str, net: Decimal, by_strategy: Mapping[str, Decimal] | None = None
    ) -> None:
        """Set this venue's net traded amount on `symbol` (buys minus sells of its fills), and
        each strategy's part of it (`by_strategy`; what it leaves belongs to none known)."""
        m = self._market(symbol)
        m.position = net
        m.held = {k: v for k, v in (by_strategy or {}).items() if k}
        rest = net - sum(m.held.values(), ZERO)
        if rest:
            m.held[""] = rest

    def resume_ids(self, last_order_n: int, last_trade_n: int) -> None:
        """Continue the id counters after a restart so new trade ids never repeat old ones."""
        self._order_n = max(self._order_n, last_order_n)
        self._trade_n = max(self._trade_n, last_trade_n)

    def net_position(self, symbol: str) -> Decimal:
        """This venue's net traded amount on `symbol` (buys minus sells) since start."""
        return self._market(symbol).position

    # reset -------------------------------------------------------------------------------------
    def reset_balances(self, balances: Mapping[str, Decimal]) -> list[Balance]:
        """Start the account over with `balances`, all free; return the new balances (copies).

        Assets not in `balances` drop to zero and net positions (the reduce_only reference)
        restart at zero; the fill history and id counters stay. Refused while an order is
        working: the funds it has locked would have nothing behind them.
        """
        working = sorted(po.client_order_id for m in self._markets.values() for po in m.working)
        if working:
            raise DefinitiveVenueError(
                self.name,
                f"cannot reset balances: {len(working)} order(s) still working "
                f"({', '.join(working[:5])}); cancel them first",
                code="ORDERS_WORKING",
            )
        for asset, amount in balances.items():
            if not amount.is_finite() or amount < 0:
                raise ValueError(
                    f"{self.name}: reset balance {asset} = {amount} must be a finite amount >= 0"
                )
        for asset in self._balances.assets():
            if asset not in balances:
                self._balances.set(asset, ZERO, ZERO)
        for asset, amount in balances.items():
            self._balances.set(asset, amount, ZERO)
        for m in self._markets.values():
            m.position = ZERO
            m.held = {}
        self._push((), [], True)
        return self._balance_copies()

    def _resume_counter_from(self, venue_id: str, kind: str) -> None:
        prefix = f"{self.name}-{kind}"
        if venue_id.startswith(prefix) and venue_id[len(prefix) :].isdigit():
            n = int(venue_id[len(prefix) :])
            if kind == "o":
                self._order_n = max(self._order_n, n)
            else:
                self._trade_n = max(self._trade_n, n)

    # validation --------------------------------------------------------------------------------
    def _refuse(self, code: str, message: str) -> NoReturn:
        raise DefinitiveVenueError(self.name, f"order rejected ({code}): {message}", code=code)

    def _market(self, symbol: str) -> PaperMarket:
        m = self._markets.get(symbol)
        if m is None:
            self._refuse(
                "UNKNOWN_SYMBOL",
                f"symbol {symbol!r} is not listed on {self.name}; listed: {sorted(self._markets)}",
            )
        return m

    def _validate(self, order: Order, m: PaperMarket) -> None:
        inst = m.inst
        limit = order.type is OrderType.LIMIT
        if limit and order.price is None:
            self._refuse("INVALID_PRICE", f"limit order {order.client_order_id} has no price")
        bad = inst.violation(order.amount, order.price if limit else None)
        if bad is not None:
            self._refuse(bad.code, bad.message)
        ref = order.price if limit else self._last_price(m, order.side)
        if not limit and inst.min_notional > ZERO:
            if ref is None:
                self._refuse(
                    "MIN_NOTIONAL",
                    f"no price known yet for {inst.symbol} to check the minimum notional "
                    f"{inst.min_notional} {inst.quote}; feed market data before a market order",
                )
            assert ref is not None
            notional = order.amount * ref
            if notional < inst.min_notional:
                self._refuse(
                    "MIN_NOTIONAL",
                    f"notional {notional} {inst.quote} (amount {order.amount} at last price "
                    f"{ref}) is below the minimum {inst.min_notional} for {inst.symbol}",
                )
        if order.reduce_only:
            pos = own_position(m, order.strategy_id)
            grows = pos == ZERO or (pos > ZERO) == (order.side is BUY) or order.amount > abs(pos)
            if grows:
                self._refuse(
                    "REDUCE_ONLY_REJECTED",
                    f"reduce-only {order.side.value} {order.amount} {inst.symbol} would open or "
                    f"grow the net position {pos} of strategy {order.strategy_id or '(none)'}; "
                    f"send it without reduce_only or at most {abs(pos)} on the opposite side",
                )
        bal = self._balances
        if order.side is BUY:
            if ref is None:
                return  # a market buy with no price yet: each fill is capped by the free quote
            need = self.buy_cost_bound(inst, ref, order.amount, limit=limit)
            free = bal.free(inst.quote)
            if need > free:
                self._refuse(
                    "INSUFFICIENT_BALANCE",
                    f"buy {order.amount} {inst.symbol} at {ref} needs {need} {inst.quote} "
                    f"(fees included), free is {free} {inst.quote}; reduce the amount or "
                    "add funds",
                )
        else:
            free = bal.free(inst.base)
            if order.amount > free:
                self._refuse(
                    "INSUFFICIENT_BALANCE",
                    f"sell {order.amount} {inst.symbol} needs {order.amount} {inst.base}, free is "
                    f"{free} {inst.base}; spot cannot sell what it does not hold",
                )

    def _last_price(self, m: PaperMarket, side: Side) -> Decimal | None:
        """The latest price the data holds for taking on `side` (the touch, else the last trade)."""
        buy = side is BUY
        best: tuple[int, Decimal] | None = None
        if m.candle is not None:
            best = (m.candle.close_ts, m.candle.close)
        if m.quote is not None and (best is None or m.quote.ts >= best[0]):
            best = (m.quote.ts, m.quote.ask if buy else m.quote.bid)
        if m.trade is not None and (best is None or m.trade.ts >= best[0]):
            best = (m.trade.ts, m.trade.price)
        if m.book is not None and (best is None or m.book.ts >= best[0]):
            # The side we would take, else the other side of a one-sided book.
            touch = (m.book.asks(1) if buy else m.book.bids(1)) or (
                m.book.bids(1) if buy else m.book.asks(1)
            )
            if touch:
                best = (m.book.ts, touch[0][0])
        return best[1] if best is not None else None


def _paper_order(
    order: Order, m: PaperMarket, venue_order_id: str, seq: int, created_ts: int, **state: Any
) -> PaperOrder:
    """The venue's record of `order`, created at `created_ts`; `state` sets the rest (status,
    fills so far...)."""
    limit = order.type is OrderType.LIMIT
    # the fields up to `after_candle_ts` positional, in their order (one order each)
    return PaperOrder(
        order.client_order_id, venue_order_id, order.symbol, order.side, order.type,
        order.amount, order.price if limit else None, order.time_in_force, order.reduce_only,
        seq, created_ts,
        # a bar that opened before the order existed never fills it
        max(m.candle.ts if m.candle is not None else -1, created_ts - 1),
        strategy_id=order.strategy_id,
        bound=order.price_bound if order.type is OrderType.MARKET else None,
        **state,
    )  # fmt: skip
