"""Order intents and orders with an explicit state machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradeguard.model.enums import OrderStatus, OrderType, Side, TimeInForce
from tradeguard.model.errors import InvalidOrderTransition
from tradeguard.model.fill import Fill
from tradeguard.model.frozen import quick_init
from tradeguard.model.money import ZERO

S = OrderStatus
# The tag of orders that take a stranded arbitrage asset back: REDUCING lets them through.
ARB_UNWIND_TAG = "arb-unwind"
# Every legal move. A venue may skip states (an IOC order can go SUBMITTED -> FILLED), but
# nothing ever leaves a terminal state and nothing goes backwards.
_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.NEW: frozenset({S.SUBMITTED, S.REJECTED}),
    S.SUBMITTED: frozenset(
        {S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED}
    ),
    S.ACCEPTED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    """Tell whether an order in `current` may move to `target`."""
    return target in _TRANSITIONS[current]


@quick_init
@dataclass(slots=True, frozen=True)
class OrderIntent:
    """What a strategy, scanner, HTTP client or person wants; not yet an order.

    Frozen: once emitted, the intent the risk engine checks is the one the order is made of (a
    strategy holding it cannot change its amount or price on the way). A changed intent is a new
    one: `dataclasses.replace(intent, amount=...)`.
    """

    strategy_id: str
    venue: str
    symbol: str
    side: Side
    amount: Decimal
    type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    signal: dict[str, Any] = field(default_factory=dict)
    tag: str = ""
    trigger_price: Decimal | None = None  # stop / take-profit types only

    def __post_init__(self) -> None:
        # An int is exact: take it as the Decimal it stands for (`amount=1`). A bool is not a
        # number here, and a float stays as given for the risk engine to refuse by name.
        # Each field read directly: an intent is made per order, and a loop of getattr calls
        # over the field names cost more than the checks.
        if type(self.amount) is int:
            _set(self, "amount", Decimal(self.amount))
        if type(self.price) is int:
            _set(self, "price", Decimal(self.price))
        if type(self.stop_loss) is int:
            _set(self, "stop_loss", Decimal(self.stop_loss))
        if type(self.take_profit) is int:
            _set(self, "take_profit", Decimal(self.take_profit))
        if type(self.trigger_price) is int:
            _set(self, "trigger_price", Decimal(self.trigger_price))


_set = object.__setattr__  # a frozen intent's own normalising, in __post_init__ only


@dataclass(slots=True)
class Order:
    """An order as we track it; `status` changes only through `transition` and `apply_fill`."""

    client_order_id: str
    strategy_id: str
    venue: str
    symbol: str
    side: Side
    type: OrderType
    amount: Decimal
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    status: OrderStatus = OrderStatus.NEW
    venue_order_id: str = ""
    filled: Decimal = ZERO
    avg_price: Decimal = ZERO
    fee: Decimal = ZERO
    created_ts: int = 0
    updated_ts: int = 0
    reason: str = ""
    price_bound: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    signal: dict[str, Any] = field(default_factory=dict)
    trade_ids: set[str] = field(default_factory=set)
    trigger_price: Decimal | None = None
    oco_group: str = ""  # the two legs of an OCO share it (the venue's list client id)

    @classmethod
    def from_intent(cls, intent: OrderIntent, client_order_id: str, ts: int) -> Order:
        # positional (the fields' order; the defaults of those between): once an order, the
        # matching of a dozen keywords to their fields costs more than the rest of the call
        return cls(
            client_order_id, intent.strategy_id, intent.venue, intent.symbol, intent.side,
            intent.type, intent.amount, intent.price, intent.time_in_force, intent.reduce_only,
            OrderStatus.NEW, "", ZERO, ZERO, ZERO, ts, ts, "", None, intent.stop_loss,
            intent.take_profit, dict(intent.signal), trigger_price=intent.trigger_price,
        )  # fmt: skip

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    def transition(self, target: OrderStatus, ts: int = 0, reason: str = "") -> None:
        """Move to `target`, or raise InvalidOrderTransition naming both states."""
        if target not in _TRANSITIONS[self.status]:
            raise InvalidOrderTransition(
                f"order {self.client_order_id}: illegal transition "
                f"{self.status.value} -> {target.value}"
            )
        self.status = target
        if ts:
            self.updated_ts = ts
        if reason:
            self.reason = reason

    def apply_fill(self, fill: Fill) -> bool:
        """Apply an execution once; return False if this trade id was already applied."""
        if fill.trade_id in self.trade_ids:
            return False
        if fill.amount <= ZERO:
            raise InvalidOrderTransition(
                f"order {self.client_order_id}: fill {fill.trade_id} has amount {fill.amount}"
            )
        new_filled = self.filled + fill.amount
        if new_filled > self.amount:
            raise InvalidOrderTransition(
                f"order {self.client_order_id}: fill {fill.trade_id} would fill {new_filled} "
                f"of {self.amount}"
            )
        target = OrderStatus.FILLED if new_filled == self.amount else OrderStatus.PARTIALLY_FILLED
        self.transition(target, fill.ts)
        self.avg_price = (self.avg_price * self.filled + fill.price * fill.amount) / new_filled
        self.filled = new_filled
        self.fee += fill.fee
        self.trade_ids.add(fill.trade_id)
        return True


def rests(order: Order) -> bool:
    """Tell whether an order waits on the book (a GTC limit or trigger) rather than trading now."""
    return order.type is not OrderType.MARKET and order.time_in_force is TimeInForce.GTC
