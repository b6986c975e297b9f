"""What a start finds left past flat by a strategy's exits: walked back through the position's
fills to where it was last not past flat, less what closes already on their way cover."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from tradeguard.model.enums import LiquiditySide, OrderStatus, OrderType, Side
from tradeguard.model.fill import Fill
from tradeguard.model.order import Order
from tradeguard.node.exit_overshoot import unclosed

D = Decimal
KEY = ("v", "BTC/USDT", "s")


class Journal:
    """The two reads `unclosed` makes of the journal, over in-memory fills and orders."""

    def __init__(self, fills: list[Fill], orders: dict[str, Order]) -> None:
        self.fills, self.orders = fills, orders

    def load_fills(self, *, limit: int, offset: int, newest_first: bool, **_: Any) -> list[Fill]:
        assert newest_first
        return list(reversed(self.fills))[offset : offset + limit]

    def get_order(self, cid: str) -> Order | None:
        return self.orders.get(cid)


def node_with(trades: list[tuple[str, str, str, bool]], working: list[Order]) -> Any:
    """A node whose strategy made `trades` (order id, side, amount, reduce_only), oldest first."""
    fills, orders, qty = [], {}, D(0)
    for n, (cid, side, amount, reduce_only) in enumerate(trades):
        s = Side(side)
        orders[cid] = Order(cid, "s", "v", "BTC/USDT", s, OrderType.MARKET, D(amount),
                            reduce_only=reduce_only)  # fmt: skip
        fills.append(Fill("v", "BTC/USDT", cid, "", f"t{n}", s, D(100), D(amount), D(0), "USDT",
                          LiquiditySide.TAKER, n))  # fmt: skip
        qty += D(amount) if s is Side.BUY else -D(amount)
    return SimpleNamespace(
        portfolio=SimpleNamespace(positions={KEY: SimpleNamespace(quantity=qty)}),
        storage=Journal(fills, orders),
        orders=SimpleNamespace(orders={}, open={o.client_order_id: o for o in working}),
    )


def buyback(amount: str) -> Order:
    o = Order("back", "s", "v", "BTC/USDT", Side.BUY, OrderType.MARKET, D(amount),
              signal={"exit": "overshoot"})  # fmt: skip
    o.status = OrderStatus.ACCEPTED
    return o


@pytest.mark.parametrize(
    ("trades", "working", "due", "exits"),
    [
        # the take-profit sold it all, the stop sold it again
        ([("in", "buy", "1", False), ("tp", "sell", "1", True), ("sl", "sell", "1", True)],
         [], "1", ["sl"]),
        # a close bought part back before the node stopped
        ([("in", "buy", "1", False), ("tp", "sell", "1", True), ("sl", "sell", "1", True),
          ("back", "buy", "0.4", False)], [], "0.6", ["sl"]),
        # a close is still working: nothing more to send
        ([("in", "buy", "1", False), ("tp", "sell", "1", True), ("sl", "sell", "1", True)],
         [buyback("1")], "0", ["sl"]),
        # coins held before, sold by an order that is no exit: no overshoot
        ([("in", "buy", "1", False), ("out", "sell", "1.5", False)], [], "0", []),
        # an exit went 0.5 past flat, then a sale of held coins went further: the exit's 0.5
        ([("in", "buy", "1", False), ("sl", "sell", "1.5", True), ("out", "sell", "0.2", False)],
         [], "0.5", ["sl"]),
        # an older overshoot, closed since, then a new long: nothing past flat
        ([("in", "buy", "1", False), ("sl", "sell", "2", True), ("back", "buy", "1", False),
          ("in2", "buy", "1", False)], [], "0", []),
        # a short closed by a buy exit that bought too much
        ([("in", "sell", "1", False), ("tp", "buy", "1.3", True)], [], "0.3", ["tp"]),
    ],
)  # fmt: skip
def test_a_start_finds_what_exits_left_past_flat(trades, working, due, exits):
    assert unclosed(node_with(trades, working), KEY) == (D(due), exits)


@pytest.mark.parametrize(
    "left_to_venue",
    [{"oco_group": "list-1"}, {"signal": {"native": True}}],
)
def test_a_start_leaves_venue_oco_legs_and_bots_venue_exits_alone_like_the_running_node(
    left_to_venue,
):
    # The running node checks no fill of a venue OCO leg or a bot's venue exit for an
    # overshoot (the venue and the bots' exit manager hold those): a start counted them and
    # bought back what the running node had left alone.
    node = node_with(
        [("in", "buy", "1", False), ("tp", "sell", "1", True), ("sl", "sell", "1", True)], []
    )
    for cid in ("tp", "sl"):
        order = node.storage.orders[cid]
        for field, value in left_to_venue.items():
            setattr(order, field, value)
    assert unclosed(node, KEY) == (D(0), [])
