"""Stop and take-profit orders waiting for their trigger, and OCO order lists.

Binance semantics: a `STOP_LOSS[_LIMIT]` sell (or `TAKE_PROFIT[_LIMIT]` buy) triggers when the
last trade price falls to its stop price or below; a `STOP_LOSS[_LIMIT]` buy (or
`TAKE_PROFIT[_LIMIT]` sell) when it rises to it or above. A triggered order keeps its id and
matches as a market (`STOP_LOSS`, `TAKE_PROFIT`) or limit (`*_LIMIT`) order. In an OCO, a fill
of one leg or the trigger of its stop leg cancels the other leg, and cancelling one leg
cancels the list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.sandbox.orders import (
    BUY,
    CANCELED,
    LIMIT_MAKER,
    SELL,
    STOP_LOSS,
    STOP_LOSS_LIMIT,
    TAKE_PROFIT,
    TAKE_PROFIT_LIMIT,
    TRIGGERED_KIND,
    EngineOrder,
    EngineReject,
    Result,
)

if TYPE_CHECKING:
    from tradeguard.sandbox.matching import MatchingEngine

_MAX_ROUNDS = 50  # a trigger's trades may trigger more stops; the chain is bounded
_STOPS = frozenset({STOP_LOSS, STOP_LOSS_LIMIT})
_TAKES = frozenset({LIMIT_MAKER, TAKE_PROFIT, TAKE_PROFIT_LIMIT})


def crossed(type_: str, side: str, stop_price: Decimal, last: Decimal) -> bool:
    """Whether a trade at `last` triggers a stop order of this type and side."""
    falls = (type_ in _STOPS) == (side == SELL)
    return last <= stop_price if falls else last >= stop_price


def check_trigger(type_: str, side: str, stop_price: Decimal, last: Decimal | None) -> None:
    """Refuse a stop order that the current price would trigger at once."""
    if last is not None and crossed(type_, side, stop_price, last):
        raise EngineReject(-2010, "Stop price would trigger immediately.")


@dataclass(frozen=True, slots=True)
class Leg:
    """One order of an OCO: its type, limit price, stop price, time in force, client id."""

    type: str
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: str = "GTC"
    client_order_id: str = ""


@dataclass(slots=True)
class OrderList:
    """An OCO: two orders of one account and symbol, one cancels the other."""

    list_id: int
    client_id: str
    account_id: str
    symbol: str
    created_ms: int
    order_ids: list[int] = field(default_factory=list)


class ContingentOrders:
    """Pending stop orders per symbol and the order lists they belong to."""

    def __init__(self, engine: MatchingEngine) -> None:
        self.engine = engine
        self.pending: dict[str, list[EngineOrder]] = {}
        self.lists: dict[int, OrderList] = {}

    def hold(self, order: EngineOrder) -> None:
        """Keep a stop order until its trigger."""
        self.pending.setdefault(order.symbol, []).append(order)

    def remove(self, order: EngineOrder) -> None:
        """Forget a stop order (cancelled, expired or triggered)."""
        waiting = self.pending.get(order.symbol, [])
        if order in waiting:
            waiting.remove(order)

    def trigger(self, symbol: str, now_ms: int) -> Result:
        """Activate every stop order the last trade price has crossed, and what that triggers."""
        result = Result()
        engine = self.engine
        for _ in range(_MAX_ROUNDS):
            trades = engine.trades.get(symbol)
            if not trades:
                break
            last = trades[-1].price
            due = [
                o
                for o in self.pending.get(symbol, [])
                if crossed(o.type, o.side, o.stop_price, last)
            ]
            if not due:
                break
            for order in due:
                if order.is_final or order.triggered:
                    continue
                self.remove(order)
                self.cancel_siblings(order, now_ms, result)
                engine.activate(order, now_ms, result)
        return result

    def cancel_siblings(self, order: EngineOrder, now_ms: int, result: Result) -> None:
        """Cancel the other open orders of `order`'s list."""
        lst = self.lists.get(order.order_list_id)
        if lst is None:
            return
        for oid in lst.order_ids:
            other = self.engine.orders[oid]
            if oid != order.order_id and not other.is_final:
                self.engine.close(other, CANCELED, now_ms, result)

    def list_status(self, list_id: int) -> tuple[str, str]:
        """Binance's (listStatusType, listOrderStatus) of an order list."""
        lst = self.lists[list_id]
        done = all(self.engine.orders[o].is_final for o in lst.order_ids)
        return ("ALL_DONE", "ALL_DONE") if done else ("EXEC_STARTED", "EXECUTING")

    def place_oco(
        self,
        account_id: str,
        symbol: str,
        side: str,
        qty: Decimal,
        above: Leg,
        below: Leg,
        list_client_id: str,
        now_ms: int,
    ) -> tuple[OrderList, Result]:
        """Place an OCO: `below` then `above`, the non-stop leg holding the funds."""
        engine = self.engine
        if side not in (BUY, SELL):
            raise EngineReject(-1100, "Illegal characters found in parameter 'side'.")
        takes, stops = (above, below) if side == SELL else (below, above)
        if takes.type not in _TAKES or stops.type not in _STOPS:
            raise EngineReject(
                -1106,
                f"OCO {side} needs {'above' if side == SELL else 'below'}Type LIMIT_MAKER, "
                "TAKE_PROFIT or TAKE_PROFIT_LIMIT and the other leg STOP_LOSS or STOP_LOSS_LIMIT.",
            )
        hi, lo = _ref(above), _ref(below)
        last = engine.last_price(symbol)
        if hi is None or lo is None or not lo < hi or (last is not None and not lo < last < hi):
            raise EngineReject(
                -2010, "The relationship of the prices for the orders is not correct."
            )
        list_id = len(self.lists) + 1
        holder = below if below.type not in TRIGGERED_KIND else above
        legs = (below, above)
        for validate_only in (True, False):
            placed = []
            for leg in legs:
                placed.append(
                    engine.place(
                        account_id,
                        symbol,
                        side,
                        leg.type,
                        now_ms,
                        qty=qty,
                        price=leg.price,
                        stop_price=leg.stop_price,
                        time_in_force=leg.time_in_force,
                        client_order_id=leg.client_order_id,
                        validate_only=validate_only,
                        order_list_id=list_id,
                        hold_funds=leg is holder,
                    )
                )
        lst = OrderList(list_id, list_client_id or f"list-{list_id}", account_id, symbol, now_ms)
        result = Result()
        for r in placed:
            assert r.order is not None
            lst.order_ids.append(r.order.order_id)
            result.merge(r)
        self.lists[list_id] = lst
        return lst, result


def _ref(leg: Leg) -> Decimal | None:
    return leg.price if leg.type == LIMIT_MAKER else leg.stop_price
