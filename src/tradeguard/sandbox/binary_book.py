"""A matching engine for binary markets: one YES book where NO orders sit as their complement.

A buy of YES at p and a sell of NO at 1 - p are the same YES bid; a buy of NO at q is a YES ask
at 1 - q. So a YES buyer meets a YES seller (transfer), a NO buyer (mint) and a NO seller meets a
YES seller (merge) in one price-time queue. Funds are the server's business; this only matches.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from tradeguard.model.money import ONE, ZERO
from tradeguard.model.outcome import Outcome

GTC, IOC, FOK = "GTC", "IOC", "FOK"


class BookReject(Exception):
    """The engine refused an order (post-only would cross, fill-or-kill cannot fill)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(slots=True)
class BinaryOrder:
    order_id: str
    account: str
    market: str
    outcome: Outcome
    buy: bool
    price: Decimal  # in the order's own outcome
    size: Decimal
    tif: str = GTC
    post_only: bool = False
    client_id: str = ""
    ts: int = 0
    filled: Decimal = ZERO
    status: str = "resting"  # resting | executed | canceled
    cost: Decimal = ZERO  # cash paid (buys) or received (sells), fees excluded
    fee: Decimal = ZERO
    seq: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def remaining(self) -> Decimal:
        return self.size - self.filled

    @property
    def yes_bid(self) -> bool:
        return self.buy == (self.outcome is Outcome.YES)

    @property
    def yes_price(self) -> Decimal:
        return self.price if self.outcome is Outcome.YES else ONE - self.price

    def own_price(self, yes_price: Decimal) -> Decimal:
        return yes_price if self.outcome is Outcome.YES else ONE - yes_price


@dataclass(frozen=True, slots=True)
class Trade:
    trade_id: str
    market: str
    maker: BinaryOrder
    taker: BinaryOrder
    size: Decimal
    yes_price: Decimal
    ts: int


class BinaryBook:
    """Every binary market's YES book; orders by id."""

    def __init__(self) -> None:
        self._bids: dict[str, list[BinaryOrder]] = {}
        self._asks: dict[str, list[BinaryOrder]] = {}
        self.orders: dict[str, BinaryOrder] = {}
        self._seq = itertools.count(1)
        self._trade_seq = itertools.count(1)
        # called with a market's name whenever its book changed (the servers' book streams)
        self.listeners: list[Callable[[str], None]] = []
        # self-trade prevention: a taker stops at its own account's resting order (False: the
        # two match, as on a venue that lets them, e.g. to test parsing a match of two of ours)
        self.prevent_self_trade = True

    def add_market(self, market: str) -> None:
        self._bids.setdefault(market, [])
        self._asks.setdefault(market, [])

    def has_market(self, market: str) -> bool:
        return market in self._bids

    def levels(
        self, market: str
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Aggregated YES (bids best first, asks best first) as (price, size)."""
        return _aggregate(self._bids[market]), _aggregate(self._asks[market])

    def resting(self, market: str) -> list[BinaryOrder]:
        return [*self._bids[market], *self._asks[market]]

    def _own(self, taker: BinaryOrder, maker: BinaryOrder) -> bool:
        """Whether self-trade prevention keeps `taker` from `maker` (both one account's)."""
        return self.prevent_self_trade and maker.account == taker.account

    def submit(self, order: BinaryOrder) -> list[Trade]:
        """Match `order` and rest what the time in force allows; BookReject leaves no trace."""
        opposite = self._asks[order.market] if order.yes_bid else self._bids[order.market]
        crossing = [o for o in opposite if _crosses(order, o)]
        if order.post_only and crossing:
            raise BookReject("POST_ONLY_CROSS", f"post-only order at {order.price} would cross")
        if order.tif == FOK:
            available = sum((o.remaining for o in crossing if not self._own(order, o)), ZERO)
            if available < order.size:
                raise BookReject(
                    "FOK_UNFILLABLE", f"fill-or-kill for {order.size} finds only {available}"
                )
        order.seq = next(self._seq)
        self.orders[order.order_id] = order
        trades: list[Trade] = []
        for maker in crossing:
            if order.remaining <= 0:
                break
            if self._own(order, maker):
                order.status = "canceled"  # self-trade prevention: the taker stops at the cross
                break
            size = min(order.remaining, maker.remaining)
            trades.append(self._fill(order, maker, size))
        if order.remaining > 0 and order.status == "resting":
            if order.tif == GTC:
                self._rest(order)
            else:
                order.status = "canceled"
        elif order.remaining <= 0:
            order.status = "executed"
        if trades or order.status == "resting":
            self._changed(order.market)
        return trades

    def cancel(self, order_id: str) -> BinaryOrder | None:
        """Cancel a resting order; None when it is unknown or already done."""
        order = self.orders.get(order_id)
        if order is None or order.status != "resting":
            return None
        queue = self._bids[order.market] if order.yes_bid else self._asks[order.market]
        queue.remove(order)
        order.status = "canceled"
        self._changed(order.market)
        return order

    def _changed(self, market: str) -> None:
        for listener in self.listeners:
            listener(market)

    def _fill(self, taker: BinaryOrder, maker: BinaryOrder, size: Decimal) -> Trade:
        yes_price = maker.yes_price
        for o in (taker, maker):
            o.filled += size
            o.cost += size * o.own_price(yes_price)
        if maker.remaining <= 0:
            maker.status = "executed"
            queue = self._asks[maker.market] if taker.yes_bid else self._bids[maker.market]
            queue.remove(maker)
        return Trade(
            f"t{next(self._trade_seq)}", taker.market, maker, taker, size, yes_price, taker.ts
        )

    def _rest(self, order: BinaryOrder) -> None:
        if order.yes_bid:
            queue = self._bids[order.market]
            queue.append(order)
            queue.sort(key=lambda o: (-o.yes_price, o.seq))
        else:
            queue = self._asks[order.market]
            queue.append(order)
            queue.sort(key=lambda o: (o.yes_price, o.seq))


def _crosses(taker: BinaryOrder, maker: BinaryOrder) -> bool:
    if taker.yes_bid:
        return maker.yes_price <= taker.yes_price
    return maker.yes_price >= taker.yes_price


def _aggregate(queue: list[BinaryOrder]) -> list[tuple[Decimal, Decimal]]:
    out: list[tuple[Decimal, Decimal]] = []
    for o in queue:
        if out and out[-1][0] == o.yes_price:
            out[-1] = (o.yes_price, out[-1][1] + o.remaining)
        else:
            out.append((o.yes_price, o.remaining))
    return out
