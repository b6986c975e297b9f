"""The paper venue's state: its working orders, its per-symbol market data and the book view."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from tradeguard.model.enums import LiquiditySide, OrderStatus, OrderType, Side, TimeInForce
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Candle, Quote, TradeTick
from tradeguard.model.money import ZERO

MAKER = LiquiditySide.MAKER
TAKER = LiquiditySide.TAKER
BUY = Side.BUY
IMMEDIATE = (TimeInForce.IOC, TimeInForce.FOK)


class BookView(Protocol):
    """The part of `tradeguard.marketdata.book.OrderBook` the paper venue reads."""

    symbol: str
    ts: int

    def bids(self, depth: int | None = None) -> list[tuple[Decimal, Decimal]]: ...

    def asks(self, depth: int | None = None) -> list[tuple[Decimal, Decimal]]: ...

    def mid(self) -> Decimal | None: ...


def counter_of(venue_id: str, prefix: str) -> int | None:
    tail = venue_id[len(prefix) :] if venue_id.startswith(prefix) else ""
    return int(tail) if tail.isdigit() else None


def crosses_close(po: PaperOrder, close: Decimal) -> bool:
    """Tell whether a limit order crosses the last close (it then takes on the next candle)."""
    if po.price is None:
        return False
    return po.price >= close if po.is_buy else po.price <= close


def is_crossed(book: BookView) -> bool:
    """Tell whether a book is crossed mid-update; matching against it would invent prices."""
    bid, ask = book.bids(1), book.asks(1)
    return bool(bid and ask and bid[0][0] >= ask[0][0])


def quote_crossed(quote: Quote) -> bool:
    """Tell whether a quote shows a bid at or above its ask (both sides with size)."""
    return quote.bid_size > ZERO and quote.ask_size > ZERO and quote.bid >= quote.ask


@dataclass(slots=True)
class PaperOrder:
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
    trigger_price: Decimal | None = None  # waiting stop / take-profit (venues.paper_stops)
    oco_group: str = ""
    # a market order's protective price bound (the risk engine's slippage cap): never beyond it
    bound: Decimal | None = None
    strategy_id: str = ""  # whose position a reduce-only order reduces

    @property
    def worst_price(self) -> Decimal | None:
        """The worst price the order may fill at: its limit, else its bound, else None."""
        return self.price if self.price is not None else self.bound

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled

    @property
    def is_buy(self) -> bool:
        return self.side is BUY


@dataclass(slots=True)
class PaperMarket:
    """Per-symbol state: the latest data, the liquidity we took, and the working orders."""

    inst: Instrument
    working: list[PaperOrder] = field(default_factory=list)
    candle: Candle | None = None
    quote: Quote | None = None
    trade: TradeTick | None = None
    book: BookView | None = None
    book_bids_taken: dict[Decimal, Decimal] = field(default_factory=dict)
    book_asks_taken: dict[Decimal, Decimal] = field(default_factory=dict)
    quote_bid_taken: dict[Decimal, Decimal] = field(default_factory=dict)
    quote_ask_taken: dict[Decimal, Decimal] = field(default_factory=dict)
    position: Decimal = ZERO
    # the net traded amount by strategy; "" what of `position` no strategy is known for
    # (restored as a net): a reduce-only order reduces its strategy's and that
    held: dict[str, Decimal] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    candle_used: Decimal = ZERO  # taken from the current candle's volume by in-candle fills
    stops: list[PaperOrder] = field(default_factory=list)  # trigger orders not yet triggered


def own_position(m: PaperMarket, strategy_id: str) -> Decimal:
    """The position a reduce-only order of `strategy_id` reduces on `m`: its strategy's net
    traded amount, and what of the net no strategy is known for; not another strategy's."""
    held = m.held
    own = held.get(strategy_id, ZERO)
    return own + held.get("", ZERO) if strategy_id else own


def book_traded(m: PaperMarket, strategy_id: str, signed: Decimal) -> None:
    """Add a fill's signed base amount to the market's net position and its strategy's."""
    m.position += signed
    m.held[strategy_id] = m.held.get(strategy_id, ZERO) + signed
