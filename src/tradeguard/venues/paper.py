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
  book is never matched), then a fresh quote, then candles.
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
  everything at once or EXPIRES untouched. With candles only, "at once" means the next candle.
- reduce_only is checked against this venue's own net position per symbol (buys minus sells);
  an order that would open or grow it is refused with REDUCE_ONLY_REJECTED.
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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NoReturn, Protocol

from tradeguard.clock import Clock
from tradeguard.model.balance import Balance, BalanceBook
from tradeguard.model.enums import LiquiditySide, OrderStatus, OrderType, Side, TimeInForce
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Candle, Quote, TradeTick
from tradeguard.model.money import ONE, ZERO, quantize_down
from tradeguard.model.order import Order
from tradeguard.model.reports import OrderReport
from tradeguard.venues.base import Venue
from tradeguard.venues.fill_model import (
    FillConfig,
    candle_taker_price,
    take,
    walk_levels,
)

__all__ = ["BookView", "FillConfig", "PaperVenue"]

_MAKER = LiquiditySide.MAKER
_TAKER = LiquiditySide.TAKER
_BUY = Side.BUY
_IMMEDIATE = (TimeInForce.IOC, TimeInForce.FOK)


class BookView(Protocol):
    """The part of `tradeguard.marketdata.book.OrderBook` the paper venue reads."""

    symbol: str
    ts: int

    def bids(self, depth: int | None = None) -> list[tuple[Decimal, Decimal]]: ...

    def asks(self, depth: int | None = None) -> list[tuple[Decimal, Decimal]]: ...

    def mid(self) -> Decimal | None: ...


def _counter_of(venue_id: str, prefix: str) -> int | None:
    tail = venue_id[len(prefix) :] if venue_id.startswith(prefix) else ""
    return int(tail) if tail.isdigit() else None


def _crosses(po: _PaperOrder, close: Decimal) -> bool:
    """Tell whether a limit order crosses the last close (it then takes on the next candle)."""
    if po.price is None:
        return False
    return po.price >= close if po.is_buy else po.price <= close


def _crossed(book: BookView) -> bool:
    """Tell whether a book is crossed mid-update; matching against it would invent prices."""
    bid, ask = book.bids(1), book.asks(1)
    return bool(bid and ask and bid[0][0] >= ask[0][0])


@dataclass(slots=True)
class _PaperOrder:
    client_order_id: str
    venue_order_id: str
    symbol: str
    side: Side
    type: OrderType
    amount: Decimal
    price: Decimal | None
    tif: TimeInForce
    reduce_only: bool
    seq: int
    created_ts: int
    # Only candles opening after this one may fill the order: no look-ahead into a bar that
    # had already closed when the order was sent.
    after_candle_ts: int
    status: OrderStatus = OrderStatus.ACCEPTED
    filled: Decimal = ZERO
    cost: Decimal = ZERO
    fee: Decimal = ZERO
    lock_asset: str = ""
    lock_per_unit: Decimal = ZERO
    locked: Decimal = ZERO
    taker_pending: bool = False
    reason: str = ""
    updated_ts: int = 0

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled

    @property
    def is_buy(self) -> bool:
        return self.side is _BUY


@dataclass(slots=True)
class _Market:
    """Per-symbol state: the latest data, the liquidity we took, and the working orders."""

    inst: Instrument
    working: list[_PaperOrder] = field(default_factory=list)
    candle: Candle | None = None
    quote: Quote | None = None
    trade: TradeTick | None = None
    book: BookView | None = None
    book_bids_taken: dict[Decimal, Decimal] = field(default_factory=dict)
    book_asks_taken: dict[Decimal, Decimal] = field(default_factory=dict)
    quote_bid_taken: dict[Decimal, Decimal] = field(default_factory=dict)
    quote_ask_taken: dict[Decimal, Decimal] = field(default_factory=dict)
    position: Decimal = ZERO
    fills: list[Fill] = field(default_factory=list)
    candle_used: Decimal = ZERO  # taken from the current candle's volume by in-candle fills


class PaperVenue(Venue):
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
        self._markets: dict[str, _Market] = {s: _Market(i) for s, i in instruments.items()}
        self._orders: dict[str, _PaperOrder] = {}
        self._order_n = 0
        self._trade_n = 0

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
        if m.working:
            self._match_levels(
                m, [(quote.bid, quote.bid_size)], [(quote.ask, quote.ask_size)], quote.ts, True
            )

    def on_trade(self, trade: TradeTick) -> None:
        """Take a public trade: fill resting orders it prints through."""
        m = self._markets.get(trade.symbol)
        if m is None:
            return
        m.trade = trade
        if m.working:
            self._match_trade(m, trade)

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
        if m.working and not _crossed(book):
            self._match_levels(m, book.bids(), book.asks(), book.ts, False)

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
        now = self.clock.now_ms()
        self._order_n += 1
        po = _PaperOrder(
            client_order_id=order.client_order_id,
            venue_order_id=f"{self.name}-o{self._order_n}",
            symbol=order.symbol,
            side=order.side,
            type=order.type,
            amount=order.amount,
            price=order.price if order.type is OrderType.LIMIT else None,
            tif=order.time_in_force,
            reduce_only=order.reduce_only,
            seq=self._order_n,
            created_ts=now,
            # a bar that opened before the order existed never fills it
            after_candle_ts=max(m.candle.ts if m.candle is not None else -1, now - 1),
            updated_ts=now,
        )
        self._lock(po, m.inst)
        self._orders[po.client_order_id] = po
        fills = self._on_arrival(po, m, now)
        if po.status.is_open:
            m.working.append(po)
        self._push(fills, [], True)
        return self._report(po)

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
        orders = sorted((po for m in markets for po in m.working), key=lambda po: po.seq)
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
        seq = _counter_of(order.venue_order_id, f"{self.name}-o")
        if seq is None:
            self._order_n += 1
            seq = self._order_n
        after = m.candle.ts if m.candle is not None else -1
        po = _PaperOrder(
            client_order_id=order.client_order_id,
            venue_order_id=order.venue_order_id or f"{self.name}-o{seq}",
            symbol=order.symbol,
            side=order.side,
            type=order.type,
            amount=order.amount,
            price=order.price if order.type is OrderType.LIMIT else None,
            tif=order.time_in_force,
            reduce_only=order.reduce_only,
            seq=seq,
            created_ts=order.created_ts,
            after_candle_ts=max(after, order.created_ts - 1),
            status=(OrderStatus.PARTIALLY_FILLED if order.filled > 0 else OrderStatus.ACCEPTED),
            filled=order.filled,
            cost=order.avg_price * order.filled,
            fee=order.fee,
            taker_pending=order.type is OrderType.MARKET or order.time_in_force in _IMMEDIATE,
            updated_ts=order.updated_ts,
        )
        if not po.taker_pending and m.candle is not None and po.filled == 0:
            po.taker_pending = _crosses(po, m.candle.close)
        # Funds of a restored order are locked from what the journal says is free now.
        self._lock(po, m.inst, po.remaining)
        self._orders[po.client_order_id] = po
        m.working.append(po)
        m.working.sort(key=lambda w: w.seq)

    def prime(self, candle: Candle) -> None:
        """Take the last candle seen before a restart as the current one, without matching.

        A limit order restored from that candle's commit is marketable as it was on arrival.
        """
        m = self._markets.get(candle.symbol)
        if m is None:
            return
        m.candle = candle
        for po in m.working:
            if po.created_ts >= candle.close_ts and po.filled == 0 and not po.taker_pending:
                po.after_candle_ts = max(po.after_candle_ts, candle.ts)
                po.taker_pending = _crosses(po, candle.close)

    def restore_position(self, symbol: str, net: Decimal) -> None:
        """Set this venue's net traded amount on `symbol` (buys minus sells of its fills)."""
        self._market(symbol).position = net

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

    def _market(self, symbol: str) -> _Market:
        m = self._markets.get(symbol)
        if m is None:
            self._refuse(
                "UNKNOWN_SYMBOL",
                f"symbol {symbol!r} is not listed on {self.name}; listed: {sorted(self._markets)}",
            )
        return m

    def _validate(self, order: Order, m: _Market) -> None:
        inst = m.inst
        limit = order.type is OrderType.LIMIT
        if limit and order.price is None:
            self._refuse("INVALID_PRICE", f"limit order {order.client_order_id} has no price")
        bad = inst.violation(order.amount, order.price if limit else None)
        if bad is not None:
            self._refuse(bad.code, bad.message)
        ref = order.price if limit else self._last_price(m, order.side)
        if not limit and inst.min_notional > 0:
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
            pos = m.position
            grows = pos == 0 or (pos > 0) == (order.side is _BUY) or order.amount > abs(pos)
            if grows:
                self._refuse(
                    "REDUCE_ONLY_REJECTED",
                    f"reduce-only {order.side.value} {order.amount} {inst.symbol} would open or "
                    f"grow the net position {pos}; send it without reduce_only or at most "
                    f"{abs(pos)} on the opposite side",
                )
        bal = self._balances
        if order.side is _BUY:
            if ref is None:
                return  # a market buy with no price yet: each fill is capped by the free quote
            rate = max(inst.maker_fee, inst.taker_fee) if limit else inst.taker_fee
            need = order.amount * ref * (ONE + rate)
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

    def _last_price(self, m: _Market, side: Side) -> Decimal | None:
        """The latest price the data holds for taking on `side` (the touch, else the last trade)."""
        buy = side is _BUY
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

    # balances ----------------------------------------------------------------------------------
    def _lock(self, po: _PaperOrder, inst: Instrument, amount: Decimal | None = None) -> None:
        qty = po.amount if amount is None else amount
        if po.is_buy:
            if po.price is None:
                return
            po.lock_asset = inst.quote
            po.lock_per_unit = po.price * (ONE + max(inst.maker_fee, inst.taker_fee))
        else:
            po.lock_asset = inst.base
            po.lock_per_unit = ONE
        po.locked = po.lock_per_unit * qty
        bal = self._balances.get(po.lock_asset)
        bal.free -= po.locked
        bal.locked += po.locked

    def _release(self, po: _PaperOrder) -> None:
        if po.locked:
            bal = self._balances.get(po.lock_asset)
            bal.locked -= po.locked
            bal.free += po.locked
            po.locked = ZERO

    def _balance_copies(self) -> list[Balance]:
        return [Balance(b.venue, b.asset, b.free, b.locked) for b in self._balances.all()]

    # execution ---------------------------------------------------------------------------------
    def fee_for(
        self, inst: Instrument, price: Decimal, qty: Decimal, liquidity: LiquiditySide
    ) -> Decimal:
        """The fee of one execution; venues with another fee model override this."""
        return price * qty * (inst.maker_fee if liquidity is _MAKER else inst.taker_fee)

    def _execute(
        self,
        po: _PaperOrder,
        m: _Market,
        price: Decimal,
        qty: Decimal,
        liquidity: LiquiditySide,
        ts: int,
    ) -> Fill:
        inst = m.inst
        notional = price * qty
        fee = self.fee_for(inst, price, qty, liquidity)
        base = self._balances.get(inst.base)
        quote = self._balances.get(inst.quote)
        if po.is_buy:
            if po.lock_asset:
                release = po.lock_per_unit * qty
                po.locked -= release
                quote.locked -= release
                quote.free += release - notional - fee
            else:
                quote.free -= notional + fee
            base.free += qty
            m.position += qty
        else:
            po.locked -= qty
            base.locked -= qty
            quote.free += notional - fee
            m.position -= qty
        po.filled += qty
        po.cost += notional
        po.fee += fee
        po.updated_ts = ts
        if po.filled == po.amount:
            po.status = OrderStatus.FILLED
            self._release(po)  # a buy that filled below its limit leaves some lock behind
        else:
            po.status = OrderStatus.PARTIALLY_FILLED
        self._trade_n += 1
        fill = Fill(
            venue=self.name,
            symbol=po.symbol,
            client_order_id=po.client_order_id,
            venue_order_id=po.venue_order_id,
            trade_id=f"{self.name}-t{self._trade_n}",
            side=po.side,
            price=price,
            amount=qty,
            fee=fee,
            fee_asset=inst.quote,
            liquidity=liquidity,
            ts=ts,
        )
        m.fills.append(fill)
        return fill

    def _close(self, po: _PaperOrder, status: OrderStatus, ts: int, reason: str) -> None:
        po.status = status
        po.reason = reason
        po.updated_ts = ts
        po.taker_pending = False
        self._release(po)
        m = self._markets[po.symbol]
        if po in m.working:
            m.working.remove(po)

    def _finish_immediate(self, po: _PaperOrder, ts: int, why: str) -> None:
        """Expire what an order that may not rest could not fill."""
        if po.status is OrderStatus.FILLED:
            return
        self._close(po, OrderStatus.EXPIRED, ts, why)

    def _on_arrival(self, po: _PaperOrder, m: _Market, now: int) -> list[Fill]:
        buy = po.is_buy
        stale = self.config.stale_after_ms
        levels: list[tuple[Decimal, Decimal]] | None = None
        taken: dict[Decimal, Decimal] = {}
        source = ""
        if m.book is not None and now - m.book.ts <= stale and not _crossed(m.book):
            levels = m.book.asks() if buy else m.book.bids()
            taken = m.book_asks_taken if buy else m.book_bids_taken
            source = "book"
        elif m.quote is not None and now - m.quote.ts <= stale:
            q = m.quote
            levels = [(q.ask, q.ask_size)] if buy else [(q.bid, q.bid_size)]
            taken = m.quote_ask_taken if buy else m.quote_bid_taken
            source = "quote"
        if levels is None:
            # Candles only: nothing can trade before the next bar opens ("next_open"), or
            # a taker fills now at the last close ("in_candle", while that close is fresh).
            if po.type is OrderType.MARKET or po.tif in _IMMEDIATE:
                po.taker_pending = True
            elif m.candle is not None:
                assert po.price is not None
                close = m.candle.close
                po.taker_pending = po.price >= close if buy else po.price <= close
            candle = m.candle
            if (
                po.taker_pending
                and self.config.fill_at == "in_candle"
                and candle is not None
                and candle.close_ts <= now <= candle.close_ts + stale
            ):
                return self._fill_in_candle(po, m, candle, now)
            return []
        inst = m.inst
        budget = None
        if buy and not po.lock_asset:
            budget = self._balances.free(inst.quote)
        pieces = walk_levels(
            levels,
            taken,
            po.amount,
            inst.amount_step,
            buy=buy,
            limit=po.price,
            quote_budget=budget,
            fee_rate=inst.taker_fee,
        )
        if po.tif is TimeInForce.FOK and sum((q for _, q in pieces), ZERO) < po.amount:
            pieces = []
        take(taken, pieces)
        fills = [self._execute(po, m, p, q, _TAKER, now) for p, q in pieces]
        if po.type is OrderType.MARKET or po.tif in _IMMEDIATE:
            self._finish_immediate(
                po,
                now,
                f"{po.tif.value if po.type is OrderType.LIMIT else 'market'} order filled "
                f"{po.filled} of {po.amount} from the {source} (liquidity, limit price and free "
                "balance allowing); the rest expired",
            )
        return fills

    def _candle_taker(
        self, po: _PaperOrder, m: _Market, candle: Candle, room: Decimal, at: Decimal
    ) -> tuple[Decimal, Decimal]:
        """(price, amount) of a taker fill on `candle` from price `at`, within `room` volume.

        The amount is what free quote can pay (market buys) and 0 when the price would be
        beyond a limit order's own price, or when a FOK order cannot fill whole.
        """
        inst, cfg, step, buy = m.inst, self.config, m.inst.amount_step, po.is_buy
        qty = min(po.remaining, quantize_down(room, step))
        price = ZERO
        if qty > 0:
            price = candle_taker_price(candle, buy, qty, cfg, inst.price_tick, at=at)
            if buy and not po.lock_asset:
                free = self._balances.free(inst.quote)
                afford = quantize_down(free / (price * (ONE + inst.taker_fee)), step)
                if afford < qty:
                    qty = afford
                    if qty > 0:
                        # Less participation, less impact: the price only improves.
                        price = candle_taker_price(candle, buy, qty, cfg, inst.price_tick, at=at)
            if po.price is not None and (price > po.price if buy else price < po.price):
                qty = ZERO  # the market is beyond the limit: it rests instead
        if po.tif is TimeInForce.FOK and qty < po.remaining:
            qty = ZERO
        return price, qty

    def _fill_in_candle(self, po: _PaperOrder, m: _Market, candle: Candle, now: int) -> list[Fill]:
        """Fill a taker at once at `candle`'s close moved against us, within its volume cap."""
        po.taker_pending = False
        room = candle.volume * self.config.max_participation - m.candle_used
        price, qty = self._candle_taker(po, m, candle, room, candle.close)
        fills: list[Fill] = []
        if qty > 0:
            fills.append(self._execute(po, m, price, qty, _TAKER, now))
            m.candle_used += qty
        if po.type is OrderType.MARKET or po.tif in _IMMEDIATE:
            self._finish_immediate(
                po, now,
                f"filled {po.filled} of {po.amount} in the candle it was placed on "
                f"(at most {self.config.max_participation} of its volume {candle.volume}); "
                "the rest expired",
            )  # fmt: skip
        return fills

    def _match_candle(self, m: _Market, candle: Candle) -> None:
        low, high, ts = candle.low, candle.high, candle.ts
        # Only orders this bar can touch: pending takers, and limits it trades through.
        orders = [
            po
            for po in m.working
            if ts > po.after_candle_ts
            and (
                po.taker_pending
                or (po.price is not None and (low < po.price if po.is_buy else high > po.price))
            )
        ]
        if not orders:
            return
        inst = m.inst
        cfg = self.config
        step = inst.amount_step
        cap = candle.volume * cfg.max_participation
        used = ZERO
        fills: list[Fill] = []
        touched: list[_PaperOrder] = []
        for po in orders:
            if not po.taker_pending:
                continue
            touched.append(po)
            po.taker_pending = False
            price, qty = self._candle_taker(po, m, candle, cap - used, candle.open)
            if qty > 0:
                fills.append(self._execute(po, m, price, qty, _TAKER, candle.ts))
                used += qty
            if po.type is OrderType.MARKET or po.tif in _IMMEDIATE:
                self._finish_immediate(
                    po, candle.close_ts,
                    f"filled {po.filled} of {po.amount} on the next candle "
                    f"(at most {cfg.max_participation} of its volume {candle.volume}); "
                    "the rest expired",
                )  # fmt: skip
        for po in orders:
            if po.taker_pending or po.status.is_terminal or po.price is None:
                continue
            if not (candle.low < po.price if po.is_buy else candle.high > po.price):
                continue
            qty = min(po.remaining, quantize_down(cap - used, step))
            if qty <= 0:
                break
            fills.append(self._execute(po, m, po.price, qty, _MAKER, candle.close_ts))
            used += qty
            if po not in touched:
                touched.append(po)
        self._settle(m, fills, touched)

    def _match_trade(self, m: _Market, trade: TradeTick) -> None:
        step = m.inst.amount_step
        used = ZERO
        fills: list[Fill] = []
        touched: list[_PaperOrder] = []
        for po in list(m.working):
            if po.taker_pending or po.price is None:
                continue
            if not (trade.price < po.price if po.is_buy else trade.price > po.price):
                continue
            qty = min(po.remaining, quantize_down(trade.amount - used, step))
            if qty <= 0:
                break
            fills.append(self._execute(po, m, po.price, qty, _MAKER, trade.ts))
            used += qty
            touched.append(po)
        self._settle(m, fills, touched)

    def _match_levels(
        self,
        m: _Market,
        bids: list[tuple[Decimal, Decimal]],
        asks: list[tuple[Decimal, Decimal]],
        ts: int,
        is_quote: bool,
    ) -> None:
        step = m.inst.amount_step
        fills: list[Fill] = []
        touched: list[_PaperOrder] = []
        for po in list(m.working):
            if po.taker_pending or po.price is None:
                continue
            buy = po.is_buy
            if is_quote:
                taken = m.quote_ask_taken if buy else m.quote_bid_taken
            else:
                taken = m.book_asks_taken if buy else m.book_bids_taken
            pieces = walk_levels(
                asks if buy else bids, taken, po.remaining, step,
                buy=buy, limit=po.price, inclusive=False,
            )  # fmt: skip
            if not pieces:
                continue
            take(taken, pieces)
            qty = sum((q for _, q in pieces), ZERO)
            fills.append(self._execute(po, m, po.price, qty, _MAKER, ts))
            touched.append(po)
        self._settle(m, fills, touched)

    def _settle(self, m: _Market, fills: list[Fill], touched: list[_PaperOrder]) -> None:
        if not touched:
            return
        for po in touched:
            if po.status.is_terminal and po in m.working:
                m.working.remove(po)
        self._push(fills, touched, bool(fills) or any(po.status.is_terminal for po in touched))

    # listener ----------------------------------------------------------------------------------
    def _push(self, fills: Iterable[Fill], reports: list[_PaperOrder], balances: bool) -> None:
        listener = self._listener
        if listener is None:
            return
        for fill in fills:
            listener.on_fill(fill)
        for po in reports:
            listener.on_order_report(self._report(po))
        if balances:
            listener.on_balances(self.name, self._balance_copies())

    def _report(self, po: _PaperOrder) -> OrderReport:
        return OrderReport(
            venue=self.name,
            symbol=po.symbol,
            client_order_id=po.client_order_id,
            venue_order_id=po.venue_order_id,
            status=po.status,
            filled=po.filled,
            avg_price=po.cost / po.filled if po.filled else ZERO,
            amount=po.amount,
            reason=po.reason,
            ts=po.updated_ts,
            side=po.side.value,
            price=po.price,
        )
