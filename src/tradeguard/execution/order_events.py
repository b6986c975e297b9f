"""What the order manager publishes: the event kind of each order status and the event data."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN

from tradeguard.model.enums import OrderStatus
from tradeguard.model.events import EventData, EventKind
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO, plain
from tradeguard.model.order import Order
from tradeguard.model.position import PCT_STEP, ClosedTrade, Position
from tradeguard.model.signal_keys import SETTLEMENT_ID_PREFIX, booked_id

STATUS_EVENT = {
    OrderStatus.ACCEPTED: EventKind.ORDER_ACCEPTED,
    OrderStatus.PARTIALLY_FILLED: EventKind.ORDER_PARTIALLY_FILLED,
    OrderStatus.FILLED: EventKind.ORDER_FILLED,
    OrderStatus.CANCELLED: EventKind.ORDER_CANCELLED,
    OrderStatus.REJECTED: EventKind.ORDER_REJECTED,
    OrderStatus.EXPIRED: EventKind.ORDER_EXPIRED,
}


# the text of `ZERO`, the shared default of an order's `filled` and `avg_price` until its first
# fill: an order's submitted and accepted events read it without a conversion
_ZERO_TEXT = plain(ZERO)


# `member._value_` is `member.value` without the enum property (a Python call, ~0.1 µs): these
# run several times per order.
def order_data(o: Order) -> EventData:
    filled, avg = o.filled, o.avg_price
    return EventData(
        {
            "client_order_id": o.client_order_id,
            "venue_order_id": o.venue_order_id,
            "side": o.side._value_,
            "type": o.type._value_,
            "amount": plain(o.amount),
            "price": plain(o.price) if o.price is not None else None,
            "status": o.status._value_,
            "filled": _ZERO_TEXT if filled is ZERO else plain(filled),
            "avg_price": _ZERO_TEXT if avg is ZERO else plain(avg),
            "reason": o.reason,
            "signal": o.signal,
        }
    )


def fill_data(f: Fill) -> EventData:
    return EventData(
        {
            "client_order_id": f.client_order_id,
            "trade_id": f.trade_id,
            "side": f.side._value_,
            "price": plain(f.price),
            "amount": plain(f.amount),
            "fee": plain(f.fee),
            "fee_asset": f.fee_asset,
            "liquidity": f.liquidity._value_,
        }
    )


def position_data(p: Position) -> EventData:
    return EventData(
        {
            "side": "long" if p.quantity > 0 else "short",
            "quantity": plain(p.quantity),
            "entry_price": plain(p.avg_entry),
            "stop_loss": plain(p.stop_loss) if p.stop_loss is not None else None,
            "take_profit": plain(p.take_profit) if p.take_profit is not None else None,
        }
    )


def closed_data(t: ClosedTrade) -> EventData:
    return EventData(
        {
            "side": "long" if t.side._value_ == "buy" else "short",
            "amount": plain(t.amount),
            "entry_price": plain(t.entry_price),
            "exit_price": plain(t.exit_price),
            "pnl": plain(t.pnl),
            "pnl_pct": plain(t.pnl_pct.quantize(PCT_STEP, ROUND_HALF_EVEN)),
        }
    )


def is_settlement(order: Order) -> bool:
    """Tell whether `order` is one the node made up to book a market's resolution
    (`settlement.apply_settlement`): no venue knows it, and only a settlement pass fills it.
    Its id tells, not its signal alone: a signal's keys are a caller's (an API order, a bot's
    signal) and a sent order carrying "settlement" is still the venue's to answer for."""
    return "settlement" in order.signal and booked_id(order.client_order_id, SETTLEMENT_ID_PREFIX)
